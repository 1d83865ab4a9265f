import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Reduce } from "../analysis/reduce.ts";
import { judgeTick } from "../analysis/verdict.ts";
import type { WebQuerier } from "../analysis/web-metric.ts";
import type { WebRequest } from "../analysis/web-template.ts";
import { type RolloutSpecInput, RolloutSpecSchema } from "../api/rollout-schema.ts";
import type { WebMetricSpec } from "../api/web-metric-schema.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { workloadNames } from "../workload/names.ts";
import { PrometheusAnalysisRunner } from "./analysis-runner.ts";

const spec = (metrics: NonNullable<RolloutSpecInput["analysis"]>["metrics"]) =>
  RolloutSpecSchema.parse({
    targetRef: { name: "app" },
    service: { port: 80 },
    provider: "istio",
    strategy: { canary: { stepWeight: 10 } },
    analysis: { metrics },
  });

/** A web source answering by URL, recording every request. */
function fakeWeb(answer: (url: string) => number | null | Error): WebQuerier & { requests: WebRequest[] } {
  const requests: WebRequest[] = [];
  return {
    requests,
    async value(_web: WebMetricSpec, request: WebRequest, _reduce: Reduce | undefined) {
      requests.push(request);
      const a = answer(request.url);
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

const runner = (web: WebQuerier, allowed = ["http://stats.shop:8080/"]) =>
  new PrometheusAnalysisRunner({
    defaults: {},
    readSecret: async () => undefined,
    metricsMesh: "istio",
    egress: loopbackEgress(),
    web,
    allowedWebUrls: allowed,
  });

const WEB = { url: "http://stats.shop:8080/{{ namespace }}/{{ target }}", jsonPath: "$.v" };

describe("PrometheusAnalysisRunner with web metrics", () => {
  it("measures web metrics without any Prometheus, the primary through {{ target }}, and judges them as any metric", async () => {
    const web = fakeWeb((url) => (url.endsWith("/app-primary") ? 95 : url.endsWith("/app") ? 97 : null));
    const s = spec([
      { name: "score", web: WEB, thresholdRange: { min: 96 } },
      { name: "vs-primary", web: WEB, compareToPrimary: { maxDecrease: 1 } },
      { name: "low", web: WEB, thresholdRange: { min: 98 } },
    ]);
    const got = await runner(web).measure(s, workloadNames("ns", "app", s), AbortSignal.timeout(5000));
    assert.deepEqual(
      got.map((m) => [m.metric, m.value, m.primaryValue, m.error]),
      [
        ["score", 97, undefined, undefined],
        ["vs-primary", 97, 95, undefined],
        ["low", 97, undefined, undefined],
      ],
    );
    assert.deepEqual(web.requests.map((r) => r.url).sort(), [
      "http://stats.shop:8080/ns/app",
      "http://stats.shop:8080/ns/app",
      "http://stats.shop:8080/ns/app",
      "http://stats.shop:8080/ns/app-primary",
    ]);
    const { verdict, results } = judgeTick(s.analysis.metrics, got, "inconclusive");
    assert.equal(verdict, "Fail");
    assert.deepEqual(
      results.map((r) => r.verdict),
      ["Pass", "Pass", "Fail"],
    );
  });

  it("a Prometheus that cannot be configured fails the PromQL metrics only", async () => {
    const web = fakeWeb(() => 1);
    const s = spec([
      { name: "web", web: WEB, thresholdRange: { max: 2 } },
      { name: "prom", builtin: "request-success-rate", thresholdRange: { min: 99 } },
    ]);
    const got = await runner(web).measure(s, workloadNames("ns", "app", s), AbortSignal.timeout(5000));
    assert.deepEqual(got[0], { metric: "web", value: 1 });
    assert.match(got[1]?.error ?? "", /no Prometheus address/);
  });

  it("no data and errors of a web metric are judged by the Rollout's noData and counted as errors", async () => {
    const s = spec([
      { name: "none", web: WEB, thresholdRange: { min: 1 } },
      { name: "broken", web: { ...WEB, url: "http://stats.shop:8080/x" }, thresholdRange: { min: 1 } },
    ]);
    const web = fakeWeb((url) => (url.endsWith("/x") ? new Error("web metric: 5xx") : null));
    const got = await runner(web).measure(s, workloadNames("ns", "app", s), AbortSignal.timeout(5000));
    const { results } = judgeTick(s.analysis.metrics, got, "fail");
    assert.deepEqual(
      results.map((r) => [r.verdict, r.message]),
      [
        ["Fail", "no data for the canary (noData: fail)"],
        ["Error", "web metric: 5xx"],
      ],
    );
  });

  it("spec issues: a URL outside --allowed-check-urls, and a request that does not render, before anything is sent", () => {
    const web = fakeWeb(() => 1);
    const s = spec([
      { name: "ok", web: WEB, thresholdRange: { min: 1 } },
      {
        name: "outside",
        web: { ...WEB, url: "http://other.shop:8080/{{ target }}" },
        thresholdRange: { min: 1 },
      },
      { name: "typo", web: { ...WEB, url: "http://stats.shop:8080/{{ nope }}" }, thresholdRange: { min: 1 } },
    ]);
    const issues = runner(web).specIssues(s, workloadNames("ns", "app", s));
    assert.deepEqual(
      issues.map((i) => i.path),
      ["spec.analysis.metrics[1].web.url", "spec.analysis.metrics[2].web"],
    );
    assert.match(
      issues[0]?.message ?? "",
      /metric outside: URL not allowed by the controller's --allowed-check-urls/,
    );
    assert.match(issues[1]?.message ?? "", /unknown variable \{\{ nope \}\}/);
    // Without an allow-list every web metric is refused.
    assert.equal(runner(web, []).specIssues(s, workloadNames("ns", "app", s)).length, 3);
    assert.equal(web.requests.length, 0);
  });
});
