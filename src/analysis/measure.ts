// Measures every analysis metric of a Rollout in one tick: concurrent PromQL queries (one shared evaluation time) and
// web requests.

import type { MetricsMesh } from "../api/constants.ts";
import { parseDuration } from "../api/duration.ts";
import type { MetricSpec, RolloutSpec } from "../api/rollout-schema.ts";
import { sanitizeText } from "../telemetry/sanitize.ts";
import { builtinQuery, effectiveWindowMs } from "./builtin-queries.ts";
import { measureSequential } from "./measure-sequential.ts";
import type { PrometheusQuerier } from "./prometheus-client.ts";
import { scopeQuery } from "./promql-scope.ts";
import { renderPromQL, type TemplateVars, toPromDuration } from "./promql-template.ts";
import type { MetricMeasurement } from "./types.ts";
import type { WebQuerier } from "./web-metric.ts";
import { renderWebRequest } from "./web-template.ts";

/** Input of {@link measureAnalysis}. */
export interface MeasureInput {
  spec: RolloutSpec;
  /** Namespace of the Rollout and its workloads. */
  namespace: string;
  /** The canary Deployment (`spec.targetRef.name`); the primary is `<targetName>-primary`. */
  targetName: string;
  /** The root Service (`spec.service.name` or the target's name). */
  serviceName: string;
  metricsMesh: MetricsMesh;
  client: PrometheusQuerier;
  /** Measures web metrics; without it a web metric is an error measurement. */
  web?: WebQuerier;
  /** Overall deadline of the tick; queries still running when it fires become errors. */
  signal?: AbortSignal;
  /** Evaluation time shared by all queries (default: now), so canary and primary values are comparable. */
  now?: Date;
  /** Scrape interval of the Prometheus, which bounds the shortest usable window (default 15 s). */
  scrapeIntervalMs?: number;
  /** When the current step started: judge: sequential metrics count from there. */
  stepStartedAt?: Date;
  /** StatefulSet and DaemonSet targets: the canary pods' controller-revision-hash ({{ canary_hash }}). */
  canaryHash?: string;
  /**
   * `--scope-queries`: the label holding the namespace; every custom query is confined to `namespace` under it
   * (a query that cannot be is an error measurement, and never sent).
   */
  scopeLabel?: string;
}

/** Longest error message kept: it lands in status and events. */
const MAX_ERROR_LENGTH = 300;

/**
 * Queries every metric of `spec.analysis.metrics` concurrently and returns one measurement per metric, in
 * spec order. A metric that cannot be evaluated yields `{ value: null, error }` and never holds up the
 * others; for compareToPrimary metrics the primary is queried at the same evaluation time as the canary.
 * Never rejects.
 */
export async function measureAnalysis(input: MeasureInput): Promise<MetricMeasurement[]> {
  const time = input.now ?? new Date();
  const metrics = input.spec.analysis.metrics;
  const settled = await Promise.allSettled(metrics.map((m) => measureMetric(input, m, time)));
  return settled.map((s, i) => {
    const metric = (metrics[i] as MetricSpec).name;
    if (s.status === "fulfilled") return s.value;
    return { metric, value: null, error: errorText(s.reason) };
  });
}

async function measureMetric(
  input: MeasureInput,
  metric: MetricSpec,
  time: Date,
): Promise<MetricMeasurement> {
  if (metric.judge === "sequential") {
    const labels = input.spec.analysis.labels;
    return untilAborted(
      measureSequential(
        {
          namespace: input.namespace,
          targetName: input.targetName,
          metricsMesh: input.metricsMesh,
          serviceName: input.serviceName,
          ...(input.spec.service ? { port: input.spec.service.port } : {}),
          client: input.client,
          ...(labels ? { labels } : {}),
          ...(input.stepStartedAt ? { stepStartedAt: input.stepStartedAt } : {}),
          ...(input.scrapeIntervalMs !== undefined ? { scrapeIntervalMs: input.scrapeIntervalMs } : {}),
          ...(input.signal ? { signal: input.signal } : {}),
        },
        metric,
        time,
      ),
      input.signal,
    );
  }
  const primaryName = `${input.targetName}-primary`;
  const measureOn = valueSource(input, metric, time);
  const run = (workload: string) => untilAborted(measureOn(workload), input.signal);
  const withPrimary = metric.compareToPrimary !== undefined;
  const [canary, primary] = await Promise.allSettled([
    run(input.targetName),
    withPrimary ? run(primaryName) : Promise.resolve(undefined),
  ]);
  if (canary.status === "rejected")
    return { metric: metric.name, value: null, error: errorText(canary.reason) };
  const out: MetricMeasurement = { metric: metric.name, value: canary.value };
  if (withPrimary) {
    if (primary.status === "rejected") {
      return { metric: metric.name, value: canary.value, error: `primary: ${errorText(primary.reason)}` };
    }
    out.primaryValue = primary.value ?? null;
  }
  return out;
}

