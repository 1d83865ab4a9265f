import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { WebMetricSchema, type WebMetricSpec } from "../api/web-metric-schema.ts";
import type { TemplateVars } from "./promql-template.ts";
import { renderWebRequest, substituteWebArgs, WebTemplateError } from "./web-template.ts";

const VARS: TemplateVars = {
  namespace: "shop",
  target: "podinfo",
  canary: "podinfo",
  primary: "podinfo-primary",
  service: "podinfo",
  interval: "30s",
};
const web = (w: Partial<WebMetricSpec> & { url: string }): WebMetricSpec =>
  WebMetricSchema.parse({ jsonPath: "$.v", ...w });
const args = (o: Record<string, string>) => new Map(Object.entries(o));

describe("renderWebRequest", () => {
  it("fills the Rollout's variables, percent-encoded, and may name the host from them", () => {
    const r = renderWebRequest(
      web({ url: "http://{{ service }}-canary.{{ namespace }}:8080/stats/{{ target }}?w={{ interval }}" }),
      VARS,
    );
    assert.equal(r.url, "http://podinfo-canary.shop:8080/stats/podinfo?w=30s");
    assert.equal(r.method, "GET");
    assert.deepEqual(r.headers, {});
  });

  it("POST: a body gets JSON's content type unless a header names one; headers are filled", () => {
    const r = renderWebRequest(
      web({
        url: "http://m/q",
        method: "POST",
        body: '{"workload": "{{ target }}", "n": 3}',
        headers: [{ name: "X-Tenant", value: "{{ namespace }}" }],
      }),
      VARS,
    );
    assert.equal(r.body, '{"workload": "podinfo", "n": 3}');
    assert.deepEqual(r.headers, { "X-Tenant": "shop", "Content-Type": "application/json" });
    const own = renderWebRequest(
      web({
        url: "http://m/q",
        method: "POST",
        body: "{}",
        headers: [{ name: "content-type", value: "text/x" }],
      }),
      VARS,
    );
    assert.deepEqual(own.headers, { "content-type": "text/x" });
  });

  it("refuses unknown variables, arguments outside a template, and a missing canary hash", () => {
    assert.throws(
      () => renderWebRequest(web({ url: "http://m/{{ nope }}" }), VARS),
      /unknown variable \{\{ nope \}\}/,
    );
    assert.throws(() => renderWebRequest(web({ url: "http://m/{{ args.x }}" }), VARS), /template argument/);
    assert.throws(() => renderWebRequest(web({ url: "http://m/{{ canary_hash }}" }), VARS), /StatefulSet/);
    // The schema refuses this shape too; a spec that predates it still never renders.
    const raw = { ...web({ url: "http://m/" }), url: "http://m/{{ a b }}" };
    assert.throws(() => renderWebRequest(raw, VARS), /is not a variable/);
  });
});

