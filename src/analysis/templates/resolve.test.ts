import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GROUP, type TemplateGroup, type TemplateKind } from "../../api/constants.ts";
import { type RolloutSpec, RolloutSpecSchema } from "../../api/rollout-schema.ts";
import type { AnalysisTemplateObject } from "../../api/template-schema.ts";
import { resolveTemplates, type TemplateLookup } from "./resolve.ts";

const NS = "shop";

const rollout = (analysis: Record<string, unknown>): RolloutSpec =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "smi",
    strategy: { canary: { stepWeight: 10 } },
    analysis,
  });

const ERROR_RATE = {
  args: [
    { name: "codes", default: "5.." },
    { name: "max", type: "number" },
  ],
  metrics: [
    {
      name: "error-rate",
      query:
        'sum(rate(http_requests_total{namespace="{{ namespace }}",pod=~"{{ target }}-.*",code=~"{{ args.codes }}"}[{{ interval }}]))',
      thresholdRange: { max: 1 },
    },
  ],
};

/** A lookup over `objects`, keyed `Kind/namespace/name` (cluster templates: `Kind//name`; Argo's `argoproj.io:Kind/…`). */
function lookupOf(objects: Record<string, unknown>): TemplateLookup & { calls: string[] } {
  const calls: string[] = [];
  const fn = ((kind: TemplateKind, namespace: string | undefined, name: string, group: TemplateGroup) => {
    const key = `${group === GROUP ? "" : `${group}:`}${kind}/${namespace ?? ""}/${name}`;
    calls.push(key);
    const spec = objects[key];
    return spec === undefined
      ? undefined
      : ({ metadata: { name, namespace }, spec } as AnalysisTemplateObject);
  }) as TemplateLookup & { calls: string[] };
  fn.calls = calls;
  return fn;
}

const issuesOf = (r: ReturnType<typeof resolveTemplates>) => (r.ok ? [] : r.issues.map((i) => i.message));

