// How far the current step is from the sequential judge's evidence, in words and as a fraction: read from
// status.analysis.evidence by the engine's messages, kubectl vireo and the dashboard alike.
import { formatDuration } from "./duration.ts";
import type { RolloutStatus } from "./rollout-schema.ts";

/** status.analysis.evidence: the estimate for a step. */
export type EvidenceEstimate = NonNullable<NonNullable<RolloutStatus["analysis"]>["evidence"]>;

/** 12345 → "12,345" (counts from increase() are rounded for people; the judge uses them unrounded). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** The estimate for the current step of a rollout in flight, if that step has been measured yet. */
export function currentEvidence(status: RolloutStatus | undefined): EvidenceEstimate | undefined {
  const e = status?.analysis?.evidence;
  if (!e || (status?.phase !== "Progressing" && status?.phase !== "Paused")) return undefined;
  return e.step === (status.currentStepIndex ?? 0) && e.at >= (status.stepStartedAt ?? "") ? e : undefined;
}

/**
 * The estimate in words, for status: "1,200 of about 9,800 canary requests, evidence due at 2026-12-01T13:49:00.000Z
 * at 78.7 requests/min (errors)". Absolute times only, so the text changes with the estimate, not with the clock.
 */
export function describeEvidence(e: EvidenceEstimate): string {
  const needed =
    e.requestsNeeded === undefined
      ? `${formatCount(e.canaryRequests)} canary requests, no estimate yet`
      : `${formatCount(e.canaryRequests)} of about ${formatCount(e.requestsNeeded)} canary requests`;
  if (!e.eta) return `${needed} (${e.metric})`;
  return `${needed}, evidence due at ${e.eta} at ${e.canaryRequestsPerMinute} requests/min (${e.metric})`;
}

/** What a progress bar shows about the current step's evidence. */
export interface EvidenceProgress {
  estimate: EvidenceEstimate;
  /** "1,200/~3,000 canary requests (errors)". */
  requests: string;
  /** Requests seen over requests needed, 0…1 (0 without an estimate). */
  fraction: number;
  /** "ETA 12m", "ETA now" or "no ETA". */
  eta: string;
  /** "48m of maxStepDuration left" or "maxStepDuration ran out". */
  budget: string;
  /** The evidence is due after the budget runs out, or never: what InsufficientTraffic says. */
  late: boolean;
}

/** The current step's evidence as a bar: how far, when it is due, and how much budget is left at `now`. */
export function evidenceProgress(
  status: RolloutStatus | undefined,
  now: number,
): EvidenceProgress | undefined {
  const estimate = currentEvidence(status);
  if (!estimate) return undefined;
  const needed = estimate.requestsNeeded;
  const fraction = needed ? Math.min(1, estimate.canaryRequests / needed) : needed === 0 ? 1 : 0;
  const due = estimate.eta ? Date.parse(estimate.eta) - now : undefined;
  const left = Date.parse(estimate.budgetEndsAt) - now;
  const of = needed === undefined ? "?" : `~${formatCount(needed)}`;
  return {
    estimate,
    requests: `${formatCount(estimate.canaryRequests)}/${of} canary requests (${estimate.metric})`,
    fraction,
    eta: due === undefined ? "no ETA" : due <= 0 ? "ETA now" : `ETA ${formatDuration(due)}`,
    budget: left > 0 ? `${formatDuration(left)} of maxStepDuration left` : "maxStepDuration ran out",
    late: !estimate.eta || estimate.eta > estimate.budgetEndsAt,
  };
}
