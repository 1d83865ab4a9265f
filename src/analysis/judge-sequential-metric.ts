// Pure glue from a measured metric to a judge: sequential result: which test, what it carries, and the words status shows.
import { formatCount } from "../api/evidence-view.ts";
import type { Measurement, MetricSpec } from "../api/rollout-schema.ts";
import { judgeLatency } from "./judge-latency.ts";
import {
  type ArmCounts,
  type Evidence,
  judgeSequentialCounts,
  NO_EVIDENCE,
  SEQUENTIAL_DEFAULTS,
  type SequentialJudgement,
  type SequentialSettings,
} from "./judge-sequential-counts.ts";
import { requestsToPass } from "./judge-sequential-estimate.ts";
import type { MetricMeasurement, MetricResult, Verdict } from "./types.ts";

/** Where the rollout stands for a sequential metric: the step being measured and what earlier ticks left. */
export interface SequentialContext {
  step: number;
  /** The evidence of finished steps. */
  carried: Evidence;
  /** The metric was already shown no worse in this step (it stays passed unless it fails). */
  passedInStep: boolean;
}

/** A rollout that has measured nothing yet. */
export const FRESH_CONTEXT: SequentialContext = { step: 0, carried: NO_EVIDENCE, passedInStep: false };

/** The quantile whose pooled bucket separates slow requests (the builtin request-duration is a p99). */
export const LATENCY_QUANTILE = 0.99;

/** The sequential settings of `metric`, defaults filled in; the floor applies to the error rate only. */
export function sequentialSettings(metric: MetricSpec): SequentialSettings {
  const floorPercent = metric.errorFloor ?? SEQUENTIAL_DEFAULTS.floor * 100;
  return {
    alpha: metric.alpha ?? SEQUENTIAL_DEFAULTS.alpha,
    margin: metric.margin ?? SEQUENTIAL_DEFAULTS.margin,
    beta: metric.beta ?? SEQUENTIAL_DEFAULTS.beta,
    passMargin: metric.passMargin ?? SEQUENTIAL_DEFAULTS.passMargin,
    floor: metric.builtin === "request-success-rate" ? floorPercent / 100 : 0,
    minSamples: metric.minSamples ?? SEQUENTIAL_DEFAULTS.minSamples,
  };
}

/**
 * Where `metric` stands at `step`, read from its newest stored measurement: while that is from the same step, its
 * carried evidence and whether it already passed; once the step has moved on, its whole evidence (that step's
 * factor is final) and nothing passed yet.
 */
export function sequentialContext(
  history: readonly Measurement[],
  metric: string,
  step: number,
): SequentialContext {
  for (let i = history.length - 1; i >= 0; i--) {
    const s = history[i]?.sequential;
    if (history[i]?.metric !== metric || !s) continue;
    if (s.step === step)
      return {
        step,
        carried: {
          worse: s.carriedLogEvidence,
          noWorse: s.carriedNoWorseLogEvidence ?? 0,
          floor: s.carriedFloorLogEvidence ?? 0,
        },
        passedInStep: s.passed === true,
      };
    return {
      step,
      carried: { worse: s.logEvidence, noWorse: s.noWorseLogEvidence ?? 0, floor: s.floorLogEvidence ?? 0 },
      passedInStep: false,
    };
  }
  return { ...FRESH_CONTEXT, step };
}

/** An evidence value for people: two significant digits below 100, whole numbers above. */
export function formatEvidence(logEvidence: number): string {
  const e = Math.exp(logEvidence);
  if (e < 0.01) return "< 0.01";
  if (e >= 1e9) return "> 1,000,000,000";
  return e < 100 ? String(Number(e.toPrecision(2))) : formatCount(e);
}

const percent = (x: number) => `${Math.round(x * 10000) / 100} %`;

/** The rule in words, for status: what fails and what passes. */
function describeRule(s: SequentialSettings): string {
  const below = s.floor > 0 ? ` or below ${percent(s.floor)} errors` : "";
  return (
    `fail at evidence ${formatCount(1 / s.alpha)} that it is over ${1 + s.margin}× the primary; ` +
    `pass at ${formatCount(1 / s.beta)} that it is under ${1 + s.passMargin}×${below}`
  );
}

