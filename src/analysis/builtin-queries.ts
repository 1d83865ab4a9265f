// Vireo's own PromQL for the builtin metrics (success rate, p99 latency) on Istio and Linkerd proxy metrics.
import {
  assertK8sName,
  assertLabelName,
  assertPromDuration,
  PromQLTemplateError,
  promString,
} from "./promql-template.ts";

/** Whose proxy metrics to read. SMI and Gateway API modes use the metrics of the mesh underneath. */
export type MetricsMesh = "istio" | "linkerd";

/** The builtin metrics a Rollout can name. */
export type BuiltinMetric = "request-success-rate" | "request-duration";

/** Everything a builtin query depends on. */
export interface BuiltinQueryInput {
  builtin: BuiltinMetric;
  mesh: MetricsMesh;
  /** Namespace of the workload. */
  namespace: string;
  /** Deployment whose inbound traffic is measured: the canary, or `<target>-primary`. */
  workload: string;
  /** Range of the rate() window as a PromQL duration (see {@link effectiveWindowMs}). */
  window: string;
  /** Label-name overrides from `spec.analysis.labels`, for Prometheus setups that relabel mesh metrics. */
  labels?: { workload?: string; namespace?: string };
}

/** Per-mesh metric and label names (mesh-apis.md §5.1, §5.2). */
interface MeshVocabulary {
  requests: string;
  durationBucket: string;
  workloadLabel: string;
  namespaceLabel: string;
  /** Matchers selecting server-side observations, so each request is counted once. */
  inbound: [string, string];
  /** Matcher selecting the non-failed requests among them. */
  success: [string, string, "!=" | "!~"];
}

const VOCABULARY: Record<MetricsMesh, MeshVocabulary> = {
  istio: {
    requests: "istio_requests_total",
    durationBucket: "istio_request_duration_milliseconds_bucket",
    workloadLabel: "destination_workload",
    namespaceLabel: "destination_workload_namespace",
    inbound: ["reporter", "destination"],
    // `!~` is anchored in PromQL: "5.." excludes exactly the 5xx codes.
    success: ["response_code", "5..", "!~"],
  },
  linkerd: {
    requests: "response_total",
    durationBucket: "response_latency_ms_bucket",
    workloadLabel: "deployment",
    namespaceLabel: "namespace",
    inbound: ["direction", "inbound"],
    // Linkerd classifies gRPC errors as failures too; `!= "failure"` keeps unclassified responses as successes.
    success: ["classification", "failure", "!="],
  },
};

/**
 * Builds the PromQL for a builtin metric. Both queries are in the units thresholds are written in: success
 * rate in percent (0–100), duration as p99 in milliseconds.
 *
 * No traffic never reads as healthy: with no series both queries return an empty vector, and with series
 * but no requests in the window they return NaN (0/0, or histogram_quantile over zero rates) — both are
 * "no data". A canary whose every request fails still reads 0 %, not "no data": the numerator falls back to
 * `vector(0)` when no non-5xx series exists, while the denominator stays empty when there is no traffic at all.
 *
 * @throws PromQLTemplateError when a name, label name or window is invalid.
 */
export function builtinQuery(input: BuiltinQueryInput): string {
  const v = VOCABULARY[input.mesh];
  if (!v) throw new PromQLTemplateError(`unknown metrics mesh ${JSON.stringify(input.mesh)}`);
  assertK8sName("namespace", input.namespace);
  assertK8sName("workload", input.workload);
  assertPromDuration(input.window);
  const workloadLabel = input.labels?.workload ?? v.workloadLabel;
  const namespaceLabel = input.labels?.namespace ?? v.namespaceLabel;
  assertLabelName(workloadLabel);
  assertLabelName(namespaceLabel);

  const matchers = [
    `${v.inbound[0]}=${promString(v.inbound[1])}`,
    `${namespaceLabel}=${promString(input.namespace)}`,
    `${workloadLabel}=${promString(input.workload)}`,
  ];
  const selector = (metric: string, extra: string[] = []) =>
    `${metric}{${[...matchers, ...extra].join(",")}}`;
  const rate = (metric: string, extra?: string[]) => `rate(${selector(metric, extra)}[${input.window}])`;

  switch (input.builtin) {
    case "request-success-rate": {
      const [label, value, op] = v.success;
      const ok = `sum(${rate(v.requests, [`${label}${op}${promString(value)}`])})`;
      const all = `sum(${rate(v.requests)})`;
      return `(${ok} or vector(0)) / ${all} * 100`;
    }
    case "request-duration":
      return `histogram_quantile(0.99, sum by (le) (${rate(v.durationBucket)}))`;
    default:
      throw new PromQLTemplateError(`unknown builtin metric ${JSON.stringify(input.builtin)}`);
  }
}

/** What a judge: sequential metric counts: all requests, failed ones, or the latency buckets. */
export type CountKind = "requests" | "errors" | "buckets";

/**
 * PromQL for the cumulative counts a sequential judge reads: `increase()` over `range` (the time since the step
 * started), which copes with counter resets and extrapolates over scrape gaps. Requests and errors are one number
 * each (an empty result means none); buckets are one series per `le`.
 *
 * @throws PromQLTemplateError when a name, label name or range is invalid.
 */
export function builtinCountQuery(
  input: Omit<BuiltinQueryInput, "builtin" | "window"> & { kind: CountKind; range: string },
): string {
  const v = VOCABULARY[input.mesh];
  if (!v) throw new PromQLTemplateError(`unknown metrics mesh ${JSON.stringify(input.mesh)}`);
  assertK8sName("namespace", input.namespace);
  assertK8sName("workload", input.workload);
  assertPromDuration(input.range);
  const workloadLabel = input.labels?.workload ?? v.workloadLabel;
  const namespaceLabel = input.labels?.namespace ?? v.namespaceLabel;
  assertLabelName(workloadLabel);
  assertLabelName(namespaceLabel);
  const matchers = [
    `${v.inbound[0]}=${promString(v.inbound[1])}`,
    `${namespaceLabel}=${promString(input.namespace)}`,
    `${workloadLabel}=${promString(input.workload)}`,
  ];
  const [label, value, op] = v.success;
  // The failures are the complement of the success matcher: `!~ "5.."` becomes `=~ "5.."`, `!=` becomes `=`.
  if (input.kind === "errors") matchers.push(`${label}${op === "!~" ? "=~" : "="}${promString(value)}`);
  const metric = input.kind === "buckets" ? v.durationBucket : v.requests;
  const increase = `increase(${metric}{${matchers.join(",")}}[${input.range}])`;
  return input.kind === "buckets" ? `sum by (le) (${increase})` : `sum(${increase})`;
}

/** Default Prometheus scrape interval assumed when the controller is not told otherwise. */
export const DEFAULT_SCRAPE_INTERVAL_MS = 15_000;

/**
 * The range a query looks back over: the metric's `window`, else the analysis `interval`, but never less
 * than twice the scrape interval — rate() needs two samples inside its range, and a shorter range returns
 * nothing and reads as "no data" for a canary that does receive traffic.
 */
export function effectiveWindowMs(
  requestedMs: number,
  scrapeIntervalMs = DEFAULT_SCRAPE_INTERVAL_MS,
): number {
  return Math.max(requestedMs, 2 * scrapeIntervalMs);
}
