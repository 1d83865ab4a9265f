// Phase transitions shared by the phase rules: start, roll back, pause, resume, promote, enter and leave steps.
// Each changes the draft's status and announces itself; none runs another phase's rules (the outer loop does).

import type { MetricResult } from "../analysis/types.ts";
import { type PauseReason, REASONS, type Reason } from "../api/constants.ts";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import { cutOverMessage, isBlueGreen } from "./blue-green.ts";
import { rerunFailed, skipAnalysisChecks, skipGates, startHooks } from "./checks.ts";
import type { Ctx } from "./draft.ts";
import { markForRestore } from "./in-place/converge.ts";
import { weightAt } from "./steps.ts";
import { retreatToPrimary } from "./traffic.ts";

export function resetRolloutState(s: RolloutStatus): void {
  s.currentStepIndex = 0;
  s.canaryWeight = 0;
  delete s.stepStartedAt;
  delete s.scaleDownAt;
  delete s.promotedBy;
  // A new attempt: earlier runs (and through them their Jobs) are gone; a retry runs every check again.
  delete s.checks;
  s.analysis = { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0, history: [] };
}

/** Starts (or restarts) a rollout of `revision` from step 0 with all traffic on primary. */
export function startRollout(ctx: Ctx, revision: string, reason: Reason, message: string): void {
  const { d } = ctx;
  d.phase = "Progressing";
  d.status.canaryRevision = revision;
  resetRolloutState(d.status);
  d.status.rolloutStartedAt = d.now.toISOString();
  d.status.waitingSince = d.now.toISOString();
  d.event("Normal", reason, message);
  d.notify("Started", "info", message, d.now.toISOString());
}

export function rollBack(ctx: Ctx, reason: Reason, message: string, failing?: MetricResult): void {
  const { d } = ctx;
  d.phase = "RolledBack";
  markForRestore(ctx);
  delete d.status.waitingSince;
  d.say(reason, message);
  d.event("Warning", reason, message);
  d.notify("RolledBack", "error", message, "once", failing);
  retreatToPrimary(ctx);
  skipGates(ctx, "the rollout rolled back");
  startHooks(ctx, "onRollback");
}

export function pause(ctx: Ctx, reason: PauseReason, message: string): void {
  const { d } = ctx;
  d.phase = "Paused";
  d.status.pauseReason = reason;
  d.status.pausedAt = d.now.toISOString();
  delete d.status.waitingSince;
  d.event("Normal", REASONS.Paused, message);
  d.notify(
    "Paused",
    reason === "Inconclusive" || reason === "NoEvidence" ? "warning" : "info",
    message,
    `${d.status.currentStepIndex}/${reason}/${d.now.toISOString()}`,
  );
}

/** What moved a rollout past a step: its analysis, a person, or the schedule alone (no analysis configured). */
export type AdvancedBy = "Analysis" | "User" | "Steps";

/**
 * Starts the promotion. Only a person's promotion is an Event of its own: after the last step the Promoted Event
 * (seconds later, naming how it was earned) says all a "promoting" Event would, and it cost a write per rollout.
 */
export function startPromotion(ctx: Ctx, by: AdvancedBy, message: string): void {
  const { d } = ctx;
  d.phase = "Promoting";
  d.status.promotedBy = by;
  skipAnalysisChecks(ctx, "analysis ended: the revision is being promoted");
  d.status.waitingSince = d.now.toISOString();
  if (by === "User") d.event("Normal", REASONS.PromotedByUser, message);
}

/**
 * Enters step `index` (the canary is ready): records when it started and announces it. `by` is what moved it
 * there, when it was a move past a step.
 */
export function enterStep(ctx: Ctx, index: number, by?: AdvancedBy): void {
  const { d, steps } = ctx;
  d.status.currentStepIndex = index;
  d.status.stepStartedAt = d.now.toISOString();
  d.status.canaryWeight = weightAt(steps, index);
  // Announce weight changes only: a timed pause is visible in status, an indefinite one announces itself as Paused.
  const weight = steps[index]?.setWeight;
  if (index > 0 && weight !== undefined) {
    const cutOver = isBlueGreen(ctx);
    const message = cutOver
      ? cutOverMessage(ctx)
      : `step ${index + 1}/${steps.length}: canary weight ${weight}%`;
    // An Event per decision a person needs: a step earned by analysis or by a person is one, a canary weight the
    // schedule alone moves is not (the spec fixed it; status and the canary-weight metric show when it moved). It
    // cost a write per step. The cut-over always is, and subscribers to StepAdvanced are notified either way.
    if (cutOver || by !== "Steps")
      d.event("Normal", cutOver ? REASONS.CutOver : REASONS.StepAdvanced, message);
    d.notify("StepAdvanced", "info", message, String(index));
  }
}

/** Leaves the current step: the next one, or promotion after the last. */
export function advance(ctx: Ctx, by: AdvancedBy): void {
  const { d, steps } = ctx;
  const next = (d.status.currentStepIndex ?? 0) + 1;
  if (next >= steps.length) {
    startPromotion(ctx, by, `all ${steps.length} steps passed; promoting ${d.status.canaryRevision}`);
    return;
  }
  enterStep(ctx, next, by);
}

/** Leaves a pause. Resuming a pause step means moving past it. */
export function resumeFromPause(ctx: Ctx, message: string): void {
  const { d } = ctx;
  const wasStep = d.status.pauseReason === "PauseStep";
  const wasCheck = d.status.pauseReason === "CheckFailed";
  d.phase = "Progressing";
  // Waiting restarts now: time spent paused does not count against the progress deadline.
  if (d.status.waitingSince) d.status.waitingSince = d.now.toISOString();
  if (d.status.analysis) {
    d.status.analysis.inconclusiveCount = 0;
    // The step's maxStepDuration starts again: a person who resumes has decided to wait for the evidence.
    d.status.analysis.budgetStartedAt = d.now.toISOString();
  }
  d.event("Normal", REASONS.Resumed, message);
  if (wasCheck) rerunFailed(ctx);
  if (wasStep) advance(ctx, "User");
}

/** Starts a rollout of the target's revision unless suspended or outside a window. Returns true if started. */
export function maybeStart(ctx: Ctx, reason: Reason, message: string): boolean {
  const { d, spec, obs } = ctx;
  if (spec.suspend) {
    d.say(REASONS.Suspended, `revision ${obs.canary.revision} waits: spec.suspend is true`);
    return false;
  }
  if (!obs.window.open) {
    d.say(REASONS.WindowClosed, `revision ${obs.canary.revision} waits: ${obs.window.message}`);
    if (obs.window.nextTransitionAt) d.wake(obs.window.nextTransitionAt);
    return false;
  }
  startRollout(ctx, obs.canary.revision!, reason, message);
  return true;
}