/** Judges a judge: sequential metric. Never throws; missing counts are an error, no traffic is "no data". */
export function judgeSequentialMetric(
  metric: MetricSpec,
  m: MetricMeasurement,
  ctx: SequentialContext,
  noData: "inconclusive" | "fail" | "pass",
): MetricResult {
  const settings = sequentialSettings(metric);
  const base: MetricResult = {
    metric: metric.name,
    verdict: "Inconclusive",
    threshold: describeRule(settings),
  };
  if (m.error !== undefined) return { ...base, verdict: "Error", message: m.error };
  const latency = metric.builtin === "request-duration";
  let judged: SequentialJudgement;
  let canary: ArmCounts;
  let primary: ArmCounts;
  let boundary: number | undefined;
  if (latency) {
    if (!m.buckets) return { ...base, verdict: "Error", message: "no latency buckets were measured" };
    const l = judgeLatency(m.buckets.canary, m.buckets.primary, ctx.carried, settings, LATENCY_QUANTILE);
    judged = l;
    ({ canary, primary, boundary } = l);
  } else {
    if (!m.counts) return { ...base, verdict: "Error", message: "no request counts were measured" };
    ({ canary, primary } = m.counts);
    judged = judgeSequentialCounts(canary, primary, ctx.carried, settings);
  }
  const passed = judged.reason === "no-worse" || (ctx.passedInStep && judged.verdict !== "Fail");
  const needed = requestsToPass(
    canary,
    primary,
    passed ? { ...judged, reason: "no-worse" } : judged,
    settings,
  );
  const sequential: NonNullable<MetricResult["sequential"]> = {
    step: ctx.step,
    canaryRequests: canary.requests,
    canaryEvents: canary.events,
    primaryRequests: primary.requests,
    primaryEvents: primary.events,
    ...(boundary !== undefined ? { boundary } : {}),
    logEvidence: judged.evidence.worse,
    carriedLogEvidence: ctx.carried.worse,
    noWorseLogEvidence: judged.evidence.noWorse,
    carriedNoWorseLogEvidence: ctx.carried.noWorse,
    ...(settings.floor > 0
      ? { floorLogEvidence: judged.evidence.floor, carriedFloorLogEvidence: ctx.carried.floor }
      : {}),
    ...(passed ? { passed: true } : {}),
    ...(Number.isFinite(needed) ? { requestsNeeded: needed } : {}),
  };
  const what = latency
    ? boundary === undefined
      ? "slow requests (no bucket bound below the pooled p99 yet)"
      : `requests slower than ${boundary} (the bucket bound at the pooled p99)`
    : "errors";
  const saw =
    `canary ${formatCount(canary.events)}/${formatCount(canary.requests)} ${what} vs primary ` +
    `${formatCount(primary.events)}/${formatCount(primary.requests)} in step ${ctx.step}; ` +
    `evidence ${formatEvidence(judged.evidence.worse)} of ${formatCount(1 / settings.alpha)} needed to fail, ` +
    `${formatEvidence(judged.logPass)} of ${formatCount(1 / settings.beta)} needed to pass`;
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
  if (judged.reason === "evidence")
    return { ...result("Fail", ": the canary is worse than the primary"), conclusive: true };
  if (judged.reason === "no-worse") {
    const floor = settings.floor > 0 ? ` or its errors under ${percent(settings.floor)}` : "";
    return result("Pass", `; shown no worse (under ${1 + settings.passMargin}× the primary${floor})`);
  }
  if (passed) return result("Pass", "; shown no worse earlier in this step");
  if (judged.reason === "no-traffic") {
    const verdict: Verdict = noData === "pass" ? "Pass" : noData === "fail" ? "Fail" : "Inconclusive";
    return result(verdict, `; no traffic to judge yet (noData: ${noData})`);
  }
  const more = Number.isFinite(needed)
    ? `; about ${formatCount(Math.max(0, needed - canary.requests))} more canary requests needed`
    : "; no estimate of the canary requests needed";
  return { ...result("Inconclusive", more), gathering: true };
}
