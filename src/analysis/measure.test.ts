import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RolloutSpecInput, RolloutSpecSchema } from "../api/rollout-schema.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { measureAnalysis, queryFor } from "./measure.ts";
import { PrometheusClient } from "./prometheus-client.ts";
import { type FakePrometheus, promError, startFakePrometheus, vector } from "./testing/prom-server.ts";
import { judgeTick } from "./verdict.ts";

const EGRESS = loopbackEgress();

const spec = (analysis: RolloutSpecInput["analysis"]) =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "istio",
    strategy: { canary: { stepWeight: 10 } },
    analysis,
  });

const base = {
  namespace: "shop",
  targetName: "checkout",
  serviceName: "checkout",
  metricsMesh: "istio" as const,
};

describe("measureAnalysis against a loopback Prometheus", () => {
  let prom: FakePrometheus;
  let client: PrometheusClient;

  before(async () => {
    prom = await startFakePrometheus((q) => {
      const query = q.params.query ?? "";
      // Answers differ by the workload label the query selects, like a real Prometheus would.
      const primary = /destination_workload="checkout-primary"|w="checkout-primary"/.test(query);
      const canary = /destination_workload="checkout"|w="checkout"/.test(query);
      if (query.includes("slow_metric")) return { delayMs: 2000, body: vector("1") };
      if (query.includes("broken_metric")) return { status: 400, body: promError("bad_data", "parse error") };
      if (query.includes("istio_request_duration_milliseconds_bucket")) {
        return { body: vector(primary ? "200" : canary ? "260" : "NaN") };
      }
      if (query.includes("istio_requests_total"))
        return { body: vector(primary ? "99.5" : canary ? "97" : "NaN") };
      if (query.includes("custom_metric")) return { body: vector(primary ? "10" : "12") };
      return { body: vector() };
    });
    client = new PrometheusClient({ address: prom.url, timeoutMs: 5000, retries: 0 }, EGRESS);
  });
  after(async () => {
    client.close();
    await prom.close();
  });

  it("measures canary and primary at the same evaluation time for relative metrics", async () => {
    const s = spec({
      interval: "1m",
      metrics: [
        { name: "success", builtin: "request-success-rate", compareToPrimary: { maxDecrease: 1 } },
        { name: "latency", builtin: "request-duration", compareToPrimary: { maxRatio: 1.2 } },
        { name: "fixed", builtin: "request-success-rate", thresholdRange: { min: 95 } },
      ],
    });
    const now = new Date(1_700_000_000_000);
    const start = prom.requests.length;
    const m = await measureAnalysis({ ...base, spec: s, client, now });
    assert.deepEqual(m, [
      { metric: "success", value: 97, primaryValue: 99.5 },
      { metric: "latency", value: 260, primaryValue: 200 },
      { metric: "fixed", value: 97 },
    ]);
    const reqs = prom.requests.slice(start);
    assert.equal(reqs.length, 5, "two queries per relative metric, one for the fixed one");
    assert.deepEqual(new Set(reqs.map((r) => r.params.time)), new Set(["1700000000.000"]));
    // The judged outcome: the canary is 2.5 points below the primary and 1.3× its latency.
    const verdict = judgeTick(s.analysis.metrics, m, "inconclusive");
    assert.deepEqual(
      verdict.results.map((r) => r.verdict),
      ["Fail", "Fail", "Pass"],
    );
  });

  it("renders {{ target }} as the primary for the primary's query of a custom metric", async () => {
    const s = spec({
      metrics: [
        {
          name: "custom",
          query: 'sum(custom_metric{w="{{ target }}",c="{{ canary }}",p="{{ primary }}"}[{{ interval }}])',
          compareToPrimary: { maxIncrease: 5 },
        },
      ],
    });
    const start = prom.requests.length;
    const m = await measureAnalysis({ ...base, spec: s, client });
    assert.deepEqual(m, [{ metric: "custom", value: 12, primaryValue: 10 }]);
    const queries = prom.requests
      .slice(start)
      .map((r) => r.params.query)
      .sort();
    assert.deepEqual(queries, [
      'sum(custom_metric{w="checkout",c="checkout",p="checkout-primary"}[30s])',
      'sum(custom_metric{w="checkout-primary",c="checkout",p="checkout-primary"}[30s])',
    ]);
  });

  it("isolates failures: a broken, a slow (deadline) and a bad-template metric never block the good one", async () => {
    const s = spec({
      metrics: [
        { name: "good", builtin: "request-success-rate", thresholdRange: { min: 95 } },
        { name: "broken", query: "broken_metric", thresholdRange: { max: 1 } },
        { name: "slow", query: "slow_metric", thresholdRange: { max: 1 } },
        { name: "typo", query: 'x{a="{{ tagret }}"}', thresholdRange: { max: 1 } },
      ],
    });
    const t0 = performance.now();
    const m = await measureAnalysis({ ...base, spec: s, client, signal: AbortSignal.timeout(300) });
    const ms = performance.now() - t0;
    // The slow answer takes 2 s: ending well before it proves the 300 ms deadline cut it off (loose for loaded runs).
    assert.ok(ms < 1800, `deadline respected, took ${ms.toFixed(0)} ms`);
    assert.deepEqual(m[0], { metric: "good", value: 97 });
    assert.equal(m[1]?.value, null);
    assert.match(m[1]?.error ?? "", /bad_data/);
    assert.equal(m[2]?.value, null);
    assert.match(m[2]?.error ?? "", /abort|deadline/);
    assert.match(m[3]?.error ?? "", /unknown template variable "tagret"/);
  });

  it("reports no data (null) when the workload has no traffic", async () => {
    const s = spec({
      metrics: [{ name: "success", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
    });
    const m = await measureAnalysis({ ...base, targetName: "idle", serviceName: "idle", spec: s, client });
    assert.deepEqual(m, [{ metric: "success", value: null }]);
  });

  it("keeps errors short and free of URLs' secrets", async () => {
    const s = spec({ metrics: [{ name: "x", query: "up", thresholdRange: { min: 1 } }] });
    const fake = {
      query: async () => {
        throw new Error(`boom at https://user:pw@prom.example/api?token=abc ${"x".repeat(1000)}`);
      },
    };
    const [m] = await measureAnalysis({ ...base, spec: s, client: fake });
    assert.ok(m?.error);
    assert.ok(m.error.length <= 300);
    assert.ok(!m.error.includes("pw@") && !m.error.includes("token=abc"), m.error);
  });
});

describe("queryFor", () => {
  it("uses metric.window, else the analysis interval, but at least 2 × the scrape interval", () => {
    const s = spec({
      interval: "10s",
      metrics: [
        { name: "a", builtin: "request-duration", thresholdRange: { max: 500 } },
        { name: "b", builtin: "request-duration", window: "2m", thresholdRange: { max: 500 } },
      ],
    });
    const [a, b] = s.analysis.metrics;
    assert.match(queryFor({ ...base, spec: s }, a!, "checkout"), /\[30s\]/);
    assert.match(queryFor({ ...base, spec: s, scrapeIntervalMs: 1000 }, a!, "checkout"), /\[10s\]/);
    assert.match(queryFor({ ...base, spec: s }, b!, "checkout"), /\[120s\]/);
  });

  it("applies spec.analysis.labels overrides and the Linkerd vocabulary", () => {
    const s = spec({
      labels: { workload: "k8s_deployment", namespace: "k8s_ns" },
      metrics: [{ name: "a", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
    });
    const q = queryFor({ ...base, metricsMesh: "linkerd", spec: s }, s.analysis.metrics[0]!, "checkout");
    assert.match(q, /response_total\{direction="inbound",k8s_ns="shop",k8s_deployment="checkout"/);
    assert.doesNotMatch(q, /[{,](deployment|namespace)="/);
  });
});
