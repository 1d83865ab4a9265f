// The evidence budget of a step: how far the sequential judge is from a verdict at today's traffic
// (status.analysis.evidence), the InsufficientTraffic condition, and what noEvidence does when a step's
// maxStepDuration runs out without a verdict.

import type { MetricResult } from "../analysis/types.ts";
import { CONDITION_TYPES, REASONS } from "../api/constants.ts";
import { parseDuration } from "../api/duration.ts";
import { currentEvidence, describeEvidence, type EvidenceEstimate } from "../api/evidence-view.ts";
import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { setCondition } from "./conditions.ts";
import { type Ctx, type Draft, IN_FLIGHT } from "./draft.ts";
import { pause, rollBack } from "./transitions.ts";

/** The latest time a Date can hold (ms): a maxStepDuration of 10^31 hours is valid and means "never". */
const LATEST = 8.64e15;

/** When the current step's maxStepDuration runs out (ms), counted from the step's start or the last resume. */
export function budgetEndsAt(spec: RolloutSpec, status: RolloutStatus): number | undefined {
  if (!status.stepStartedAt) return undefined;
  const from = Math.max(
    Date.parse(status.stepStartedAt),
    Date.parse(status.analysis?.budgetStartedAt ?? "") || 0,
  );
  return Math.min(from + parseDuration(spec.analysis.maxStepDuration), LATEST);
}

/** True when analysis has a judge: sequential metric (the only judge that estimates its evidence). */
const judgesSequentially = (spec: RolloutSpec) => spec.analysis.metrics.some((m) => m.judge === "sequential");

/**
 * Records, from one tick's results, how far the step is from a verdict at its slowest sequential metric: requests
 * seen and needed, the canary's request rate, and when the evidence is due at that rate. A tick without sequential
 * results with traffic (an error, no requests yet) keeps the last estimate.
 */
export function recordEvidence(ctx: Ctx, results: readonly MetricResult[], at: Date): void {
  const { d, spec } = ctx;
  const a = d.status.analysis;
  const started = Date.parse(d.status.stepStartedAt ?? "");
  const ends = budgetEndsAt(spec, d.status);
  if (!a || !Number.isFinite(started) || ends === undefined) return;
  const minutes = Math.max(at.getTime() - started, 1000) / 60_000;
  let slowest: { e: EvidenceEstimate; due: number } | undefined;
  for (const r of results) {
    const s = r.sequential;
    // No traffic on either side yet is no estimate at all (the condition stays Unknown), not an infinite one.
    if (
      !s ||
      r.verdict === "Fail" ||
      r.verdict === "Error" ||
      !(s.canaryRequests > 0 && s.primaryRequests > 0)
    )
      continue;
    const perMinute = s.canaryRequests / minutes;
    const missing =
      s.requestsNeeded === undefined ? Number.POSITIVE_INFINITY : s.requestsNeeded - s.canaryRequests;
    const due =
      missing <= 0
        ? at.getTime()
        : perMinute > 0 && Number.isFinite(missing)
          ? Math.min(at.getTime() + (missing / perMinute) * 60_000, LATEST)
          : Number.NaN;
    const e: EvidenceEstimate = {
      metric: r.metric,
      step: s.step,
      canaryRequests: s.canaryRequests,
      ...(s.requestsNeeded !== undefined ? { requestsNeeded: s.requestsNeeded } : {}),
      canaryRequestsPerMinute: Math.round(perMinute * 100) / 100,
      ...(Number.isFinite(due) ? { eta: new Date(due).toISOString() } : {}),
      budgetEndsAt: new Date(ends).toISOString(),
      at: at.toISOString(),
    };
    const rank = Number.isFinite(due) ? due : Number.POSITIVE_INFINITY;
    if (!slowest || rank > slowest.due) slowest = { e, due: rank };
  }
  if (slowest) a.evidence = slowest.e;
}

/** What the step waits for, in words, with the estimate when there is one. */
export function waitingForEvidence(ctx: Ctx, where: string): string {
  const e = currentEvidence(ctx.d.status);
  return e
    ? `${where}: gathering evidence, ${describeEvidence(e)}`
    : `${where}: waiting for a passing analysis`;
}

