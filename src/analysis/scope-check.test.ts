import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RolloutSpecInput, RolloutSpecSchema } from "../api/rollout-schema.ts";
import { measureAnalysis, queryFor } from "./measure.ts";
import type { PrometheusQuerier } from "./prometheus-client.ts";
import { queryScopeIssues } from "./scope-check.ts";

const spec = (analysis: RolloutSpecInput["analysis"]) =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "istio",
    strategy: { canary: { stepWeight: 10 } },
    analysis,
  });
const input = {
  namespace: "attacker",
  targetName: "checkout",
  serviceName: "checkout",
  metricsMesh: "istio" as const,
  scopeLabel: "namespace",
};

describe("query scoping of a Rollout's analysis", () => {
  it("confines custom queries after rendering, and leaves built-in ones (already scoped by their mesh labels)", () => {
    const s = spec({
      metrics: [
        {
          name: "errors",
          query: 'sum(rate(errors_total{deployment="{{target}}"}[{{interval}}]))',
          thresholdRange: { max: 1 },
        },
        { name: "ok", builtin: "request-success-rate", thresholdRange: { min: 99 } },
      ],
    });
    assert.equal(
      queryFor({ ...input, spec: s }, s.analysis.metrics[0]!, "checkout"),
      'sum(rate(errors_total{deployment="checkout", namespace="attacker"}[30s]))',
    );
    assert.equal(
      queryFor({ ...input, spec: s }, s.analysis.metrics[1]!, "checkout"),
      queryFor({ ...input, scopeLabel: undefined, spec: s }, s.analysis.metrics[1]!, "checkout"),
    );
    assert.deepEqual(queryScopeIssues(s, input), []);
  });

  it("names each query it cannot confine, and a renamed namespace label", () => {
    const s = spec({
      labels: { namespace: "source_workload_namespace" },
      metrics: [
        { name: "ok", query: "sum(up)", thresholdRange: { min: 1 } },
        { name: "peek", query: 'sum(up{namespace="victim"})', thresholdRange: { min: 1 } },
        { name: "broken", query: "sum(up{", thresholdRange: { min: 1 } },
      ],
    });
    const issues = queryScopeIssues(s, input);
    assert.deepEqual(
      issues.map((i) => i.path),
      ["spec.analysis.labels.namespace", "spec.analysis.metrics[1].query", "spec.analysis.metrics[2].query"],
    );
    assert.match(
      issues[1]!.message,
      /has its own namespace matcher namespace="victim"; queries are limited to namespace="attacker"/,
    );
    assert.match(issues[2]!.message, /not valid PromQL/);
  });

  it("never sends a query it could not confine: the metric is an error measurement", async () => {
    const sent: string[] = [];
    const client: PrometheusQuerier = {
      query: async (q) => {
        sent.push(q);
        return 1;
      },
    };
    const s = spec({
      metrics: [
        { name: "mine", query: "sum(up)", thresholdRange: { min: 1 } },
        { name: "peek", query: 'sum(up{namespace="victim"})', thresholdRange: { min: 1 } },
      ],
    });
    const [mine, peek] = await measureAnalysis({ ...input, spec: s, client });
    assert.equal(mine?.value, 1);
    assert.equal(peek?.value, null);
    assert.match(peek?.error ?? "", /limited to namespace="attacker"/);
    assert.deepEqual(sent, ['sum(up{namespace="attacker"})']);
  });
});