/** How `metric` is measured on a workload: its web request, or its PromQL (rendered when called, so errors reject). */
function valueSource(
  input: MeasureInput,
  metric: MetricSpec,
  time: Date,
): (workload: string) => Promise<number | null> {
  const { web } = metric;
  if (web !== undefined) {
    const client = input.web;
    return async (workload) => {
      if (!client) throw new Error("this controller measures no web metrics");
      const request = renderWebRequest(web, variablesFor(input, metric, workload));
      return client.value(web, request, metric.reduce, input.signal);
    };
  }
  const reduce = metric.reduce;
  return async (workload) =>
    input.client.query(queryFor(input, metric, workload), {
      time,
      ...(reduce ? { reduce } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
}

type VariableInput = Pick<
  MeasureInput,
  "spec" | "namespace" | "targetName" | "serviceName" | "scrapeIntervalMs" | "canaryHash"
>;

/** The variables of `metric`'s query or request measured on `workload` (the canary or the primary). */
export function variablesFor(input: VariableInput, metric: MetricSpec, workload: string): TemplateVars {
  const requested = parseDuration(metric.window ?? input.spec.analysis.interval);
  return {
    namespace: input.namespace,
    target: workload,
    canary: input.targetName,
    primary: `${input.targetName}-primary`,
    service: input.serviceName,
    interval: toPromDuration(effectiveWindowMs(requested, input.scrapeIntervalMs)),
    ...(input.canaryHash ? { canary_hash: input.canaryHash } : {}),
  };
}

/** The PromQL for `metric` measured on `workload` (the canary or the primary). */
export function queryFor(
  input: Pick<
    MeasureInput,
    | "spec"
    | "namespace"
    | "targetName"
    | "serviceName"
    | "metricsMesh"
    | "scrapeIntervalMs"
    | "scopeLabel"
    | "canaryHash"
  >,
  metric: MetricSpec,
  workload: string,
): string {
  const analysis = input.spec.analysis;
  const vars = variablesFor(input, metric, workload);
  const window = vars.interval;
  if (metric.builtin !== undefined) {
    return builtinQuery({
      builtin: metric.builtin,
      mesh: input.metricsMesh,
      namespace: input.namespace,
      workload,
      // The Service in front of that workload, for data planes that label by backend (Gateway proxies).
      service: `${input.serviceName}-${workload === input.targetName ? "canary" : "primary"}`,
      ...(input.spec.service ? { port: input.spec.service.port } : {}),
      window,
      ...(analysis.labels ? { labels: analysis.labels } : {}),
    });
  }
  if (metric.query === undefined) throw new Error(`metric ${metric.name} has no PromQL`);
  const query = renderPromQL(metric.query, vars);
  return input.scopeLabel === undefined
    ? query
    : scopeQuery(query, { label: input.scopeLabel, namespace: input.namespace });
}

/** Rejects as soon as `signal` aborts, even if the underlying query ignores it. */
function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Error("analysis deadline exceeded"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error("analysis deadline exceeded"));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A short, credential-free message for status. */
function errorText(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const clean = sanitizeText(raw).replace(/\s+/g, " ").trim() || "unknown error";
  return clean.length > MAX_ERROR_LENGTH ? `${clean.slice(0, MAX_ERROR_LENGTH - 1)}…` : clean;
}