describe("resolveTemplates", () => {
  it("web metrics: arguments go into path, query, body and headers escaped; never into the host", () => {
    const template = (url: string) => ({
      args: [{ name: "app" }, { name: "token", default: "t" }],
      metrics: [
        {
          name: "score",
          web: {
            url,
            method: "POST",
            body: '{"app": "{{ args.app }}"}',
            headers: [{ name: "Authorization", value: "Bearer {{ args.token }}" }],
            jsonPath: "$.score",
          },
          thresholdRange: { min: 0.9 },
        },
      ],
    });
    const spec = rollout({ templates: [{ name: "score", args: [{ name: "app", value: 'a b/"c' }] }] });
    const good = resolveTemplates(
      spec,
      NS,
      lookupOf({
        [`AnalysisTemplate/${NS}/score`]: template(
          "http://score.tools:8080/v1/{{ target }}?app={{ args.app }}",
        ),
      }),
    );
    assert.ok(good.ok, JSON.stringify(good));
    const web = good.spec.analysis.metrics[0]?.web;
    assert.equal(web?.url, "http://score.tools:8080/v1/{{ target }}?app=a%20b%2F%22c");
    assert.equal(web?.body, '{"app": "a b/\\"c"}');
    assert.deepEqual(web?.headers, [{ name: "Authorization", value: "Bearer t" }]);
    for (const url of [
      "http://{{ args.app }}/v1",
      "http://score.{{ args.app }}:8080/v1",
      "http://x{{ args.app }}",
    ]) {
      const bad = resolveTemplates(
        rollout({ templates: [{ name: "score", args: [{ name: "app", value: "evil.example" }] }] }),
        NS,
        lookupOf({ [`AnalysisTemplate/${NS}/score`]: template(url) }),
      );
      assert.match(issuesOf(bad).join(), /metric score: \{\{ args\.app \}\} stands in the URL's host/, url);
    }
  });

  it("adds a template's metrics after the Rollout's own, with its arguments substituted and defaults applied", () => {
    const spec = rollout({
      metrics: [{ name: "own", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
      templates: [{ name: "error-rate", args: [{ name: "max", value: "2" }] }],
    });
    const r = resolveTemplates(spec, NS, lookupOf({ [`AnalysisTemplate/${NS}/error-rate`]: ERROR_RATE }));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(
      r.spec.analysis.metrics.map((m) => m.name),
      ["own", "error-rate"],
    );
    assert.match(r.spec.analysis.metrics[1]?.query ?? "", /code=~"5\.\."/);
    assert.match(
      r.spec.analysis.metrics[1]?.query ?? "",
      /\{\{ target \}\}/,
      "the Rollout's variables stay for render time",
    );
  });

  it("reads a ClusterAnalysisTemplate by name only, from any namespace", () => {
    const lookup = lookupOf({ "ClusterAnalysisTemplate//error-rate": ERROR_RATE });
    for (const ns of ["a", "b"]) {
      const spec = rollout({
        templates: [
          { name: "error-rate", kind: "ClusterAnalysisTemplate", args: [{ name: "max", value: "1" }] },
        ],
      });
      assert.ok(resolveTemplates(spec, ns, lookup).ok);
    }
    assert.deepEqual(lookup.calls, [
      "ClusterAnalysisTemplate//error-rate",
      "ClusterAnalysisTemplate//error-rate",
    ]);
  });

  it("refuses another namespace's AnalysisTemplate without reading it", () => {
    const lookup = lookupOf({ "AnalysisTemplate/other/error-rate": ERROR_RATE });
    const spec = rollout({
      templates: [{ name: "error-rate", namespace: "other", args: [{ name: "max", value: "1" }] }],
    });
    const r = resolveTemplates(spec, NS, lookup);
    assert.match(
      issuesOf(r).join(),
      /AnalysisTemplate other\/error-rate is in another namespace.*ClusterAnalysisTemplate/,
    );
    assert.deepEqual(lookup.calls, []);
  });

  it("names what is missing or wrong, each on the template's path", () => {
    const lookup = lookupOf({
      [`AnalysisTemplate/${NS}/error-rate`]: ERROR_RATE,
      [`AnalysisTemplate/${NS}/broken`]: { metrics: [{ name: "x", query: "up" }] },
    });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: "nope" }, /AnalysisTemplate shop\/nope not found/],
      [{ name: "error-rate" }, /needs argument max \(it has no default\)/],
      [
        {
          name: "error-rate",
          args: [
            { name: "max", value: "1" },
            { name: "typo", value: "x" },
          ],
        },
        /has no argument typo \(it declares: codes, max\)/,
      ],
      [
        { name: "error-rate", args: [{ name: "max", value: "1 or vector(1)" }] },
        /argument max must be a number/,
      ],
      [
        { name: "broken" },
        /AnalysisTemplate shop\/broken is invalid: spec.metrics\[0\]: a metric needs thresholdRange/,
      ],
    ];
    for (const [ref, expected] of cases) {
      const r = resolveTemplates(rollout({ templates: [ref] }), NS, lookup);
      assert.equal(r.ok, false, JSON.stringify(ref));
      assert.match(issuesOf(r).join("; "), expected);
      assert.ok(!r.ok && r.issues.every((i) => i.path.startsWith("spec.analysis.templates[0]")));
    }
  });

  it("refuses a metric name defined twice, and two different Prometheus servers", () => {
    const withProm = (address: string) => ({ ...ERROR_RATE, prometheus: { address } });
    const lookup = lookupOf({
      [`AnalysisTemplate/${NS}/a`]: withProm("http://prom-a:9090"),
      [`AnalysisTemplate/${NS}/b`]: {
        ...withProm("http://prom-b:9090"),
        metrics: [{ ...ERROR_RATE.metrics[0], name: "other" }],
      },
    });
    const max = [{ name: "max", value: "1" }];
    const twice = resolveTemplates(
      rollout({
        metrics: [{ name: "error-rate", builtin: "request-success-rate", thresholdRange: { min: 1 } }],
        templates: [{ name: "a", args: max }],
      }),
      NS,
      lookup,
    );
    assert.match(issuesOf(twice).join(), /metric error-rate is also defined by the Rollout/);
    const two = resolveTemplates(
      rollout({
        templates: [
          { name: "a", args: max },
          { name: "b", args: max },
        ],
      }),
      NS,
      lookup,
    );
    assert.match(
      issuesOf(two).join(),
      /names a different Prometheus \(http:\/\/prom-b:9090\) than AnalysisTemplate shop\/a/,
    );
    const one = resolveTemplates(rollout({ templates: [{ name: "a", args: max }] }), NS, lookup);
    assert.ok(one.ok);
    assert.equal(
      one.spec.analysis.prometheus?.address,
      "http://prom-a:9090",
      "the template's Prometheus is used",
    );
  });

  it("refuses a query that names an undeclared argument or variable before any traffic moves", () => {
    const lookup = lookupOf({
      [`AnalysisTemplate/${NS}/t`]: {
        metrics: [
          { name: "m", query: 'up{a="{{ args.nope }}"} + up{b="{{ targte }}"}', thresholdRange: { max: 1 } },
        ],
      },
    });
    const r = resolveTemplates(rollout({ templates: [{ name: "t" }] }), NS, lookup);
    assert.match(
      issuesOf(r).join(),
      /metric m: the query uses \{\{ args.nope \}\}, which the template does not declare/,
    );
  });

  it("property: resolves exactly when every passed argument is declared and every required one is passed", () => {
    const names = ["a", "b", "c", "d"];
    fc.assert(
      fc.property(
        fc.subarray(names),
        fc.subarray(names),
        fc.subarray(names),
        fc.string({ maxLength: 12 }),
        (declared, withDefault, passed, value) => {
          const template = {
            args: declared.map((name) => ({ name, ...(withDefault.includes(name) ? { default: "d" } : {}) })),
            metrics: [
              {
                name: "m",
                query: `sum(up{${declared.map((n) => `${n}="{{ args.${n} }}"`).join(",")}})`,
                thresholdRange: { max: 1 },
              },
            ],
          };
          const spec = rollout({ templates: [{ name: "t", args: passed.map((name) => ({ name, value })) }] });
          const r = resolveTemplates(spec, NS, lookupOf({ [`AnalysisTemplate/${NS}/t`]: template }));
          const undeclared = passed.filter((n) => !declared.includes(n));
          const missing = declared.filter((n) => !withDefault.includes(n) && !passed.includes(n));
          const badValue = passed.some((n) => declared.includes(n)) && /\{\{|\}\}|^\}|\{$/.test(value);
          assert.equal(r.ok, undeclared.length === 0 && missing.length === 0 && !badValue, JSON.stringify(r));
          const text = issuesOf(r).join("; ");
          for (const n of undeclared) assert.match(text, new RegExp(`has no argument ${n} `));
          for (const n of missing) assert.match(text, new RegExp(`needs argument ${n} `));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves a Rollout without templates untouched and reads nothing", () => {
    const spec = rollout({ metrics: [] });
    const lookup = lookupOf({});
    const r = resolveTemplates(spec, NS, lookup);
    assert.ok(r.ok && r.spec === spec);
    assert.deepEqual(lookup.calls, []);
  });
});
