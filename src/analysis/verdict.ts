// Pure verdicts: judges each measurement against its metric's fixed and relative bounds, and a tick as a whole.
import type { MetricSpec } from "../api/rollout-schema.ts";
import { FRESH_CONTEXT, judgeSequentialMetric, type SequentialContext } from "./judge-sequential-metric.ts";
import type { MetricMeasurement, MetricResult, Verdict } from "./types.ts";

/** What "no data" means for a Rollout (`spec.analysis.noData`). */
export type NoDataPolicy = "inconclusive" | "fail" | "pass";

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Describes the bounds of a metric in words, given the primary's value when known. */
export function describeThreshold(metric: MetricSpec, primaryValue?: number | null): string {
  const parts: string[] = [];
  const { min, max } = fixedBounds(metric) ?? {};
  if (min !== undefined) parts.push(`>= ${min}`);
  if (max !== undefined) parts.push(`<= ${max}`);
  const c = relativeBounds(metric);
  if (c) {
    const p = primaryValue ?? undefined;
    const at = (v: number | undefined) => (p === undefined || v === undefined ? "" : ` (${round(v)})`);
    if (c.maxDecrease !== undefined)
      parts.push(`>= primary - ${c.maxDecrease}${at(p === undefined ? p : p - c.maxDecrease)}`);
    if (c.maxIncrease !== undefined)
      parts.push(`<= primary + ${c.maxIncrease}${at(p === undefined ? p : p + c.maxIncrease)}`);
    if (c.maxRatio !== undefined)
      parts.push(`<= ${c.maxRatio} × primary${at(p === undefined ? p : p * c.maxRatio)}`);
    if (c.minRatio !== undefined)
      parts.push(`>= ${c.minRatio} × primary${at(p === undefined ? p : p * c.minRatio)}`);
  }
  return parts.join(" and ");
}

/** The fixed bounds a metric is judged by: all of them, unless `judge: ratio` picks the relative ones only. */
const fixedBounds = (m: MetricSpec) => (m.judge === "ratio" ? undefined : m.thresholdRange);
/** The relative bounds a metric is judged by, unless `judge: threshold` picks the fixed ones only. */
const relativeBounds = (m: MetricSpec) => (m.judge === "threshold" ? undefined : m.compareToPrimary);

/** Lists the bounds a value breaks (empty when it passes). */
function violations(metric: MetricSpec, value: number, primary: number | undefined): string[] {
  const out: string[] = [];
  const { min, max } = fixedBounds(metric) ?? {};
  if (min !== undefined && value < min) out.push(`${round(value)} < ${min}`);
  if (max !== undefined && value > max) out.push(`${round(value)} > ${max}`);
  const c = relativeBounds(metric);
  if (c && primary !== undefined) {
    if (c.maxDecrease !== undefined && value < primary - c.maxDecrease) {
      out.push(`${round(value)} is more than ${c.maxDecrease} below primary ${round(primary)}`);
    }
    if (c.maxIncrease !== undefined && value > primary + c.maxIncrease) {
      out.push(`${round(value)} is more than ${c.maxIncrease} above primary ${round(primary)}`);
    }
    if (c.maxRatio !== undefined && value > primary * c.maxRatio) {
      out.push(`${round(value)} exceeds ${c.maxRatio} × primary ${round(primary)}`);
    }
    if (c.minRatio !== undefined && value < primary * c.minRatio) {
      out.push(`${round(value)} is below ${c.minRatio} × primary ${round(primary)}`);
    }
  }
  return out;
}

function noDataResult(base: MetricResult, policy: NoDataPolicy, what: string): MetricResult {
  const verdict: Verdict = policy === "pass" ? "Pass" : policy === "fail" ? "Fail" : "Inconclusive";
  return { ...base, verdict, message: `${what} (noData: ${policy})` };
}

/**
 * Judges one measurement. No data is never a pass unless the Rollout says `noData: pass`; a relative metric
 * without the primary's value is no data too, because "better than nothing" is not a comparison.
 */
export function judgeMeasurement(
  metric: MetricSpec,
  m: MetricMeasurement,
  noData: NoDataPolicy,
  sequential: SequentialContext = FRESH_CONTEXT,
): MetricResult {
  if (metric.judge === "sequential") return judgeSequentialMetric(metric, m, sequential, noData);
  const base: MetricResult = {
    metric: metric.name,
    verdict: "Pass",
    threshold: describeThreshold(metric, m.primaryValue),
  };
  if (m.error !== undefined) return { ...base, verdict: "Error", message: m.error };
  if (m.value === null || !Number.isFinite(m.value))
    return noDataResult(base, noData, "no data for the canary");
  const withValue: MetricResult = { ...base, value: m.value };
  let primary: number | undefined;
  if (relativeBounds(metric)) {
    if (m.primaryValue === null || m.primaryValue === undefined || !Number.isFinite(m.primaryValue)) {
      return noDataResult(withValue, noData, "no data for the primary to compare with");
    }
    primary = m.primaryValue;
    withValue.primaryValue = primary;
  }
  const broken = violations(metric, m.value, primary);
  if (broken.length > 0) return { ...withValue, verdict: "Fail", message: broken.join("; ") };
  return withValue;
}

/** A tick fails if any metric fails; else errors if any errored; else is inconclusive if any was; else passes. */
export function tickVerdict(results: readonly MetricResult[]): Verdict {
  const has = (v: Verdict) => results.some((r) => r.verdict === v);
  if (has("Fail")) return "Fail";
  if (has("Error")) return "Error";
  if (has("Inconclusive") || results.length === 0) return "Inconclusive";
  return "Pass";
}

/**
 * Judges a whole tick. A metric the provider did not report is an error, so a provider bug can never turn into
 * a pass by omission. `sequential` tells a judge: sequential metric where its rollout stands.
 */
export function judgeTick(
  metrics: readonly MetricSpec[],
  measurements: readonly MetricMeasurement[],
  noData: NoDataPolicy,
  sequential?: (metric: string) => SequentialContext,
): { verdict: Verdict; results: MetricResult[] } {
  const byName = new Map(measurements.map((m) => [m.metric, m]));
  const results = metrics.map((metric) =>
    judgeMeasurement(
      metric,
      byName.get(metric.name) ?? { metric: metric.name, value: null, error: "not measured" },
      noData,
      sequential?.(metric.name),
    ),
  );
  return { verdict: tickVerdict(results), results };
}
