// Connects the engine's analysis ticks to their sources: resolves each Rollout's Prometheus connection, then measures
// its metrics (PromQL through Prometheus, web metrics through the web client).

import { measureAnalysis } from "../analysis/measure.ts";
import {
  PrometheusClient,
  type PrometheusClientConfig,
  type PrometheusQuerier,
} from "../analysis/prometheus-client.ts";
import { type ControllerPrometheusDefaults, resolvePrometheusConfig } from "../analysis/prometheus-config.ts";
import { queryScopeIssues } from "../analysis/scope-check.ts";
import type { MetricMeasurement } from "../analysis/types.ts";
import type { WebQuerier } from "../analysis/web-metric.ts";
import { webMetricIssues } from "../analysis/web-spec-issues.ts";
import type { MetricsMesh } from "../api/constants.ts";
import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import type { ReadSecret } from "../api/secret-ref.ts";
import type { SpecIssue } from "../api/validate.ts";
import { metricsMeshFor } from "../mesh/registry.ts";
import type { Egress } from "../net/egress.ts";
import type { WorkloadNames } from "../workload/names.ts";
import type { AnalysisRunner } from "./ports.ts";

/** Options of {@link PrometheusAnalysisRunner}. */
export interface PrometheusAnalysisRunnerOptions {
  /** The controller's Prometheus flags. */
  defaults: ControllerPrometheusDefaults;
  readSecret: ReadSecret;
  /** Whose metrics smi/gateway-api Rollouts use (`--metrics-mesh`). */
  metricsMesh: MetricsMesh;
  /** Where connections go out (tenant-named addresses under its address policy). */
  egress: Pick<Egress, "agents">;
  /** The Prometheus scrape interval (windows are at least twice it); default 15 s. */
  scrapeIntervalMs?: number | undefined;
  /** `--scope-queries` on: the label holding the namespace (`--query-namespace-label`). */
  scopeLabel?: string | undefined;
  /** Measures web metrics (without it they are error measurements). */
  web?: WebQuerier | undefined;
  /** `--allowed-check-urls`: prefixes a web metric's URL must lie under (empty: web metrics are refused). */
  allowedWebUrls?: readonly string[] | undefined;
  /** The engine's clock: queries are evaluated at the time `stepStartedAt` was written in (default: the host's). */
  now?: () => Date;
}

/** Prometheus-backed {@link AnalysisRunner}; keeps one client per distinct connection setting. */
export class PrometheusAnalysisRunner implements AnalysisRunner {
  readonly #o: PrometheusAnalysisRunnerOptions;
  readonly #clients = new Map<string, PrometheusClient>();

  constructor(options: PrometheusAnalysisRunnerOptions) {
    this.#o = options;
  }

  /**
   * What this controller refuses in the spec before any traffic moves: web metrics that do not render or lie outside
   * `--allowed-check-urls` (never called then), and what `--scope-queries` cannot confine (see queryScopeIssues).
   */
  specIssues(spec: RolloutSpec, names: WorkloadNames): SpecIssue[] {
    const input = {
      namespace: names.namespace,
      targetName: names.target,
      serviceName: names.rootService,
      ...(this.#o.scrapeIntervalMs !== undefined ? { scrapeIntervalMs: this.#o.scrapeIntervalMs } : {}),
    };
    const web = webMetricIssues(spec, input, this.#o.allowedWebUrls ?? []);
    if (this.#o.scopeLabel === undefined) return web;
    return [
      ...web,
      ...queryScopeIssues(spec, {
        ...input,
        metricsMesh: metricsMeshFor(spec.provider, this.#o.metricsMesh),
        scopeLabel: this.#o.scopeLabel,
      }),
    ];
  }

  /**
   * Measures every metric. A Prometheus configuration problem (no address, an address outside the allow-list, a
   * missing or unlabelled Secret) becomes an error measurement for each PromQL metric, so it shows in status and
   * counts towards consecutiveErrorLimit instead of vanishing in a log; no query is sent then. Web metrics need no
   * Prometheus and are measured all the same.
   */
  async measure(
    spec: RolloutSpec,
    names: WorkloadNames,
    signal: AbortSignal,
    status?: RolloutStatus,
  ): Promise<MetricMeasurement[]> {
    let client: PrometheusQuerier;
    try {
      client = this.#client(
        await resolvePrometheusConfig(spec, names.namespace, this.#o.defaults, this.#o.readSecret),
      );
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (spec.analysis.metrics.every((m) => m.web === undefined))
        return spec.analysis.metrics.map((m) => ({ metric: m.name, value: null, error }));
      const refuse = () => Promise.reject(new Error(error));
      client = { query: refuse, queryVector: refuse };
    }
    return measureAnalysis({
      spec,
      namespace: names.namespace,
      targetName: names.target,
      serviceName: names.rootService,
      metricsMesh: metricsMeshFor(spec.provider, this.#o.metricsMesh),
      client,
      ...(this.#o.web ? { web: this.#o.web } : {}),
      signal,
      now: (this.#o.now ?? (() => new Date()))(),
      ...(status?.stepStartedAt ? { stepStartedAt: new Date(status.stepStartedAt) } : {}),
      ...(status?.workload?.canaryHash ? { canaryHash: status.workload.canaryHash } : {}),
      ...(this.#o.scrapeIntervalMs !== undefined ? { scrapeIntervalMs: this.#o.scrapeIntervalMs } : {}),
      ...(this.#o.scopeLabel !== undefined ? { scopeLabel: this.#o.scopeLabel } : {}),
    });
  }

  #client(config: PrometheusClientConfig): PrometheusClient {
    // Credentials are part of the key so a rotated Secret gets a fresh client; the key never leaves this map.
    const key = JSON.stringify(config);
    let client = this.#clients.get(key);
    if (!client) {
      if (this.#clients.size > 256) this.#clients.clear();
      client = new PrometheusClient(config, this.#o.egress);
      this.#clients.set(key, client);
    }
    return client;
  }
}