describe("substituteWebArgs", () => {
  it("puts arguments into path, query, body and headers, escaped for each, and leaves the Rollout's variables", () => {
    const w = substituteWebArgs(
      web({
        url: "http://m:9/api/{{ args.app }}/{{ target }}?q={{ args.q }}",
        method: "POST",
        body: '{"q": "{{ args.q }}", "limit": {{ args.n }}}',
        headers: [{ name: "X-Q", value: "{{ args.app }}" }],
      }),
      args({ app: "shop cart", q: 'a"b&c=d/e', n: "5" }),
    );
    assert.equal(w.url, "http://m:9/api/shop%20cart/{{ target }}?q=a%22b%26c%3Dd%2Fe");
    assert.equal(w.body, '{"q": "a\\"b&c=d/e", "limit": 5}');
    assert.deepEqual(JSON.parse(renderWebRequest(w, VARS).body ?? ""), { q: 'a"b&c=d/e', limit: 5 });
    assert.equal(renderWebRequest(w, VARS).url, "http://m:9/api/shop%20cart/podinfo?q=a%22b%26c%3Dd%2Fe");
  });

  it("refuses an argument in the host, out of a path segment, bare in the body, or with line breaks in a header", () => {
    const a = args({ h: "evil.example", p: "..", s: "a/b", n: '1}, {"x": 2', crlf: "v\r\nX-Other: 1" });
    const cases: [WebMetricSpec, RegExp][] = [
      [web({ url: "http://{{ args.h }}/x" }), /host: a template fixes the host/],
      [web({ url: "http://m.{{ args.h }}:80/x" }), /host/],
      [web({ url: "http://user@{{ args.h }}" }), /host/],
      [web({ url: "http://m/{{ args.p }}/admin" }), /one segment/],
      [web({ url: "http://m/{{ args.s }}" }), /one segment/],
      [web({ url: "http://m/", method: "POST", body: '{"a": {{ args.n }}}' }), /outside a JSON string/],
      [
        web({ url: "http://m/", headers: [{ name: "X", value: "{{ args.crlf }}" }] }),
        /Latin-1 text without control characters/,
      ],
      [web({ url: "http://m/{{ args.undeclared }}" }), /does not declare/],
    ];
    for (const [w, why] of cases) assert.throws(() => substituteWebArgs(w, a), why, w.url);
    assert.throws(
      () => substituteWebArgs(web({ url: "http://m/{{ args.v }}" }), args({ v: "{{ canary }}" })),
      /must not contain \{\{/,
    );
  });

  it("property: no argument value changes the host, the path's segments, the query's keys or the body's shape", () => {
    const template = web({
      url: "http://metrics.shop:8080/a/{{ args.x }}/b?key={{ args.x }}&other=1#f{{ args.x }}",
      method: "POST",
      body: '{"x": "{{ args.x }}", "list": ["{{ args.x }}"]}',
    });
    const tricky = fc.constantFrom(
      ..."/\\?#@:.%&=+ \"'{}[]$\r\n\t\u0000é€😀".split(""),
      "..",
      "%2e",
      "\ud800",
    );
    let sent = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 30, unit: "binary" }),
          fc.string({ unit: tricky }),
          fc.constantFrom(".", "..", "%2e%2e", "a/b", "@evil.example", "x#y", "?k=v"),
        ),
        (value) => {
          let w: WebMetricSpec;
          try {
            w = substituteWebArgs(template, args({ x: value }));
          } catch (err) {
            assert.ok(err instanceof WebTemplateError, String(err));
            return; // refused values never reach a request
          }
          sent++;
          const r = renderWebRequest(w, VARS);
          const u = new URL(r.url);
          assert.equal(u.host, "metrics.shop:8080");
          assert.equal(u.pathname.split("/").length, 4);
          assert.equal(decodeURIComponent(u.pathname.split("/")[2] ?? ""), value);
          assert.deepEqual([...u.searchParams.keys()], ["key", "other"]);
          assert.equal(u.searchParams.get("key"), value);
          assert.deepEqual(JSON.parse(r.body ?? ""), { x: value, list: [value] });
        },
      ),
      { numRuns: 200 },
    );
    assert.ok(sent > 50, `only ${sent} of 200 values were accepted: the property says little`);
  });

  it("header values: Latin-1 text passes as given, line breaks and control characters never", () => {
    const w = web({ url: "http://m/", headers: [{ name: "X-Arg", value: "v={{ args.x }}" }] });
    fc.assert(
      fc.property(
        fc.string({
          maxLength: 20,
          unit: fc
            .integer({ min: 0, max: 0x17f })
            .map((c) => String.fromCharCode(c))
            .filter((c) => c !== "{" && c !== "}"),
        }),
        (value) => {
          const ok = /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
          if (!ok) return assert.throws(() => substituteWebArgs(w, args({ x: value })), WebTemplateError);
          assert.equal(
            renderWebRequest(substituteWebArgs(w, args({ x: value })), VARS).headers["X-Arg"],
            `v=${value}`,
          );
        },
      ),
    );
  });
});
