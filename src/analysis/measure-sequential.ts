// Measures a judge: sequential metric: cumulative request/error counts or latency buckets of canary and primary since
// the step started, all at one evaluation time.

import type { MetricsMesh } from "../api/constants.ts";
import type { MetricSpec } from "../api/rollout-schema.ts";
import { builtinCountQuery, type CountKind, effectiveWindowMs } from "./builtin-queries.ts";
import type { Bucket } from "./judge-latency.ts";
import type { PrometheusQuerier, QueryOptions } from "./prometheus-client.ts";
import { toPromDuration } from "./promql-template.ts";
import type { MetricMeasurement } from "./types.ts";

/** What {@link measureSequential} needs beyond the metric. */
export interface SequentialMeasureInput {
  namespace: string;
  targetName: string;
  metricsMesh: MetricsMesh;
  /** The root Service and the split port: data planes that label by backend (Gateway proxies) need them. */
  serviceName: string;
  port?: number;
  labels?: { workload?: string; namespace?: string };
  client: PrometheusQuerier;
  /** When the current step started: the counts cover [stepStartedAt, time]. */
  stepStartedAt?: Date;
  scrapeIntervalMs?: number;
  signal?: AbortSignal;
}

/**
 * The range since the step started, in whole seconds, but at least two scrape intervals (increase() needs two
 * samples; a slightly longer range only adds requests at the previous weight, which the judge's realised share
 * accounts for). Without a step start, two scrape intervals.
 */
export function sinceStepRange(
  time: Date,
  stepStartedAt: Date | undefined,
  scrapeIntervalMs?: number,
): string {
  const elapsed = stepStartedAt ? time.getTime() - stepStartedAt.getTime() : 0;
  const ms = effectiveWindowMs(Math.ceil(Math.max(0, elapsed) / 1000) * 1000, scrapeIntervalMs);
  return toPromDuration(Math.ceil(ms / 1000) * 1000);
}

/** Parses `le` labels into cumulative buckets (le="+Inf" is Infinity); drops series without a usable le. */
function toBuckets(samples: { labels: Record<string, string>; value: number | null }[]): Bucket[] {
  const out: Bucket[] = [];
  for (const s of samples) {
    const raw = s.labels.le;
    const le = raw === "+Inf" ? Number.POSITIVE_INFINITY : Number(raw);
    if (raw === undefined || Number.isNaN(le)) continue;
    out.push({ le, count: s.value ?? 0 });
  }
  return out.sort((a, b) => a.le - b.le);
}

/** Queries the counts of a judge: sequential metric. Rejects on a query failure (measure.ts turns it into an error). */
export async function measureSequential(
  input: SequentialMeasureInput,
  metric: MetricSpec,
  time: Date,
): Promise<MetricMeasurement> {
  const range = sinceStepRange(time, input.stepStartedAt, input.scrapeIntervalMs);
  const options: QueryOptions = { time, ...(input.signal ? { signal: input.signal } : {}) };
  const query = (kind: CountKind, workload: string) =>
    builtinCountQuery({
      kind,
      range,
      mesh: input.metricsMesh,
      namespace: input.namespace,
      workload,
      service: `${input.serviceName}-${workload === input.targetName ? "canary" : "primary"}`,
      ...(input.port !== undefined ? { port: input.port } : {}),
      ...(input.labels ? { labels: input.labels } : {}),
    });
  const canary = input.targetName;
  const primary = `${input.targetName}-primary`;
  if (metric.builtin === "request-duration") {
    const vector = input.client.queryVector?.bind(input.client);
    if (!vector) throw new Error("this Prometheus client cannot read histogram buckets");
    const [c, p] = await Promise.all([
      vector(query("buckets", canary), options),
      vector(query("buckets", primary), options),
    ]);
    return { metric: metric.name, value: null, buckets: { canary: toBuckets(c), primary: toBuckets(p) } };
  }
  // No series means no such requests in the range: a count of zero, not "no data" (the judge sees zero traffic).
  const count = async (kind: CountKind, workload: string) =>
    (await input.client.query(query(kind, workload), options)) ?? 0;
  const [cr, ce, pr, pe] = await Promise.all([
    count("requests", canary),
    count("errors", canary),
    count("requests", primary),
    count("errors", primary),
  ]);
  return {
    metric: metric.name,
    value: null,
    counts: { canary: { requests: cr, events: ce }, primary: { requests: pr, events: pe } },
  };
}
