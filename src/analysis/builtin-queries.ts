// Vireo's own PromQL for the builtin metrics (success rate, p99 latency): one small table entry per data plane.
import type { MetricsMesh } from "../api/constants.ts";
import {
  assertK8sName,
  assertLabelName,
  assertPromDuration,
  PromQLTemplateError,
  promString,
} from "./promql-template.ts";

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
  /** The Service in front of that Deployment (`<svc>-canary` or `<svc>-primary`): what a Gateway proxy labels by. */
  service?: string;
  /** The split Service port (`spec.service.port`); Gateway proxies name their backends with it. */
  port?: number;
  /** Range of the rate() window as a PromQL duration (see {@link effectiveWindowMs}). */
  window: string;
  /** Label-name overrides from `spec.analysis.labels`, for Prometheus setups that relabel mesh metrics. */
  labels?: { workload?: string; namespace?: string };
}

/** One data plane's metric vocabulary: the only thing a new data plane adds (plus a test). */
interface DataPlaneMetrics {
  requests: string;
  durationBucket: string;
  /** Milliseconds per unit of the duration histogram (thresholds are written in ms). */
  msPerUnit: number;
  /** Matchers selecting the server-side observations of one workload, each request counted once. */
  matchers(input: BuiltinQueryInput): string[];
  /** Matchers selecting the non-failed requests among them (all must hold). */
  success: readonly SuccessMatcher[];
}

/** A negative matcher `label != value` or `label !~ regex` that failed requests break. */
type SuccessMatcher = readonly [label: string, value: string, op: "!=" | "!~"];

/** Sidecar meshes label by workload; `spec.analysis.labels` may rename those labels. */
const byWorkload =
  (inbound: string, workloadLabel: string, namespaceLabel: string) =>
  (input: BuiltinQueryInput): string[] => {
    const w = input.labels?.workload ?? workloadLabel;
    const n = input.labels?.namespace ?? namespaceLabel;
    assertLabelName(w);
    assertLabelName(n);
    return [inbound, `${n}=${promString(input.namespace)}`, `${w}=${promString(input.workload)}`];
  };

/**
 * gRPC status codes that gRPC's HTTP mapping turns into 5xx (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
 * UNAVAILABLE, DATA_LOSS): the server-side failures, as 5xx are for HTTP. Client errors (NOT_FOUND, …) are not.
 */
const GRPC_SERVER_ERRORS = "2|4|12|13|14|15";

const successMatchers = (v: DataPlaneMetrics) =>
  v.success.map(([l, value, op]) => `${l}${op}${promString(value)}`);

/**
 * Per data plane: Istio's standard metrics (istio.io, "Istio Standard Metrics"), Linkerd's proxy metrics
 * (linkerd.io, "Proxy Metrics"), Traefik's read off a running Traefik v3.6.12 (see e2e/traefik-gateway.test.ts).
 */
const DATA_PLANES: Record<MetricsMesh, DataPlaneMetrics> = {
  istio: {
    requests: "istio_requests_total",
    durationBucket: "istio_request_duration_milliseconds_bucket",
    msPerUnit: 1,
    // A sidecar reports at the destination; in ambient mode the waypoint reports instead (reporter="waypoint",
    // with the destination workload's labels). One request is never reported by both.
    matchers: byWorkload(
      `reporter=~${promString("destination|waypoint")}`,
      "destination_workload",
      "destination_workload_namespace",
    ),
    // `!~` is anchored in PromQL: "5.." excludes exactly the 5xx codes. A failed gRPC call is HTTP 200 to Envoy,
    // its code in grpc_response_status (empty for plain HTTP): the codes gRPC maps to 5xx fail too.
    success: [
      ["response_code", "5..", "!~"],
      ["grpc_response_status", GRPC_SERVER_ERRORS, "!~"],
    ],
  },
  linkerd: {
    requests: "response_total",
    durationBucket: "response_latency_ms_bucket",
    msPerUnit: 1,
    matchers: byWorkload(`direction=${promString("inbound")}`, "deployment", "namespace"),
    // Linkerd classifies gRPC errors as failures too; `!= "failure"` keeps unclassified responses as successes.
    success: [["classification", "failure", "!="]],
  },
  traefik: {
    requests: "traefik_service_requests_total",
    durationBucket: "traefik_service_request_duration_seconds_bucket",
    msPerUnit: 1000,
    // Traefik's Gateway provider names the service of one backendRef <namespace>-<service>-http-<port>, suffixed
    // with its provider; the Gateway sees every request to that backend exactly once.
    matchers: (input) => {
      if (input.service === undefined || input.port === undefined)
        throw new PromQLTemplateError("traefik metrics need the backend Service and port");
      assertK8sName("service", input.service);
      return [
        `service=${promString(`${input.namespace}-${input.service}-http-${input.port}@kubernetesgateway`)}`,
      ];
    },
    success: [["code", "5..", "!~"]],
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
  const v = DATA_PLANES[input.mesh];
  if (!v) throw new PromQLTemplateError(`unknown metrics mesh ${JSON.stringify(input.mesh)}`);
  assertK8sName("namespace", input.namespace);
  assertK8sName("workload", input.workload);
  assertPromDuration(input.window);
  const matchers = v.matchers(input);
  const selector = (metric: string, extra: string[] = []) =>
    `${metric}{${[...matchers, ...extra].join(",")}}`;
  const rate = (metric: string, extra?: string[]) => `rate(${selector(metric, extra)}[${input.window}])`;

  switch (input.builtin) {
    case "request-success-rate": {
      const ok = `sum(${rate(v.requests, successMatchers(v))})`;
      const all = `sum(${rate(v.requests)})`;
      return `(${ok} or vector(0)) / ${all} * 100`;
    }
    case "request-duration": {
      const p99 = `histogram_quantile(0.99, sum by (le) (${rate(v.durationBucket)}))`;
      return v.msPerUnit === 1 ? p99 : `${p99} * ${v.msPerUnit}`;
    }
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
  const v = DATA_PLANES[input.mesh];
  if (!v) throw new PromQLTemplateError(`unknown metrics mesh ${JSON.stringify(input.mesh)}`);
  assertK8sName("namespace", input.namespace);
  assertK8sName("workload", input.workload);
  assertPromDuration(input.range);
  const matchers = v.matchers({ ...input, builtin: "request-success-rate", window: input.range });
  const increase = (metric: string, extra: string[] = []) =>
    `increase(${metric}{${[...matchers, ...extra].join(",")}}[${input.range}])`;
  if (input.kind === "buckets") return `sum by (le) (${increase(v.durationBucket)})`;
  if (input.kind === "requests") return `sum(${increase(v.requests)})`;
  // A request fails when it breaks a success matcher: the first one's complement (`!~ "5.."` becomes `=~ "5.."`,
  // `!=` becomes `=`), or the next one's while holding the first, …: disjoint parts that add up.
  const complement = ([label, value, op]: SuccessMatcher) =>
    `${label}${op === "!~" ? "=~" : "="}${promString(value)}`;
  const held = successMatchers(v);
  const parts = v.success.map((m, i) => `sum(${increase(v.requests, [...held.slice(0, i), complement(m)])})`);
  return parts.length === 1 ? (parts[0] as string) : parts.map((p) => `(${p} or vector(0))`).join(" + ");
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
