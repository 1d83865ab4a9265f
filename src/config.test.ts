import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startFakePrometheus, vector } from "./analysis/testing/prom-server.ts";
import { RolloutSpecSchema } from "./api/rollout-schema.ts";
import { loadConfig } from "./config.ts";
import { PrometheusAnalysisRunner } from "./controller/analysis-runner.ts";
import { workloadNames } from "./workload/names.ts";

describe("loadConfig: --prometheus-scrape-interval", () => {
  it("is unset by default (the 15 s default applies downstream)", () => {
    assert.equal(loadConfig([], {}).prometheusScrapeIntervalMs, undefined);
  });

  it("parses a duration from the flag, or from VIREO_PROMETHEUS_SCRAPE_INTERVAL", () => {
    assert.equal(loadConfig(["--prometheus-scrape-interval=1s"], {}).prometheusScrapeIntervalMs, 1000);
    assert.equal(
      loadConfig([], { VIREO_PROMETHEUS_SCRAPE_INTERVAL: "30s" }).prometheusScrapeIntervalMs,
      30_000,
    );
    assert.equal(
      loadConfig(["--prometheus-scrape-interval=500ms"], { VIREO_PROMETHEUS_SCRAPE_INTERVAL: "30s" })
        .prometheusScrapeIntervalMs,
      500,
      "the flag wins over the environment",
    );
  });

  it("names the flag when the value is not a duration", () => {
    assert.throws(
      () => loadConfig(["--prometheus-scrape-interval=15"], {}),
      /prometheus-scrape-interval: "15" is not a duration/,
    );
  });
});

describe("PrometheusAnalysisRunner scrape interval", () => {
  it("widens short windows to twice the configured scrape interval, else twice 15 s", async () => {
    const prom = await startFakePrometheus(() => ({ body: vector("100") }));
    try {
      const spec = RolloutSpecSchema.parse({
        targetRef: { name: "app" },
        service: { port: 80 },
        provider: "istio",
        strategy: { canary: { stepWeight: 10 } },
        analysis: {
          interval: "1s",
          metrics: [{ name: "ok", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
        },
      });
      const names = workloadNames("ns", "app", spec);
      const noSecrets = async () => undefined;
      const windows: string[] = [];
      for (const runner of [
        new PrometheusAnalysisRunner({ address: prom.url }, noSecrets, "istio", 1000),
        new PrometheusAnalysisRunner({ address: prom.url }, noSecrets, "istio"),
      ]) {
        const before = prom.requests.length;
        const [m] = await runner.measure(spec, names, AbortSignal.timeout(5000));
        assert.equal(m?.value, 100, m?.error);
        const query = prom.requests.slice(before).at(-1)?.params.query ?? "";
        windows.push(/\[(\w+)\]/.exec(query)?.[1] ?? query);
      }
      assert.deepEqual(windows, ["2s", "30s"]);
    } finally {
      await prom.close();
    }
  });
});
