import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  escapePromQLString,
  PromQLTemplateError,
  renderPromQL,
  substitute,
  type TemplateVars,
  toPromDuration,
} from "./promql-template.ts";

const VARS: TemplateVars = {
  namespace: "shop",
  target: "checkout",
  canary: "checkout",
  primary: "checkout-primary",
  service: "checkout-svc",
  interval: "1m",
};

type Token = { kind: "str"; quote: string; value: string } | { kind: "code"; text: string };

/**
 * A PromQL lexer for string literals, following Prometheus's rules (Go-style escapes in "…" and '…', no escapes
 * in `…`). It throws on a literal that is not closed or has an escape Prometheus would reject, so a rendered
 * query that lexes cleanly into the expected tokens cannot carry injected syntax.
 */
function lex(q: string): Token[] {
  const out: Token[] = [];
  let code = "";
  let i = 0;
  while (i < q.length) {
    const ch = q[i] as string;
    if (ch !== '"' && ch !== "'" && ch !== "`") {
      code += ch;
      i++;
      continue;
    }
    if (code) out.push({ kind: "code", text: code });
    code = "";
    let value = "";
    i++;
    for (;;) {
      if (i >= q.length) throw new Error(`unterminated ${ch} literal`);
      const c = q[i] as string;
      if (c === ch) {
        i++;
        break;
      }
      if (c === "\n" && ch !== "`") throw new Error("raw newline inside a literal");
      if (c === "\\" && ch !== "`") {
        const e = q[i + 1];
        const map: Record<string, string> = { "\\": "\\", n: "\n", r: "\r", t: "\t", '"': '"', "'": "'" };
        if (e === undefined || !(e in map) || (e === '"' && ch !== '"') || (e === "'" && ch !== "'")) {
          throw new Error(`bad escape \\${e}`);
        }
        value += map[e];
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    out.push({ kind: "str", quote: ch, value });
  }
  if (code) out.push({ kind: "code", text: code });
  return out;
}

/** Undoes escapeRegex: a regex-escaped name (`\.`) back to the name. */
const unregex = (s: string) => s.replace(/\\(.)/g, "$1");

describe("renderPromQL", () => {
  it("substitutes every variable, with or without spaces inside the braces", () => {
    const q = renderPromQL(
      'sum(rate(x{ns="{{namespace}}",w="{{ target }}",c="{{  canary}}",p="{{primary  }}",s="{{ service }}"}[{{ interval }}]))',
      VARS,
    );
    assert.equal(
      q,
      'sum(rate(x{ns="shop",w="checkout",c="checkout",p="checkout-primary",s="checkout-svc"}[1m]))',
    );
  });

  it("regex-escapes a dotted name on the right of =~ so the dot matches only a dot", () => {
    const q = renderPromQL('x{w=~"{{ target }}"} and y{w!~ "{{ target }}"} and z{w="{{ target }}"}', {
      ...VARS,
      target: "api.v2",
    });
    assert.equal(q, 'x{w=~"api\\\\.v2"} and y{w!~ "api\\\\.v2"} and z{w="api.v2"}');
    const strs = lex(q).filter((t) => t.kind === "str");
    assert.deepEqual(
      strs.map((t) => t.value),
      ["api\\.v2", "api\\.v2", "api.v2"],
    );
  });

  it("names an unknown variable in the error", () => {
    assert.throws(
      () => renderPromQL('x{a="{{ targt }}"}', VARS),
      (e: unknown) => e instanceof PromQLTemplateError && /"targt"/.test(e.message),
    );
    assert.throws(() => renderPromQL('x{a="{{ }}"}', VARS), /unknown template variable ""/);
    assert.throws(() => renderPromQL('x{a="{{ target"}', VARS), /unterminated placeholder/);
  });

  it("rejects an interval that is not an integer PromQL duration, and one placed inside a string", () => {
    for (const interval of ["1.5m", "1m]) or vector(1) #", "", "30", "5 m"]) {
      assert.throws(
        () => renderPromQL("rate(x[{{ interval }}])", { ...VARS, interval }),
        /not a PromQL duration/,
      );
    }
    assert.equal(renderPromQL("rate(x[{{interval}}])", { ...VARS, interval: "1m30s" }), "rate(x[1m30s])");
    assert.throws(() => renderPromQL('x{a="{{ interval }}"}', VARS), /must not be inside a string/);
  });

  it("rejects hostile names outright", () => {
    const hostile = [
      '"} or vector(1) #',
      'checkout"}',
      "a\\b",
      "a\nb",
      "{{ target }}",
      "Checkout",
      "",
      "x".repeat(254),
      "a`b",
      "a'b",
    ];
    for (const bad of hostile) {
      for (const key of ["namespace", "target", "canary", "primary", "service"] as const) {
        assert.throws(
          () => renderPromQL('x{a="{{ target }}"}', { ...VARS, [key]: bad }),
          PromQLTemplateError,
          `${key}=${JSON.stringify(bad)} accepted`,
        );
      }
    }
  });

  it("does not expand placeholders that appear inside a substituted value (single pass)", () => {
    const q = substitute('x{a="{{ target }}",b="{{ canary }}"}', { ...VARS, target: "{{ canary }}" });
    const strs = lex(q).filter((t) => t.kind === "str");
    assert.deepEqual(
      strs.map((t) => t.value),
      ["{{ canary }}", "checkout"],
    );
  });

  it("keeps hostile values inside their literal even without the name check (escaping alone)", () => {
    const template =
      'sum(rate(m{a="{{ target }}",b=~"{{ canary }}|z",c=\'{{ service }}\'}[{{ interval }}])) > 0';
    const hostile = ['"} or vector(1) #', "\\", '\\"', "a\nb\r", "'", "`", '"}[5m])) or on() vector(100) #'];
    for (const bad of hostile) {
      const q = substitute(template, { ...VARS, target: bad, canary: bad, service: bad });
      const tokens = lex(q);
      assert.deepEqual(
        tokens.map((t) => (t.kind === "code" ? t.text : `<${t.quote}>`)),
        ["sum(rate(m{a=", '<">', ",b=~", '<">', ",c=", "<'>", "}[1m])) > 0"],
        `structure changed for ${JSON.stringify(bad)}: ${q}`,
      );
      const strs = tokens.filter((t): t is Extract<Token, { kind: "str" }> => t.kind === "str");
      assert.equal(strs[0]?.value, bad);
      assert.equal(unregex(strs[1]?.value.slice(0, -2) ?? ""), bad);
      assert.equal(strs[2]?.value, bad);
    }
  });

  it("property: for arbitrary strings, the rendered query has the template's shape and each value verbatim", () => {
    const template =
      'sum(rate(m{a="{{ target }}",b=~"{{ primary }}",c=\'{{ namespace }}\'}[{{ interval }}]))';
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string(), (s, t) => {
        const q = substitute(template, { ...VARS, target: s, primary: t, namespace: s + t });
        const tokens = lex(q);
        assert.deepEqual(
          tokens.map((x) => (x.kind === "code" ? x.text : x.quote)),
          ["sum(rate(m{a=", '"', ",b=~", '"', ",c=", "'", "}[1m]))"],
        );
        const strs = tokens.filter((x): x is Extract<Token, { kind: "str" }> => x.kind === "str");
        assert.equal(strs[0]?.value, s);
        assert.equal(unregex(strs[1]?.value ?? ""), t);
        assert.equal(strs[2]?.value, s + t);
      }),
      { numRuns: 500 },
    );
  });

  it("property: renderPromQL accepts a value only if it is a Kubernetes name, and then inserts it unchanged", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/)), (s) => {
        let q: string;
        try {
          q = renderPromQL('m{a="{{ target }}"}', { ...VARS, target: s });
        } catch (e) {
          assert.ok(e instanceof PromQLTemplateError);
          return;
        }
        assert.match(s, /^[a-z0-9.-]+$/);
        assert.equal(q, `m{a="${s}"}`);
      }),
      { numRuns: 500 },
    );
  });
});

describe("escapePromQLString", () => {
  it("property: the escaped text is one literal whose value is the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.constantFrom('"', "'"), (s, quote) => {
        const q = `${quote}${escapePromQLString(s, quote as '"' | "'")}${quote}`;
        const tokens = lex(q);
        assert.equal(tokens.length, 1);
        assert.deepEqual(tokens[0], { kind: "str", quote, value: s });
      }),
      { numRuns: 1000 },
    );
  });
});

describe("toPromDuration", () => {
  it("formats whole seconds as s and the rest as ms", () => {
    assert.equal(toPromDuration(30_000), "30s");
    assert.equal(toPromDuration(90_000), "90s");
    assert.equal(toPromDuration(1500), "1500ms");
    assert.throws(() => toPromDuration(0), PromQLTemplateError);
  });
});
