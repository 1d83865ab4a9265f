// Progressing and Paused: a canary is in flight. Named rules run in order; each either lets the next run or ends
// the decision's work for this phase.

import type { CheckPoint } from "../../api/check-schema.ts";
import { type PauseReason, REASONS, type Reason } from "../../api/constants.ts";
import { formatDuration, parseDuration } from "../../api/duration.ts";
import { analysisChecks, recordAnalysis, startAnalysisChecks } from "../analysis-rules.ts";
import { analysisRequired, nextAnalysisAt } from "../analysis-schedule.ts";
import {
  awaitCutOver,
  beforeFirstStep,
  blueGreenWhere,
  isBlueGreen,
  previewReady,
  previewWhileUnready,
} from "../blue-green.ts";
import { analysisChecksPending, describeRun, gate, skipGates } from "../checks.ts";
import { type Ctx, isReady } from "../draft.ts";
import { spendBudget, waitingForEvidence } from "../evidence-budget.ts";
import { podsAtStep } from "../in-place/phases.ts";
import { pointsAtCanary } from "../managed-routes.ts";
import type { expandSteps } from "../steps.ts";
import { ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "../timing.ts";
import { awaitEndpoints, ensureAccessPolicy, retreatToPrimary, route } from "../traffic.ts";
import { advance, enterStep, pause, resumeFromPause, rollBack, startRollout } from "../transitions.ts";

/** A rule of an in-flight rollout: true lets the next rule run, false ends this phase's work for the decision. */
type Rule = (ctx: Ctx) => boolean;

/** The target moved: back to the stable revision (cancel), or to another new one (restart from step 1). */
const followTarget: Rule = (ctx) => {
  const { d, obs } = ctx;
  const target = obs.canary.revision;
  if (target === d.status.stableRevision) {
    d.phase = "Healthy";
    const message = `target reverted to the stable revision ${target}; rollout of ${d.status.canaryRevision} cancelled`;
    d.say(REASONS.RevisionReverted, message);
    d.event("Normal", REASONS.RevisionReverted, message);
    retreatToPrimary(ctx);
    skipGates(ctx, "the rollout was cancelled");
    return false;
  }
  if (target !== d.status.canaryRevision) {
    // Traffic goes back to primary first; the new revision then starts from step 0.
    startRollout(
      ctx,
      target!,
      REASONS.NewRevision,
      `new revision ${target} replaces ${d.status.canaryRevision} mid-rollout; restarting from step 1`,
    );
  }
  return true;
};

/** This reconcile's analysis tick, if one was measured, and its checks' failures; either may end the rollout. */
const recordTick: Rule = (ctx) => recordAnalysis(ctx) && analysisChecks(ctx);

const accessPolicy: Rule = (ctx) => {
  ensureAccessPolicy(ctx);
  return true;
};

/** The deadline measures waiting for readiness and routes while progressing; a pause stops the clock. */
const progressDeadline: Rule = (ctx) => {
  const { d, spec } = ctx;
  const deadlineMs = spec.progressDeadlineSeconds * 1000;
  const waitingSince = d.status.waitingSince ? Date.parse(d.status.waitingSince) : undefined;
  if (d.phase !== "Progressing" || waitingSince === undefined || d.now.getTime() - waitingSince < deadlineMs)
    return true;
  rollBack(
    ctx,
    REASONS.ProgressDeadlineExceeded,
    `rolled back: no progress for ${formatDuration(deadlineMs)} (${d.message || "canary or routes not ready"})`,
  );
  return false;
};

/** Says what the rollout waits for, starting the deadline's clock (a paused rollout just holds). */
function waitFor(ctx: Ctx, reason: Reason, message: string, pollMs: number): void {
  const { d, spec } = ctx;
  d.wakeIn(pollMs);
  if (d.phase === "Paused") {
    holdPaused(ctx, message);
    return;
  }
  d.status.waitingSince ??= d.now.toISOString();
  d.say(reason, message);
  d.wake(Date.parse(d.status.waitingSince) + spec.progressDeadlineSeconds * 1000);
}

/**
 * Blue/green before its first step: all traffic stays on the active version whatever the later rules wait for (the
 * canary, the preview's slices, checks, a pause), so someone's edit of the split is put back, not left on the
 * unconfirmed new pods.
 */
const holdOnActive: Rule = (ctx) => {
  if (beforeFirstStep(ctx)) route(ctx, 0);
  return true;
};

/**
 * Nothing moves until the canary is ready; a canary that lost all its pods must not keep traffic. (A StatefulSet's
 * or DaemonSet's canary is the pods each step updates: walkSteps waits for them step by step.)
 */
const canaryReady: Rule = (ctx) => {
  const { obs } = ctx;
  if (obs.inPlace || isReady(obs.canary)) return true;
  previewWhileUnready(ctx);
  if (obs.canary.readyReplicas === 0 && ((obs.routes?.canary ?? 0) > 0 || pointsAtCanary(obs.managedRoutes)))
    route(ctx, 0);
  waitFor(
    ctx,
    REASONS.WaitingForCanary,
    `waiting for the canary ${obs.canary.revision} to become ready`,
    WORKLOAD_POLL_MS,
  );
  return false;
};

/** Blue/green: the preview points at the new version, ready at full size, before the first step starts. */
const preview: Rule = (ctx) =>
  previewReady(ctx, (reason, message, pollMs) => waitFor(ctx, reason, message, pollMs));
/**
 * Applies the checks gating the rollout at `point`: true when they all passed (or failed with onFailure continue).
 * Otherwise the rollout holds at its weight (a check's own timeout bounds the wait, not the progress deadline) with
 * analysis ticking on, or a failure rolls back or pauses as its onFailure says.
 */
function passGate(
  ctx: Ctx,
  point: CheckPoint,
  names: readonly string[],
  where: string,
  step?: number,
): boolean {
  if (names.length === 0) return true;
  const { d, spec } = ctx;
  const g = gate(ctx, point, names, step);
  if (g.state === "passed") return true;
  if (g.state === "waiting") {
    delete d.status.waitingSince;
    d.say(REASONS.WaitingForCheck, `${where}: ${g.message}`);
    const due = nextAnalysisAt(spec, d.status);
    if (due) d.wake(due);
    return false;
  }
  const what = `${describeRun(g.run)} failed: ${g.run.message ?? ""}`.trim();
  if (g.policy === "rollback") {
    rollBack(ctx, REASONS.CheckFailed, `rolled back: ${what}`);
  } else if (d.phase === "Progressing") {
    pause(ctx, "CheckFailed", `${what}; vireo.dev/resume runs it again`);
    holdPaused(ctx, where);
  }
  return false;
}

/** preRollout checks run once the canary is ready, before the first step gives it any traffic. */
const preRolloutChecks: Rule = (ctx) => {
  const { d, spec } = ctx;
  if (d.status.stepStartedAt !== undefined || (d.status.currentStepIndex ?? 0) !== 0) return true;
  if (d.phase === "Paused") return true; // enterCurrentStep holds it
  return passGate(ctx, "preRollout", spec.hooks?.preRollout ?? [], "before the first step");
};

/** A ready canary enters its first (or current, after a restart) step, unless paused or gated. */
const enterCurrentStep: Rule = (ctx) => {
  const { d, spec, obs } = ctx;
  if (d.status.stepStartedAt !== undefined) return true;
  // Until then an in-place target's pods stay as they are (a new revision's first pods come with the first step).
  if (obs.inPlace) podsAtStep(ctx);
  if (d.phase === "Paused") {
    holdPaused(ctx, `waiting to enter step ${(d.status.currentStepIndex ?? 0) + 1}`);
    return false;
  }
  if (!obs.window.open || spec.suspend) {
    holdForGate(ctx);
    return false;
  }
  enterStep(ctx, d.status.currentStepIndex ?? 0);
  return true;
};

/** Walks through as many steps as can complete now; each iteration either stops or advances. */
const walkSteps: Rule = (ctx) => {
  const { d, spec, obs, steps } = ctx;
  for (let guard = 0; guard <= steps.length + 1; guard++) {
    const index = d.status.currentStepIndex ?? 0;
    const step = steps[index]!;
    if (!route(ctx, d.status.canaryWeight ?? 0)) {
      const preview = awaitCutOver(ctx);
      waitFor(
        ctx,
        preview ? REASONS.WaitingForPreview : REASONS.WaitingForRoutes,
        preview ??
          awaitEndpoints(ctx, d.status.canaryWeight ?? 0) ??
          `waiting for the mesh to route ${d.status.canaryWeight}% to the canary`,
        ROUTE_POLL_MS,
      );
      return false;
    }
    const where = obs.inPlace
      ? `step ${index + 1}/${steps.length}`
      : (blueGreenWhere(ctx, index) ??
        `step ${index + 1}/${steps.length}, canary weight ${d.status.canaryWeight}%`);
    if (obs.inPlace) {
      const pods = podsAtStep(ctx);
      if (!pods.done) {
        waitFor(ctx, REASONS.WaitingForPods, `${where}: waiting for ${pods.waiting}`, WORKLOAD_POLL_MS);
        return false;
      }
      // The step's clock starts once its pods run: its pause and analysis are about them, not about the wait.
      if (d.status.waitingSince !== undefined) d.status.stepStartedAt = d.now.toISOString();
    }
    delete d.status.waitingSince;
    if (d.phase === "Paused") {
      holdPaused(ctx, where);
      return false;
    }
    if (!stepComplete(ctx, step, where)) return false;
    if (!obs.window.open || spec.suspend) {
      holdForGate(ctx);
      return false;
    }
    // The last step passed: prePromotion checks decide whether the primary may take the revision.
    if (index === steps.length - 1 && !passGate(ctx, "prePromotion", spec.hooks?.prePromotion ?? [], where))
      return false;
    advance(ctx, analysisRequired(spec) ? "Analysis" : "Steps");
    // Promoting (after the last step) is the outer loop's to run.
    if (d.phase !== "Progressing") return false;
  }
  return false;
};

const IN_FLIGHT_RULES: readonly Rule[] = [
  followTarget,
  recordTick,
  accessPolicy,
  progressDeadline,
  holdOnActive,
  canaryReady,
  preview,
  preRolloutChecks,
  enterCurrentStep,
  walkSteps,
];

/** Phase rules for Progressing and Paused: the canary runs, and the named rules run in order. */
export function onInFlight(ctx: Ctx): void {
  ctx.d.wantCanary("up");
  for (const rule of IN_FLIGHT_RULES) if (!rule(ctx)) break;
  // After the steps, so a run that passed counts for its step before this tick's run takes its place.
  startAnalysisChecks(ctx);
}

/** True when the current step's own condition is met (pause elapsed, analysis passed); says what it waits for. */
export function stepComplete(ctx: Ctx, step: ReturnType<typeof expandSteps>[number], where: string): boolean {
  const { d, spec } = ctx;
  const started = Date.parse(d.status.stepStartedAt!);
  if (step.check !== undefined)
    return passGate(ctx, "step", [step.check], where, d.status.currentStepIndex ?? 0);
  if (step.pause) {
    if (step.pause.duration === undefined) {
      pause(ctx, "PauseStep", `${where}: paused until vireo.dev/promote or vireo.dev/resume`);
      holdPaused(ctx, where);
      return false;
    }
    const end = started + parseDuration(step.pause.duration);
    if (d.now.getTime() < end) {
      // Blue/green's only timed pause at 100 % is its rollback window.
      const window = isBlueGreen(ctx) && (d.status.canaryWeight ?? 0) === 100;
      d.say(
        window ? REASONS.RollbackWindow : REASONS.PauseStep,
        `${where}: pausing for ${step.pause.duration}`,
      );
      d.wake(end);
      // Analysis keeps ticking at its interval through a timed pause too: a canary turning bad there is rolled
      // back at the next tick, not when the pause ends (bench:compare measured 31 s between ticks before).
      const due = nextAnalysisAt(spec, d.status);
      if (due) d.wake(due);
      return false;
    }
    return true;
  }
  // Installing or removing a route completes once the mesh holds it (walkSteps checked): a header route at weight 0
  // has no traffic to judge yet, and a mirror is judged during the pause that follows it.
  if (step.setHeaderRoute || step.setMirror || !analysisRequired(spec)) return true;
  const lastPass = Date.parse(d.status.analysis?.lastPassAt ?? "");
  if (Number.isFinite(lastPass) && lastPass > started) {
    // A tick passes when its metrics and its checks pass: the checks' runs made during this step must pass too.
    const checks = analysisChecksPending(ctx, started);
    if (checks.length === 0) return true;
    d.say(REASONS.WaitingForCheck, `${where}: waiting for analysis check ${checks.join(", ")} to pass a run`);
    const due = nextAnalysisAt(spec, d.status);
    if (due) d.wake(due);
    return false;
  }
  const budget = spendBudget(ctx, where);
  if (budget !== "wait") return budget === "pass";
  d.say(REASONS.WaitingForAnalysis, waitingForEvidence(ctx, where));
  const due = nextAnalysisAt(spec, d.status);
  if (due) d.wake(due);
  return false;
}

/** A closed window or spec.suspend holds the weight where it is; the window reopening resumes. */
export function holdForGate(ctx: Ctx): void {
  const { d, spec, obs } = ctx;
  if (spec.suspend) {
    d.say(REASONS.Suspended, "spec.suspend is true: holding the current weight");
  } else if (d.phase === "Progressing") {
    pause(ctx, "WindowClosed", `holding at canary weight ${d.status.canaryWeight}%: ${obs.window.message}`);
    // Said as the Paused rules will say it next time, so deciding again changes nothing.
    holdPaused(
      ctx,
      d.status.stepStartedAt === undefined
        ? `waiting to enter step ${(d.status.currentStepIndex ?? 0) + 1}`
        : `canary weight ${d.status.canaryWeight}%`,
    );
  }
  if (obs.window.nextTransitionAt) d.wake(obs.window.nextTransitionAt);
  const due = nextAnalysisAt(spec, d.status);
  if (due) d.wake(due);
}

/** Keeps a paused rollout's analysis ticking and says why it waits. */
export function holdPaused(ctx: Ctx, where: string): void {
  const { d, spec, obs } = ctx;
  const reason = d.status.pauseReason;
  if (reason === "WindowClosed" && obs.window.open) {
    resumeFromPause(ctx, "deployment window open again; resuming");
    return;
  }
  const why: Record<PauseReason, [Reason, string]> = {
    UserRequest: [REASONS.Paused, "paused by request; set vireo.dev/resume to continue"],
    PauseStep: [REASONS.PauseStep, "pause step; set vireo.dev/promote or vireo.dev/resume to continue"],
    Inconclusive: [
      REASONS.AnalysisInconclusive,
      "analysis inconclusive (no data); set vireo.dev/resume or vireo.dev/promote",
    ],
    WindowClosed: [REASONS.WindowClosed, obs.window.message],
    CheckFailed: [
      REASONS.CheckFailed,
      "a check failed; set vireo.dev/resume to run it again, vireo.dev/promote to skip it, or vireo.dev/abort",
    ],
    NoEvidence: [
      REASONS.NoEvidence,
      `no verdict within maxStepDuration ${spec.analysis.maxStepDuration}; set vireo.dev/resume to wait another ${spec.analysis.maxStepDuration} or vireo.dev/promote to move on without evidence`,
    ],
  };
  const [r, text] = why[reason ?? "UserRequest"];
  d.say(r, `${where}: ${text}`);
  if (reason === "WindowClosed" && obs.window.nextTransitionAt) d.wake(obs.window.nextTransitionAt);
  const due = nextAnalysisAt(spec, d.status);
  if (due) d.wake(due);
}
