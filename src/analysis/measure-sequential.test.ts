// Measuring judge: sequential metrics against a real loopback HTTP server speaking Prometheus's wire format.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RolloutSpecSchema } from "../api/rollout-schema.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { builtinCountQuery } from "./builtin-queries.ts";
import { measureAnalysis } from "./measure.ts";
import { sinceStepRange } from "./measure-sequential.ts";
import { PrometheusClient, PrometheusQueryError, parseVectorResponse } from "./prometheus-client.ts";
import { type FakePrometheus, startFakePrometheus } from "./testing/prom-server.ts";

const EGRESS = loopbackEgress();

const spec = RolloutSpecSchema.parse({
  targetRef: { name: "checkout" },
  service: { port: 80 },
  provider: "istio",
  strategy: { canary: { stepWeight: 10 } },
  analysis: {
    metrics: [
      { name: "errors", builtin: "request-success-rate", judge: "sequential" },
      { name: "latency", builtin: "request-duration", judge: "sequential", alpha: 0.05 },
    ],
  },
});

const series = (entries: [Record<string, string>, string][]) => ({
  status: "success",
  data: { resultType: "vector", result: entries.map(([metric, v]) => ({ metric, value: [1, v] })) },
});

describe("measureSequential", () => {
  let prom: FakePrometheus;
  before(async () => {
    prom = await startFakePrometheus((q) => {
      const query = q.params.query ?? "";
      const primary = query.includes('destination_workload="checkout-primary"');
      if (query.includes("_bucket")) {
        return {
          body: series([
            [{ le: "+Inf" }, primary ? "900" : "100"],
            [{ le: "100" }, primary ? "890" : "90"],
            [{ le: "50" }, primary ? "500" : "40"],
          ]),
        };
      }
      // No 5xx series on the primary: an empty vector, which is zero errors.
      if (query.includes('response_code=~"5.."')) return { body: series(primary ? [] : [[{}, "3.4"]]) };
      return { body: series([[{}, primary ? "900.6" : "100.2"]]) };
    });
  });
  after(() => prom.close());

  it("reads requests, errors and buckets of both workloads over the time since the step started", async () => {
    const now = new Date("2026-12-02T01:00:00Z");
    const client = new PrometheusClient({ address: prom.url, timeoutMs: 2000, retries: 0 }, EGRESS);
    const m = await measureAnalysis({
      spec,
      namespace: "shop",
      targetName: "checkout",
      serviceName: "checkout",
      metricsMesh: "istio",
      client,
      now,
      scrapeIntervalMs: 1000,
      stepStartedAt: new Date(now.getTime() - 97_400),
    });
    client.close();
    assert.deepEqual(m[0], {
      metric: "errors",
      value: null,
      counts: { canary: { requests: 100.2, events: 3.4 }, primary: { requests: 900.6, events: 0 } },
    });
    assert.deepEqual(m[1]?.buckets?.canary, [
      { le: 50, count: 40 },
      { le: 100, count: 90 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ]);
    assert.equal(m[1]?.buckets?.primary[2]?.count, 900);
    const queries = prom.requests.map((r) => r.params.query ?? "");
    assert.equal(queries.length, 6);
    // 97.4 s since the step started: the range is rounded up to whole seconds.
    assert.ok(
      queries.every((q) => q.includes("[98s]")),
      queries.join("\n"),
    );
    assert.ok(queries.every((q) => q.includes("increase(")));
  });
});

describe("sinceStepRange and builtinCountQuery", () => {
  it("covers the step but never less than two scrape intervals", () => {
    const t = new Date("2026-12-02T01:00:00Z");
    assert.equal(sinceStepRange(t, new Date(t.getTime() - 5000), 15_000), "30s");
    assert.equal(sinceStepRange(t, new Date(t.getTime() - 600_000), 15_000), "600s");
    assert.equal(sinceStepRange(t, undefined, 1000), "2s");
  });

  it("selects failures as the complement of the success matchers, per mesh", () => {
    const q = (mesh: "istio" | "linkerd", kind: "requests" | "errors" | "buckets") =>
      builtinCountQuery({ kind, mesh, namespace: "shop", workload: "checkout", range: "60s" });
    const sel =
      'reporter=~"destination|waypoint",destination_workload_namespace="shop",destination_workload="checkout"';
    // 5xx, plus the gRPC server errors among the rest (HTTP 200 to Envoy): two disjoint parts.
    assert.equal(
      q("istio", "errors"),
      `(sum(increase(istio_requests_total{${sel},response_code=~"5.."}[60s])) or vector(0)) + ` +
        `(sum(increase(istio_requests_total{${sel},response_code!~"5..",grpc_response_status=~"2|4|12|13|14|15"}[60s])) or vector(0))`,
    );
    assert.match(q("linkerd", "errors"), /classification="failure"/);
    assert.doesNotMatch(q("linkerd", "requests"), /classification/);
    assert.match(q("linkerd", "buckets"), /^sum by \(le\) \(increase\(response_latency_ms_bucket\{/);
    assert.throws(() =>
      builtinCountQuery({ kind: "requests", mesh: "istio", namespace: "Bad!", workload: "x", range: "1m" }),
    );
  });
});

describe("parseVectorResponse", () => {
  it("keeps each series' labels and value, NaN as null, and rejects anything but an instant vector", () => {
    assert.deepEqual(
      parseVectorResponse({
        status: "success",
        data: {
          resultType: "vector",
          result: [
            { metric: { le: "0.5" }, value: [1, "3"] },
            { metric: { le: "+Inf" }, value: [1, "NaN"] },
          ],
        },
      }),
      [
        { labels: { le: "0.5" }, value: 3 },
        { labels: { le: "+Inf" }, value: null },
      ],
    );
    assert.throws(
      () => parseVectorResponse({ status: "success", data: { resultType: "matrix", result: [] } }),
      PrometheusQueryError,
    );
    assert.throws(
      () =>
        parseVectorResponse({
          status: "success",
          data: { resultType: "vector", result: [{ metric: {}, value: [1, "abc"] }] },
        }),
      PrometheusQueryError,
    );
  });
});
