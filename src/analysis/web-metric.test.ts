import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { EGRESS_OUTCOMES } from "../api/constants.ts";
import { MetricSchema } from "../api/rollout-schema.ts";
import { WebMetricSchema, type WebMetricSpec } from "../api/web-metric-schema.ts";
import { AddressPolicy } from "../net/address-policy.ts";
import { Egress } from "../net/egress.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { judgeMeasurement, type NoDataPolicy } from "./verdict.ts";
import { MAX_WEB_ANSWER_BYTES, WebMetricClient } from "./web-metric.ts";

/** A loopback server: each path answers as `routes` says; every request is recorded. */
const hits: { method: string; url: string; body: string; headers: IncomingMessage["headers"] }[] = [];
const routes: Record<string, (res: ServerResponse) => void> = {
  "/ok": (res) => res.end(JSON.stringify({ data: { value: 99.5 }, items: [1, 2, 3] })),
  "/text": (res) => res.end("<html>secret internal page</html>"),
  "/big": (res) => res.end(JSON.stringify({ pad: "x".repeat(MAX_WEB_ANSWER_BYTES), value: 1 })),
  "/fail": (res) => res.writeHead(503).end(JSON.stringify({ value: 1 })),
  "/redirect": (res) => res.writeHead(302, { Location: "/ok" }).end(),
  "/slow": () => {},
  "/string": (res) => res.end(JSON.stringify({ value: "n/a: internal detail" })),
};
const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  hits.push({
    method: req.method ?? "",
    url: req.url ?? "",
    body: Buffer.concat(chunks).toString(),
    headers: req.headers,
  });
  (routes[(req.url ?? "").split("?")[0] ?? ""] ?? ((r: ServerResponse) => r.writeHead(404).end()))(res);
});
let base = "";
const egress = loopbackEgress();
before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  egress.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const spec = (w: Partial<WebMetricSpec> = {}): WebMetricSpec =>
  WebMetricSchema.parse({ url: `${base}/ok`, jsonPath: "$.data.value", timeout: "2s", ...w });
const get = (path: string) => ({ url: `${base}${path}`, method: "GET" as const, headers: {} });

describe("WebMetricClient on a real loopback server", () => {
  it("GETs the URL and reads the number at the path; POSTs the body with its headers", async () => {
    const client = new WebMetricClient(egress, [`${base}/`]);
    assert.equal(await client.value(spec(), get("/ok"), undefined), 99.5);
    assert.equal(await client.value(spec({ jsonPath: "$.items[*]" }), get("/ok"), "sum"), 6);
    assert.equal(await client.value(spec({ jsonPath: "$.nothing" }), get("/ok"), undefined), null);
    hits.length = 0;
    const post = {
      url: `${base}/ok`,
      method: "POST" as const,
      body: '{"q": 1}',
      headers: { "Content-Type": "application/json", "X-Tenant": "shop" },
    };
    assert.equal(await client.value(spec({ method: "POST", body: "{}" }), post, undefined), 99.5);
    assert.equal(hits[0]?.method, "POST");
    assert.equal(hits[0]?.body, '{"q": 1}');
    assert.equal(hits[0]?.headers["x-tenant"], "shop");
    assert.equal(hits[0]?.headers.accept, "application/json");
  });

  it("a URL outside the allow-list is refused with 0 requests sent", async () => {
    hits.length = 0;
    const client = new WebMetricClient(egress, [`${base}/allowed/`]);
    await assert.rejects(
      client.value(spec(), get("/ok"), undefined),
      /not allowed by the controller's --allowed-check-urls/,
    );
    await assert.rejects(
      new WebMetricClient(egress, []).value(spec(), get("/ok"), undefined),
      /--allowed-check-urls; no request sent/,
    );
    assert.equal(hits.length, 0);
  });

  it("the egress policy refuses loopback when the operator did not open it, at connect time", async () => {
    hits.length = 0;
    const closed = new Egress({ policy: new AddressPolicy({}) });
    try {
      await assert.rejects(
        new WebMetricClient(closed, [`${base}/`]).value(spec(), get("/ok"), undefined),
        /refused-by-policy/,
      );
    } finally {
      closed.close();
    }
    assert.equal(hits.length, 0);
  });

  it("errors say what went wrong in classes, never the answer's text", async () => {
    const client = new WebMetricClient(egress, [`${base}/`]);
    const cases: [string, RegExp][] = [
      ["/text", /^web metric: the answer is not JSON$/],
      ["/big", /larger than 64 KiB/],
      ["/fail", /^web metric: 5xx$/],
      ["/redirect", /3xx \(redirects are not followed\)/],
      ["/slow", /^web metric: timeout$/],
      ["/string", /selects the string "n\/a: internal detail", not a number/],
    ];
    for (const [path, why] of cases) {
      const err = await client
        .value(spec({ timeout: "300ms", jsonPath: "$.value" }), get(path), undefined)
        .catch((e: Error) => e);
      assert.ok(err instanceof Error, path);
      assert.match(err.message, why, path);
      assert.doesNotMatch(err.message, /secret internal page/);
    }
    // The redirect was not followed: /ok was not asked for after it.
    const afterRedirect = hits.findIndex((h) => h.url === "/redirect");
    assert.notEqual(hits[afterRedirect + 1]?.url, "/ok");
  });
});

describe("a web answer judged (property)", () => {
  it("passes only on a 2xx answer whose value at the path is a finite number within the bounds", async () => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          v: fc.oneof(
            fc.double({ min: -100, max: 100 }),
            fc.double({ min: -100, max: 100 }).map(String),
            fc.double(),
            fc.string(),
            fc.boolean(),
            fc.constant(null),
          ),
        })
        .map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 40 }),
    );
    const noDataPolicy = fc.constantFrom<NoDataPolicy>("inconclusive", "fail", "pass");
    let passedOnValue = 0;
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.oneof(
          { arbitrary: fc.constant(EGRESS_OUTCOMES.ok), weight: 3 },
          { arbitrary: fc.constantFrom(...Object.values(EGRESS_OUTCOMES)), weight: 1 },
        ),
        fc.double({ noNaN: true, min: -100, max: 100 }),
        noDataPolicy,
        async (text, outcome, min, noData) => {
          const metric = MetricSchema.parse({
            name: "m",
            web: { url: "http://m/x", jsonPath: "$.v" },
            thresholdRange: { min },
          });
          const fake = { send: async () => ({ outcome, status: 200, body: text }) };
          const request = { url: "http://m/x", method: "GET" as const, headers: {} };
          let value: number | null = null;
          let error: string | undefined;
          try {
            value = await new WebMetricClient(fake, ["http://m/"]).value(metric.web!, request, undefined);
          } catch (err) {
            error = (err as Error).message;
          }
          const r = judgeMeasurement(metric, { metric: "m", value, ...(error ? { error } : {}) }, noData);
          if (outcome !== EGRESS_OUTCOMES.ok) assert.equal(r.verdict, "Error");
          if (r.verdict !== "Pass" || value === null) {
            if (r.verdict === "Pass") assert.equal(noData, "pass");
            return;
          }
          let sent: unknown;
          try {
            sent = (JSON.parse(text) as { v?: unknown } | null)?.v;
          } catch {}
          const n = typeof sent === "number" || typeof sent === "string" ? Number(sent) : Number.NaN;
          assert.ok(Number.isFinite(n) && n >= min && value === n, `${text} passed against min ${min}`);
          passedOnValue++;
        },
      ),
      { numRuns: 300 },
    );
    assert.ok(passedOnValue > 5, `only ${passedOnValue} passes on a value: the property says little`);
  });
});
