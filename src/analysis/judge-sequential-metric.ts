// Pure glue from a measured metric to a judge: sequential result: which test, what it carries, and the words status shows.
import type { Measurement, MetricSpec } from "../api/rollout-schema.ts";
import { judgeLatency } from "./judge-latency.ts";
import {
  type ArmCounts,
  judgeSequentialCounts,
  SEQUENTIAL_DEFAULTS,
  type SequentialJudgement,
  type SequentialSettings,
} from "./judge-sequential-counts.ts";
import type { MetricMeasurement, MetricResult, Verdict } from "./types.ts";

/** Where the rollout stands for a sequential metric: the step being measured and the evidence of earlier steps. */
export interface SequentialContext {
  step: number;
  carriedLogEvidence: number;
}

/** The quantile whose pooled bucket separates slow requests (the builtin request-duration is a p99). */
export const LATENCY_QUANTILE = 0.99;

/** The sequential settings of `metric`, defaults filled in. */
export function sequentialSettings(metric: MetricSpec): SequentialSettings {
  return {
    alpha: metric.alpha ?? SEQUENTIAL_DEFAULTS.alpha,
    margin: metric.margin ?? SEQUENTIAL_DEFAULTS.margin,
    minSamples: metric.minSamples ?? SEQUENTIAL_DEFAULTS.minSamples,
  };
}

/**
 * The log-evidence earlier steps hand to `step`, read from the newest stored measurement of `metric`: its carried
 * part while it is from the same step, its whole evidence once the step has moved on (that step's factor is final).
 */
export function carriedEvidence(history: readonly Measurement[], metric: string, step: number): number {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i];
    if (m?.metric !== metric || !m.sequential) continue;
    return m.sequential.step === step ? m.sequential.carriedLogEvidence : m.sequential.logEvidence;
  }
  return 0;
}

/** 12345 → "12,345" (counts from increase() are rounded for people; the judge uses them unrounded). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** An evidence value for people: two significant digits below 100, whole numbers above. */
export function formatEvidence(logEvidence: number): string {
  const e = Math.exp(logEvidence);
  if (e < 0.01) return "< 0.01";
  if (e >= 1e9) return "> 1,000,000,000";
  return e < 100 ? String(Number(e.toPrecision(2))) : formatCount(e);
}

/** Judges a judge: sequential metric. Never throws; missing counts are an error, no traffic is "no data". */
export function judgeSequentialMetric(
  metric: MetricSpec,
  m: MetricMeasurement,
  ctx: SequentialContext,
  noData: "inconclusive" | "fail" | "pass",
): MetricResult {
  const settings = sequentialSettings(metric);
  const needed = formatCount(1 / settings.alpha);
  const base: MetricResult = {
    metric: metric.name,
    verdict: "Inconclusive",
    threshold: `evidence < ${needed} (alpha ${settings.alpha}, margin ${Math.round(settings.margin * 1000) / 10} %)`,
  };
  if (m.error !== undefined) return { ...base, verdict: "Error", message: m.error };
  const latency = metric.builtin === "request-duration";
  let judged: SequentialJudgement;
  let canary: ArmCounts;
  let primary: ArmCounts;
  let boundary: number | undefined;
  if (latency) {
    if (!m.buckets) return { ...base, verdict: "Error", message: "no latency buckets were measured" };
    const l = judgeLatency(
      m.buckets.canary,
      m.buckets.primary,
      ctx.carriedLogEvidence,
      settings,
      LATENCY_QUANTILE,
    );
    judged = l;
    ({ canary, primary, boundary } = l);
  } else {
    if (!m.counts) return { ...base, verdict: "Error", message: "no request counts were measured" };
    ({ canary, primary } = m.counts);
    judged = judgeSequentialCounts(canary, primary, ctx.carriedLogEvidence, settings);
  }
  const sequential: NonNullable<MetricResult["sequential"]> = {
    step: ctx.step,
    canaryRequests: canary.requests,
    canaryEvents: canary.events,
    primaryRequests: primary.requests,
    primaryEvents: primary.events,
    ...(boundary !== undefined ? { boundary } : {}),
    logEvidence: judged.logEvidence,
    carriedLogEvidence: ctx.carriedLogEvidence,
  };
  const what = latency
    ? boundary === undefined
      ? "slow requests (no bucket bound below the pooled p99 yet)"
      : `requests slower than ${boundary} (the bucket bound at the pooled p99)`
    : "errors";
  const saw =
    `canary ${formatCount(canary.events)}/${formatCount(canary.requests)} ${what} vs primary ` +
    `${formatCount(primary.events)}/${formatCount(primary.requests)} in step ${ctx.step}; ` +
    `evidence ${formatEvidence(judged.logEvidence)} of ${needed} needed to fail`;
  const rates =
    !latency && canary.requests > 0 && primary.requests > 0
      ? {
          value: 100 * (1 - canary.events / canary.requests),
          primaryValue: 100 * (1 - primary.events / primary.requests),
        }
      : {};
  const result = (verdict: Verdict, why: string): MetricResult => ({
    ...base,
    ...rates,
    verdict,
    message: `${saw}${why}`,
    sequential,
  });
  switch (judged.reason) {
    case "evidence":
      return { ...result("Fail", ": the canary is worse than the primary"), conclusive: true };
    case "no-worse":
      return result(
        "Pass",
        `; shown no worse than the primary (evidence ${formatEvidence(judged.logNoWorse)})`,
      );
    case "min-samples":
      return result(
        "Pass",
        settings.minSamples > 0 ? ` (minSamples ${formatCount(settings.minSamples)} reached)` : "",
      );
    case "waiting":
      return result("Inconclusive", `; waiting for ${formatCount(settings.minSamples)} canary requests`);
    case "no-traffic": {
      const verdict: Verdict = noData === "pass" ? "Pass" : noData === "fail" ? "Fail" : "Inconclusive";
      return result(verdict, `; no traffic to judge yet (noData: ${noData})`);
    }
  }
}
