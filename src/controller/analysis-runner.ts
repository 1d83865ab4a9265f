// Connects the engine's analysis ticks to Prometheus: resolves each Rollout's connection, then measures its metrics.

import { measureAnalysis } from "../analysis/measure.ts";
import { PrometheusClient, type PrometheusClientConfig } from "../analysis/prometheus-client.ts";
import { type ControllerPrometheusDefaults, resolvePrometheusConfig } from "../analysis/prometheus-config.ts";
import type { MetricMeasurement } from "../analysis/types.ts";
import type { MetricsMesh } from "../api/constants.ts";
import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import type { ReadSecret } from "../api/secret-ref.ts";
import { metricsMeshFor } from "../mesh/registry.ts";
import type { WorkloadNames } from "../workload/names.ts";
import type { AnalysisRunner } from "./ports.ts";

/** Prometheus-backed {@link AnalysisRunner}; keeps one client per distinct connection setting. */
export class PrometheusAnalysisRunner implements AnalysisRunner {
  readonly #defaults: ControllerPrometheusDefaults;
  readonly #readSecret: ReadSecret;
  readonly #metricsMesh: MetricsMesh;
  readonly #scrapeIntervalMs: number | undefined;
  readonly #now: () => Date;
  readonly #clients = new Map<string, PrometheusClient>();

  /**
   * @param scrapeIntervalMs the Prometheus scrape interval (windows are at least twice it); default 15 s
   * @param now the engine's clock: queries are evaluated at the time `stepStartedAt` was written in
   */
  constructor(
    defaults: ControllerPrometheusDefaults,
    readSecret: ReadSecret,
    metricsMesh: MetricsMesh,
    scrapeIntervalMs?: number,
    now: () => Date = () => new Date(),
  ) {
    this.#now = now;
    this.#defaults = defaults;
    this.#readSecret = readSecret;
    this.#metricsMesh = metricsMesh;
    this.#scrapeIntervalMs = scrapeIntervalMs;
  }

  /**
   * Measures every metric. A configuration problem (no address, an address outside the allow-list, a missing or
   * unlabelled Secret) becomes an error measurement for each metric, so it shows in status and counts towards
   * consecutiveErrorLimit instead of vanishing in a log; no query is sent then.
   */
  async measure(
    spec: RolloutSpec,
    names: WorkloadNames,
    signal: AbortSignal,
    status?: RolloutStatus,
  ): Promise<MetricMeasurement[]> {
    let config: PrometheusClientConfig;
    try {
      config = await resolvePrometheusConfig(spec, names.namespace, this.#defaults, this.#readSecret);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      return spec.analysis.metrics.map((m) => ({ metric: m.name, value: null, error }));
    }
    return measureAnalysis({
      spec,
      namespace: names.namespace,
      targetName: names.target,
      serviceName: names.rootService,
      metricsMesh: metricsMeshFor(spec.provider, this.#metricsMesh),
      client: this.#client(config),
      signal,
      now: this.#now(),
      ...(status?.stepStartedAt ? { stepStartedAt: new Date(status.stepStartedAt) } : {}),
      ...(status?.workload?.canaryHash ? { canaryHash: status.workload.canaryHash } : {}),
      ...(this.#scrapeIntervalMs !== undefined ? { scrapeIntervalMs: this.#scrapeIntervalMs } : {}),
    });
  }

  #client(config: PrometheusClientConfig): PrometheusClient {
    // Credentials are part of the key so a rotated Secret gets a fresh client; the key never leaves this map.
    const key = JSON.stringify(config);
    let client = this.#clients.get(key);
    if (!client) {
      if (this.#clients.size > 256) this.#clients.clear();
      client = new PrometheusClient(config);
      this.#clients.set(key, client);
    }
    return client;
  }
}
