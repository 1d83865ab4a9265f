import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { QueryScopeError, scopeQuery } from "./promql-scope.ts";

const SCOPE = { label: "namespace", namespace: "attacker" };
const scoped = (q: string) => scopeQuery(q, SCOPE);
const NS = 'namespace="attacker"';

/** Every selector-shaped `{...}` group of a rewritten query (outside strings) must carry our matcher. */
function selectorsOf(q: string): string[] {
  return [...q.matchAll(/\{[^{}]*\}/g)].map((m) => m[0]);
}

describe("scopeQuery", () => {
  it("adds the namespace to bare names, selectors, ranges, subqueries and both sides of operators", () => {
    assert.equal(scoped("up"), `up{${NS}}`);
    assert.equal(scoped('up{job="x"}'), `up{job="x", ${NS}}`);
    assert.equal(scoped("up{}"), `up{${NS}}`);
    assert.equal(scoped("rate(http_requests_total[5m])"), `rate(http_requests_total{${NS}}[5m])`);
    assert.equal(scoped("max_over_time(rate(x[1m])[10m:30s])"), `max_over_time(rate(x{${NS}}[1m])[10m:30s])`);
    assert.equal(scoped("a / on() group_left b"), `a{${NS}} / on() group_left b{${NS}}`);
    assert.equal(scoped("x offset 5m @ start()"), `x{${NS}} offset 5m @ start()`);
    assert.equal(scoped("sum by (namespace) (x)"), `sum by (namespace) (x{${NS}})`);
  });

  it("confines the hostile queries of the issue", () => {
    const cases: [string, string][] = [
      ['{__name__=~".+"}', `{__name__=~".+", ${NS}}`],
      ["up or on() vector(1)", `up{${NS}} or on() vector(1)`],
      ["sum(x) or on() sum(y)", `sum(x{${NS}}) or on() sum(y{${NS}})`],
      [
        'label_replace(up, "namespace", "victim", "", "")',
        `label_replace(up{${NS}}, "namespace", "victim", "", "")`,
      ],
      ["x offset -1h", `x{${NS}} offset -1h`],
      ["sum(avg by (pod) (max without (a) (x)))", `sum(avg by (pod) (max without (a) (x{${NS}})))`],
      ['x{a="}{namespace=\\"victim\\"}"}', `x{a="}{namespace=\\"victim\\"}", ${NS}}`],
      ["x{a='}'} + y", `x{a='}', ${NS}} + y{${NS}}`],
      ['{"my.metric", "a.b"="c"}', `{"my.metric", "a.b"="c", ${NS}}`],
      ['info(up, {k8s_cluster=~".+"})', `info(up{${NS}}, {k8s_cluster=~".+", ${NS}})`],
      ["rate", `rate{${NS}}`],
      ['x # {namespace="victim"}\n+ y', `x{${NS}} \n+ y{${NS}}`],
    ];
    for (const [q, want] of cases) assert.equal(scoped(q), want, q);
  });

  it("keeps an exact matcher of the own namespace, refuses every other namespace matcher", () => {
    assert.equal(scoped('x{namespace="attacker"}'), `x{${NS}}`);
    assert.equal(scoped("x{namespace=`attacker`}"), `x{${NS}}`);
    assert.equal(scoped('x{"namespace"="attacker", a="b"}'), `x{a="b", ${NS}}`);
    for (const q of [
      'sum(x{namespace="victim"})',
      'x{namespace=~"attacker|victim"}',
      'x{namespace!="attacker"}',
      'x{namespace=~".+"}',
      'x{"namespace"="victim"}',
      'x{namespace="att\\x61cker"}',
      'x{namespace="attacker", namespace="victim"}',
      'up + on() x{namespace="victim"}',
    ]) {
      assert.throws(() => scoped(q), QueryScopeError, q);
    }
    assert.throws(() => scoped('x{namespace="victim"}'), /has its own namespace matcher namespace="victim"/);
  });

  it("refuses what does not parse instead of guessing", () => {
    for (const q of ["sum(x{", "x{a=}", "offset", "", "   ", "x[5m", 'x{a="b"', "sum(x) by", "1 +"]) {
      assert.throws(() => scoped(q), /not valid PromQL/, JSON.stringify(q));
    }
  });

  it("uses the configured label", () => {
    assert.equal(
      scopeQuery('x{kubernetes_namespace="a"}', { label: "kubernetes_namespace", namespace: "a" }),
      'x{kubernetes_namespace="a"}',
    );
    assert.equal(scopeQuery('x{namespace="b"}', { label: "ns", namespace: "a" }), 'x{namespace="b", ns="a"}');
  });

  it("property: every selector of a rewritten query carries exactly the namespace matcher", () => {
    const name = fc.constantFrom("up", "x", "http_requests_total", "rate", "sum", "on", "bool_total");
    const matcher = fc
      .tuple(
        fc.constantFrom("job", "pod", "__name__", "a_b"),
        fc.constantFrom("=", "!=", "=~", "!~"),
        fc.string({ maxLength: 6 }).map((v) => JSON.stringify(v)),
      )
      .map(([l, op, v]) => `${l}${op}${v}`);
    const selector = fc.oneof(
      name,
      fc.tuple(name, fc.array(matcher, { maxLength: 3 })).map(([n, ms]) => `${n}{${ms.join(", ")}}`),
      fc.array(matcher, { minLength: 1, maxLength: 3 }).map((ms) => `{${ms.join(",")}}`),
    );
    const expr: fc.Memo<string> = fc.memo((depth) =>
      depth <= 1
        ? selector
        : fc.oneof(
            selector,
            fc
              .tuple(
                expr(depth - 1),
                fc.constantFrom("+", " or on() ", " and ", " / ignoring(a) ", " unless "),
              )
              .map(([e, op]) => `${e}${op}vector(1)`),
            fc
              .tuple(
                expr(depth - 1),
                expr(depth - 1),
                fc.constantFrom(" + ", " or ", " * on(pod) group_left "),
              )
              .map(([a, b, op]) => `(${a})${op}(${b})`),
            selector.map((s) => `rate(${s}[5m])`),
            selector.map((s) => `max_over_time(${s}[10m:1m] offset 1h)`),
            expr(depth - 1).map((e) => `sum by (pod) (${e})`),
            expr(depth - 1).map((e) => `label_replace(${e}, "namespace", "victim", "", "")`),
            expr(depth - 1).map((e) => `topk(3, ${e})`),
          ),
    );
    fc.assert(
      fc.property(expr(4), (q) => {
        let out: string;
        try {
          out = scoped(q);
        } catch (err) {
          // Refusing is always safe; only a parse failure of a generated (valid) query would be a bug here.
          assert.ok(err instanceof QueryScopeError);
          assert.doesNotMatch((err as Error).message, /rewritten/, q);
          return;
        }
        const groups = selectorsOf(out.replace(/"(?:[^"\\]|\\.)*"/g, '""'));
        const stripped = out.replace(/"(?:[^"\\]|\\.)*"/g, '""');
        assert.ok(groups.length >= 1, out);
        for (const g of selectorsOf(stripped)) {
          assert.equal((g.match(/namespace=/g) ?? []).length, 1, `${q} → ${out}`);
        }
        // Idempotent: scoping a scoped query changes nothing more.
        assert.equal(scoped(out), out);
      }),
      { numRuns: 300 },
    );
  });
});