/**
 * A step gated by analysis has not passed: when its maxStepDuration has run out, applies `noEvidence`. Returns
 * "pass" when the step may complete anyway (promote), "stop" when the rollout paused or rolled back, and "wait"
 * while the budget lasts (waking the engine when it runs out).
 */
export function spendBudget(ctx: Ctx, where: string): "wait" | "pass" | "stop" {
  const { d, spec } = ctx;
  const ends = budgetEndsAt(spec, d.status);
  if (ends === undefined) return "wait";
  if (d.now.getTime() < ends) {
    d.wake(ends);
    return "wait";
  }
  const e = currentEvidence(d.status);
  const budget = spec.analysis.maxStepDuration;
  const saw = e ? ` (${describeEvidence(e)})` : "";
  const message = `${where}: no verdict within maxStepDuration ${budget}${saw}`;
  switch (spec.analysis.noEvidence) {
    case "pause":
      pause(
        ctx,
        "NoEvidence",
        `${message}; set vireo.dev/resume to wait another ${budget} or vireo.dev/promote to move on without evidence`,
      );
      return "stop";
    case "rollback":
      rollBack(ctx, REASONS.NoEvidence, `rolled back: ${message} (noEvidence: rollback)`);
      return "stop";
    case "promote": {
      const a = d.status.analysis;
      if (a) a.stepsWithoutEvidence = (a.stepsWithoutEvidence ?? 0) + 1;
      const text = `promoted without evidence: ${message} (noEvidence: promote)`;
      d.event("Warning", REASONS.PromotedWithoutEvidence, text);
      d.notify("StepAdvanced", "warning", text, `${d.status.currentStepIndex ?? 0}/no-evidence`);
      return "pass";
    }
  }
}

/** " without evidence (2 steps passed on noEvidence: promote)" when some step of the rollout did; "" otherwise. */
export function withoutEvidence(status: RolloutStatus): string {
  const n = status.analysis?.stepsWithoutEvidence ?? 0;
  return n > 0 ? ` without evidence (${n} step${n > 1 ? "s" : ""} passed on noEvidence: promote)` : "";
}

/**
 * Sets InsufficientTraffic while a rollout judged sequentially is in flight, and removes it otherwise: True when the
 * step ran out of budget without a verdict, or when its evidence is due after the budget runs out (or never);
 * False when due within it; Unknown before the step's first tick.
 */
export function setInsufficientTraffic(d: Draft, generation: number): void {
  const s = d.status;
  const spec = s.lastValidSpec;
  const type = CONDITION_TYPES.insufficientTraffic;
  if (!spec || !IN_FLIGHT.includes(d.phase) || !judgesSequentially(spec) || spec.skipAnalysis) {
    if (s.conditions?.some((c) => c.type === type))
      s.conditions = s.conditions.filter((c) => c.type !== type);
    return;
  }
  const set = (status: "True" | "False" | "Unknown", reason: string, message: string) => {
    s.conditions = setCondition(s.conditions, { type, status, reason, message }, generation, d.now);
  };
  const step = `step ${(s.currentStepIndex ?? 0) + 1}`;
  const e = currentEvidence(s);
  const seen = e ? `: ${describeEvidence(e)}` : "";
  if (s.pauseReason === "NoEvidence") {
    set("True", REASONS.NoEvidence, `${step} ran out of maxStepDuration without a verdict${seen}`);
    return;
  }
  if (!e) {
    set("Unknown", REASONS.WaitingForAnalysis, `${step}: no estimate before its first analysis tick`);
    return;
  }
  const budget = `maxStepDuration ${spec.analysis.maxStepDuration} runs out at ${e.budgetEndsAt}`;
  if (!e.eta || e.eta > e.budgetEndsAt) {
    set("True", REASONS.EtaPastBudget, `${step}${seen}; its ${budget}`);
    return;
  }
  set("False", REASONS.EnoughTraffic, `${step}${seen}; within its ${budget}`);
}
