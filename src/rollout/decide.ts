// The rollout engine: a pure function from (spec, status, observations, now) to the next status and the actions
// that move the world towards it. Every rule of a canary's life is in this file and the small modules it imports.

import type { MetricResult } from "../analysis/types.ts";
import { judgeTick } from "../analysis/verdict.ts";
import {
  CONDITION_TYPES,
  type PauseReason,
  type Phase,
  PROMOTE_FULL,
  REASONS,
  type Reason,
} from "../api/constants.ts";
import { formatDuration, parseDuration } from "../api/duration.ts";
import type { Measurement, NotifyEvent, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { describeIssues } from "../api/validate.ts";
import { getCondition, setCondition } from "./conditions.ts";
import { expandSteps, weightAt } from "./steps.ts";
import type { Action, Decision, Observations, Weights, WorkloadObservation } from "./types.ts";

/** The parts of a Rollout the engine reads. `spec` is undefined when it failed validation. */
export interface EngineInput {
  generation: number;
  spec: RolloutSpec | undefined;
  status: RolloutStatus | undefined;
}

/** How often to look again while waiting for something no watch tells us about (mesh routes). */
export const ROUTE_POLL_MS = 1_000;
/** How often to look again while waiting for Deployments (their watch usually wakes us first). */
export const WORKLOAD_POLL_MS = 5_000;
/** How often to retry when the target Deployment is missing. */
export const MISSING_TARGET_POLL_MS = 30_000;

const IN_FLIGHT: readonly Phase[] = ["Progressing", "Paused"];

/** True when a Deployment has finished rolling out and has at least one ready pod (and all it wants). */
export function isReady(w: WorkloadObservation): boolean {
  return w.exists && w.rolledOut && w.readyReplicas > 0 && w.readyReplicas >= w.desiredReplicas;
}

/** True when analysis gates steps for this spec. */
export function analysisRequired(spec: RolloutSpec): boolean {
  return !spec.skipAnalysis && spec.analysis.metrics.length > 0;
}

/**
 * When the next analysis tick is due, or undefined when no analysis runs now. Ticks are aligned to the start of
 * the current step, so each tick's query window covers traffic at the step's weight.
 */
export function nextAnalysisAt(spec: RolloutSpec, status: RolloutStatus | undefined): Date | undefined {
  if (!status?.phase || !IN_FLIGHT.includes(status.phase) || !status.stepStartedAt) return undefined;
  if (!analysisRequired(spec)) return undefined;
  const interval = parseDuration(spec.analysis.interval);
  const since = Math.max(Date.parse(status.stepStartedAt), Date.parse(status.analysis?.lastRunAt ?? "") || 0);
  return new Date(since + interval);
}

/** True when the reconciler should query Prometheus before calling `decide`. */
export function analysisDue(spec: RolloutSpec, status: RolloutStatus | undefined, now: Date): boolean {
  const at = nextAnalysisAt(spec, status);
  return at !== undefined && now.getTime() >= at.getTime();
}

const weights = (canary: number): Weights => ({ primary: 100 - canary, canary });
const sameRoutes = (a: Weights | null, b: Weights) =>
  a !== null && a.primary === b.primary && a.canary === b.canary;

/** Accumulates the decision while the rules run; the rules mutate a private copy of the status. */
class Draft {
  readonly status: RolloutStatus;
  readonly actions: Action[] = [];
  private wakeAt = Number.POSITIVE_INFINITY;
  reason: Reason = REASONS.Healthy;
  message = "";

  readonly now: Date;

  constructor(status: RolloutStatus, now: Date) {
    this.status = status;
    this.now = now;
  }

  get phase(): Phase {
    return this.status.phase ?? "Initializing";
  }

  set phase(p: Phase) {
    this.status.phase = p;
    if (p !== "Paused") {
      delete this.status.pauseReason;
      delete this.status.pausedAt;
    }
  }

  say(reason: Reason, message: string): void {
    this.reason = reason;
    this.message = message;
  }

  act(action: Action): void {
    this.actions.push(action);
  }

  event(eventType: "Normal" | "Warning", reason: Reason, message: string): void {
    this.actions.push({ type: "RecordEvent", eventType, reason, message });
  }

  notify(
    event: NotifyEvent,
    severity: "info" | "warning" | "error",
    message: string,
    discriminator: string,
    failing?: MetricResult,
  ): void {
    const revision = this.status.canaryRevision ?? this.status.stableRevision ?? "unknown";
    // The attempt (start or retry time, base 36: 8 characters) keeps a retried rollout's keys apart from the
    // ones its earlier attempt already delivered, so the retry's own RolledBack or StepAdvanced is sent too.
    const startedAt = this.status.rolloutStartedAt ? Date.parse(this.status.rolloutStartedAt) : Number.NaN;
    const attempt = Number.isFinite(startedAt) ? startedAt.toString(36) : "0";
    this.actions.push({
      type: "Notify",
      event,
      severity,
      message,
      key: `${revision}/${attempt}/${event}/${discriminator}`,
      weights: weights(this.status.canaryWeight ?? 0),
      revision,
      ...(failing ? { failing } : {}),
    });
  }

  /** Asks to be reconciled again at `at` (or earlier, if something else needs it). */
  wake(at: Date | number): void {
    this.wakeAt = Math.min(this.wakeAt, typeof at === "number" ? at : at.getTime());
  }

  wakeIn(ms: number): void {
    this.wake(this.now.getTime() + ms);
  }

  requeueAfterMs(): number | undefined {
    if (!Number.isFinite(this.wakeAt)) return undefined;
    return Math.max(0, this.wakeAt - this.now.getTime());
  }
}

/** The engine's context for one decision. */
interface Ctx {
  d: Draft;
  spec: RolloutSpec;
  obs: Observations;
  steps: ReturnType<typeof expandSteps>;
  generation: number;
  /** Set once this decision recorded the tick: a phase change (e.g. to Paused) re-runs the rules, not the tick. */
  analysisRecorded?: boolean;
}

/**
 * Moves routes toward `canary` percent. Returns true when the mesh already routes exactly that. Safety guard:
 * never sends traffic to a backend without ready pods — the request waits until it has some.
 */
function route(ctx: Ctx, canary: number): boolean {
  const desired = weights(canary);
  if (sameRoutes(ctx.obs.routes, desired)) return true;
  if (desired.canary > 0 && ctx.obs.canary.readyReplicas === 0) return false;
  if (desired.primary > 0 && ctx.obs.primary.readyReplicas === 0) return false;
  ctx.d.act({ type: "SetRoutes", weights: desired });
  ctx.d.wakeIn(ROUTE_POLL_MS);
  return false;
}

/** Routes everything to primary and, once the mesh confirms it, scales the canary down (never the other order). */
function retreatToPrimary(ctx: Ctx): boolean {
  ctx.d.status.canaryWeight = 0;
  const routed = route(ctx, 0);
  if (routed && ctx.obs.canary.desiredReplicas > 0) ctx.d.act({ type: "ScaleCanaryDown" });
  if (!routed && ctx.obs.primary.readyReplicas === 0) {
    ctx.d.wakeIn(WORKLOAD_POLL_MS);
  }
  return routed;
}

function ensureAccessPolicy(ctx: Ctx): void {
  if (!ctx.obs.accessPolicyInSync) ctx.d.act({ type: "ApplyAccessPolicy" });
}

function resetRolloutState(s: RolloutStatus): void {
  s.currentStepIndex = 0;
  s.canaryWeight = 0;
  delete s.stepStartedAt;
  delete s.promotedBy;
  s.analysis = { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0, history: [] };
}

/** Starts (or restarts) a rollout of `revision` from step 0 with all traffic on primary. */
function startRollout(ctx: Ctx, revision: string, reason: Reason, message: string): void {
  const { d } = ctx;
  d.phase = "Progressing";
  d.status.canaryRevision = revision;
  resetRolloutState(d.status);
  d.status.rolloutStartedAt = d.now.toISOString();
  d.status.waitingSince = d.now.toISOString();
  d.event("Normal", reason, message);
  d.notify("Started", "info", message, d.now.toISOString());
}

function rollBack(ctx: Ctx, reason: Reason, message: string, failing?: MetricResult): void {
  const { d } = ctx;
  d.phase = "RolledBack";
  delete d.status.waitingSince;
  d.say(reason, message);
  d.event("Warning", reason, message);
  d.notify("RolledBack", "error", message, "once", failing);
  retreatToPrimary(ctx);
}

function pause(ctx: Ctx, reason: PauseReason, message: string): void {
  const { d } = ctx;
  d.phase = "Paused";
  d.status.pauseReason = reason;
  d.status.pausedAt = d.now.toISOString();
  delete d.status.waitingSince;
  d.event("Normal", REASONS.Paused, message);
  d.notify(
    "Paused",
    reason === "Inconclusive" ? "warning" : "info",
    message,
    `${d.status.currentStepIndex}/${reason}/${d.now.toISOString()}`,
  );
}

function startPromotion(ctx: Ctx, by: "Analysis" | "User" | "Steps", message: string): void {
  const { d } = ctx;
  d.phase = "Promoting";
  d.status.promotedBy = by;
  d.status.waitingSince = d.now.toISOString();
  d.event("Normal", by === "User" ? REASONS.PromotedByUser : REASONS.Promoting, message);
}

/** Enters step `index` (the canary is ready): records when it started and announces it. */
function enterStep(ctx: Ctx, index: number): void {
  const { d, steps } = ctx;
  d.status.currentStepIndex = index;
  d.status.stepStartedAt = d.now.toISOString();
  d.status.canaryWeight = weightAt(steps, index);
  // Announce weight changes only: a timed pause is visible in status, an indefinite one announces itself as Paused.
  const weight = steps[index]?.setWeight;
  if (index > 0 && weight !== undefined) {
    const message = `step ${index + 1}/${steps.length}: canary weight ${weight}%`;
    d.event("Normal", REASONS.StepAdvanced, message);
    d.notify("StepAdvanced", "info", message, String(index));
  }
}

/** Leaves the current step: the next one, or promotion after the last. */
function advance(ctx: Ctx, by: "Analysis" | "User" | "Steps"): void {
  const { d, steps } = ctx;
  const next = (d.status.currentStepIndex ?? 0) + 1;
  if (next >= steps.length) {
    startPromotion(ctx, by, `all ${steps.length} steps passed; promoting ${d.status.canaryRevision}`);
    return;
  }
  enterStep(ctx, next);
}

/** Records one analysis tick and applies its consequences (rollback, pause). Returns false if the rollout ended. */
function recordAnalysis(ctx: Ctx): boolean {
  const { d, spec, obs } = ctx;
  if (!obs.analysis || !analysisRequired(spec) || !IN_FLIGHT.includes(d.phase)) return true;
  if (ctx.analysisRecorded) return true;
  ctx.analysisRecorded = true;
  d.status.analysis ??= { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0, history: [] };
  const a = d.status.analysis;
  const { verdict, results } = judgeTick(spec.analysis.metrics, obs.analysis, spec.analysis.noData);
  const at = d.now.toISOString();
  a.lastRunAt = at;
  const fresh: Measurement[] = results.map((r) => ({
    metric: r.metric,
    verdict: r.verdict,
    ...(r.value !== undefined ? { value: r.value } : {}),
    ...(r.primaryValue !== undefined ? { primaryValue: r.primaryValue } : {}),
    threshold: r.threshold,
    ...(r.message ? { message: r.message.slice(0, 1024) } : {}),
    weight: d.status.canaryWeight ?? 0,
    at,
  }));
  a.history = trimHistory([...(a.history ?? []), ...fresh], spec.analysis.historyLimit);
  const failing = results.find((r) => r.verdict === "Fail") ?? results.find((r) => r.verdict === "Error");
  switch (verdict) {
    case "Pass":
      a.lastPassAt = at;
      a.consecutiveErrors = 0;
      a.inconclusiveCount = 0;
      return true;
    case "Fail": {
      a.failedChecks = (a.failedChecks ?? 0) + 1;
      a.consecutiveErrors = 0;
      a.inconclusiveCount = 0;
      const limit = spec.analysis.failureLimit;
      const message =
        `analysis failed (${a.failedChecks}/${limit}): ${failing?.metric} ${failing?.message ?? ""}`.trim();
      d.event("Warning", REASONS.AnalysisFailed, message);
      d.notify("AnalysisFailed", "warning", message, String(a.failedChecks), failing);
      if (a.failedChecks >= limit) {
        rollBack(ctx, REASONS.AnalysisFailed, `rolled back: ${message}`, failing);
        return false;
      }
      return true;
    }
    case "Error": {
      a.consecutiveErrors = (a.consecutiveErrors ?? 0) + 1;
      const limit = spec.analysis.consecutiveErrorLimit;
      const message = `analysis could not be evaluated (${a.consecutiveErrors}/${limit} in a row): ${failing?.metric}: ${failing?.message ?? ""}`;
      d.event("Warning", REASONS.AnalysisErrors, message);
      if (a.consecutiveErrors >= limit) {
        rollBack(ctx, REASONS.AnalysisErrors, `rolled back: ${message}`, failing);
        return false;
      }
      return true;
    }
    case "Inconclusive": {
      a.consecutiveErrors = 0;
      a.inconclusiveCount = (a.inconclusiveCount ?? 0) + 1;
      if (a.inconclusiveCount >= spec.analysis.inconclusiveLimit && d.phase === "Progressing") {
        pause(
          ctx,
          "Inconclusive",
          `analysis inconclusive ${a.inconclusiveCount} times in a row (no data); waiting for vireo.dev/resume or vireo.dev/promote`,
        );
      }
      return true;
    }
  }
}

/** Keeps the newest `limit` measurements of each metric, in time order. */
function trimHistory(history: Measurement[], limit: number): Measurement[] {
  const kept = new Map<string, number>();
  const out: Measurement[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    const n = kept.get(m.metric) ?? 0;
    if (n >= limit) continue;
    kept.set(m.metric, n + 1);
    out.push(m);
  }
  return out.reverse();
}

/** Acts on new annotation values, once each. Runs before the phase rules so a request wins over a timer. */
function handleRequests(ctx: Ctx): void {
  const { d, obs } = ctx;
  const ignore = (what: string, why: string) =>
    d.event("Normal", REASONS.RequestIgnored, `${what} request ignored: ${why} (phase ${d.phase})`);
  const take = (kind: "promote" | "abort" | "pause" | "resume" | "retry"): string | undefined => {
    const value = obs.requests[kind];
    if (value === undefined || value === d.status.handledRequests?.[kind]) return undefined;
    d.status.handledRequests = { ...d.status.handledRequests, [kind]: value };
    return value;
  };

  if (take("abort") !== undefined) {
    if (IN_FLIGHT.includes(d.phase)) {
      const message = `aborted by request at step ${(d.status.currentStepIndex ?? 0) + 1}; traffic back to primary`;
      d.phase = "Aborted";
      delete d.status.waitingSince;
      d.say(REASONS.Aborted, message);
      d.event("Warning", REASONS.Aborted, message);
      d.notify("Aborted", "warning", message, "once");
    } else if (d.phase === "Promoting" || d.phase === "Finalizing") {
      ignore("abort", "the new revision is already being promoted to primary");
    } else {
      ignore("abort", "no rollout in flight");
    }
  }

  const retry = take("retry");
  if (retry !== undefined) {
    const rev = d.status.canaryRevision;
    if ((d.phase === "RolledBack" || d.phase === "Aborted") && rev && rev === obs.canary.revision) {
      startRollout(ctx, rev, REASONS.Retried, `retrying rollout of ${rev} from the first step`);
    } else {
      ignore("retry", "only a rolled-back or aborted rollout of the current revision can be retried");
    }
  }

  if (take("pause") !== undefined) {
    if (d.phase === "Progressing") pause(ctx, "UserRequest", "paused by request; vireo.dev/resume continues");
    else ignore("pause", d.phase === "Paused" ? "already paused" : "no rollout in flight");
  }

  if (take("resume") !== undefined) {
    if (d.phase !== "Paused") ignore("resume", "not paused");
    else if (d.status.pauseReason === "WindowClosed" || !obs.window.open)
      ignore("resume", "a deployment window is closed");
    else resumeFromPause(ctx, "resumed by request");
  }

  const promote = take("promote");
  if (promote !== undefined) {
    if (!IN_FLIGHT.includes(d.phase)) ignore("promote", "no rollout in flight");
    else if (d.status.pauseReason === "WindowClosed" || !obs.window.open)
      ignore("promote", "a deployment window is closed");
    else if (!isReady(obs.canary)) ignore("promote", "the canary is not ready");
    else if (promote === PROMOTE_FULL) {
      d.phase = "Progressing";
      startPromotion(
        ctx,
        "User",
        `promoted by request (full): skipping remaining steps of ${d.status.canaryRevision}`,
      );
    } else {
      d.phase = "Progressing";
      d.event(
        "Normal",
        REASONS.PromotedByUser,
        `promoted past step ${(d.status.currentStepIndex ?? 0) + 1} by request`,
      );
      if (d.status.stepStartedAt === undefined) enterStep(ctx, d.status.currentStepIndex ?? 0);
      advance(ctx, "User");
    }
  }
}

/** Leaves a pause. Resuming a pause step means moving past it. */
function resumeFromPause(ctx: Ctx, message: string): void {
  const { d } = ctx;
  const wasStep = d.status.pauseReason === "PauseStep";
  d.phase = "Progressing";
  // Waiting restarts now: time spent paused does not count against the progress deadline.
  if (d.status.waitingSince) d.status.waitingSince = d.now.toISOString();
  if (d.status.analysis) d.status.analysis.inconclusiveCount = 0;
  d.event("Normal", REASONS.Resumed, message);
  if (wasStep) advance(ctx, "User");
}

function onInitializing(ctx: Ctx): void {
  const { d, obs } = ctx;
  if (!obs.primary.exists || !obs.servicesReady) {
    d.act({ type: "EnsureWorkloads", revision: obs.canary.revision ?? "" });
    d.say(REASONS.Initializing, "creating the primary Deployment and Services");
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (!isReady(obs.primary)) {
    d.say(REASONS.WaitingForPrimary, "waiting for the primary Deployment to become available");
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (!route(ctx, 0)) {
    d.say(REASONS.WaitingForRoutes, "routing all traffic to primary");
    return;
  }
  ensureAccessPolicy(ctx);
  // Only now, with primary serving all traffic, may the original Deployment go to zero — unless it already runs a
  // newer revision, which the Healthy rules will start rolling out at once.
  if (obs.canary.desiredReplicas > 0 && obs.canary.revision === obs.primary.revision)
    d.act({ type: "ScaleCanaryDown" });
  d.phase = "Healthy";
  d.status.stableRevision = obs.primary.revision;
  d.status.canaryWeight = 0;
  const message = `initialized: primary serves revision ${obs.primary.revision}`;
  d.say(REASONS.Initialized, message);
  d.event("Normal", REASONS.Initialized, message);
}

/** Starts a rollout of the target's revision unless suspended or outside a window. Returns true if started. */
function maybeStart(ctx: Ctx, reason: Reason, message: string): boolean {
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

function onHealthy(ctx: Ctx): void {
  const { d, obs } = ctx;
  const target = obs.canary.revision;
  if (target !== d.status.stableRevision) {
    if (maybeStart(ctx, REASONS.RolloutStarted, `rollout of revision ${target} started`)) {
      onInFlight(ctx);
      return;
    }
  } else {
    d.say(REASONS.Healthy, `primary serves revision ${d.status.stableRevision}`);
  }
  retreatToPrimary(ctx);
  ensureAccessPolicy(ctx);
}

/** Phase rules for Progressing and Paused. */
function onInFlight(ctx: Ctx): void {
  const { d, spec, obs, steps } = ctx;
  const target = obs.canary.revision;
  if (target === d.status.stableRevision) {
    d.phase = "Healthy";
    const message = `target reverted to the stable revision ${target}; rollout of ${d.status.canaryRevision} cancelled`;
    d.say(REASONS.RevisionReverted, message);
    d.event("Normal", REASONS.RevisionReverted, message);
    retreatToPrimary(ctx);
    return;
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
  if (!recordAnalysis(ctx)) return;
  ensureAccessPolicy(ctx);

  const deadlineMs = spec.progressDeadlineSeconds * 1000;
  const waitingSince = d.status.waitingSince ? Date.parse(d.status.waitingSince) : undefined;
  // The deadline measures waiting for readiness and routes while progressing; a pause stops the clock.
  if (
    d.phase === "Progressing" &&
    waitingSince !== undefined &&
    d.now.getTime() - waitingSince >= deadlineMs
  ) {
    rollBack(
      ctx,
      REASONS.ProgressDeadlineExceeded,
      `rolled back: no progress for ${formatDuration(deadlineMs)} (${d.message || "canary or routes not ready"})`,
    );
    return;
  }
  const waitFor = (reason: Reason, message: string, pollMs: number) => {
    d.wakeIn(pollMs);
    if (d.phase === "Paused") {
      holdPaused(ctx, message);
      return;
    }
    d.status.waitingSince ??= d.now.toISOString();
    d.say(reason, message);
    d.wake(Date.parse(d.status.waitingSince) + deadlineMs);
  };

  if (!isReady(obs.canary)) {
    if (obs.canary.desiredReplicas === 0) d.act({ type: "ScaleCanaryUp" });
    // A canary that lost all its pods must not keep traffic.
    if (obs.canary.readyReplicas === 0 && (obs.routes?.canary ?? 0) > 0) route(ctx, 0);
    waitFor(REASONS.WaitingForCanary, `waiting for the canary ${target} to become ready`, WORKLOAD_POLL_MS);
    return;
  }
  if (d.status.stepStartedAt === undefined) {
    if (d.phase === "Paused") {
      holdPaused(ctx, `waiting to enter step ${(d.status.currentStepIndex ?? 0) + 1}`);
      return;
    }
    if (!obs.window.open || spec.suspend) {
      holdForGate(ctx);
      return;
    }
    enterStep(ctx, d.status.currentStepIndex ?? 0);
  }

  // Walk through as many steps as can complete now; each iteration either returns or advances.
  for (let guard = 0; guard <= steps.length + 1; guard++) {
    const index = d.status.currentStepIndex ?? 0;
    const step = steps[index]!;
    if (!route(ctx, d.status.canaryWeight ?? 0)) {
      waitFor(
        REASONS.WaitingForRoutes,
        `waiting for the mesh to route ${d.status.canaryWeight}% to the canary`,
        ROUTE_POLL_MS,
      );
      return;
    }
    delete d.status.waitingSince;
    const where = `step ${index + 1}/${steps.length}, canary weight ${d.status.canaryWeight}%`;
    if (d.phase === "Paused") {
      holdPaused(ctx, where);
      return;
    }
    if (!stepComplete(ctx, step, where)) return;
    if (!obs.window.open || spec.suspend) {
      holdForGate(ctx);
      return;
    }
    advance(ctx, analysisRequired(spec) ? "Analysis" : "Steps");
    if (d.phase !== "Progressing") {
      if (d.phase === "Promoting") onPromoting(ctx);
      return;
    }
  }
}

/** True when the current step's own condition is met (pause elapsed, analysis passed); says what it waits for. */
function stepComplete(ctx: Ctx, step: ReturnType<typeof expandSteps>[number], where: string): boolean {
  const { d, spec } = ctx;
  const started = Date.parse(d.status.stepStartedAt!);
  if (step.pause) {
    if (step.pause.duration === undefined) {
      pause(ctx, "PauseStep", `${where}: paused until vireo.dev/promote or vireo.dev/resume`);
      holdPaused(ctx, where);
      return false;
    }
    const end = started + parseDuration(step.pause.duration);
    if (d.now.getTime() < end) {
      d.say(REASONS.PauseStep, `${where}: pausing for ${step.pause.duration}`);
      d.wake(end);
      return false;
    }
    return true;
  }
  if (!analysisRequired(spec)) return true;
  const lastPass = Date.parse(d.status.analysis?.lastPassAt ?? "");
  if (Number.isFinite(lastPass) && lastPass > started) return true;
  d.say(REASONS.WaitingForAnalysis, `${where}: waiting for a passing analysis`);
  const due = nextAnalysisAt(spec, d.status);
  if (due) d.wake(due);
  return false;
}

/** A closed window or spec.suspend holds the weight where it is; the window reopening resumes. */
function holdForGate(ctx: Ctx): void {
  const { d, spec, obs } = ctx;
  if (spec.suspend) {
    d.say(REASONS.Suspended, "spec.suspend is true: holding the current weight");
  } else if (d.phase === "Progressing") {
    pause(ctx, "WindowClosed", `holding at canary weight ${d.status.canaryWeight}%: ${obs.window.message}`);
    holdPaused(ctx, `canary weight ${d.status.canaryWeight}%`);
  }
  if (obs.window.nextTransitionAt) d.wake(obs.window.nextTransitionAt);
  const due = nextAnalysisAt(spec, d.status);
  if (due) d.wake(due);
}

/** Keeps a paused rollout's analysis ticking and says why it waits. */
function holdPaused(ctx: Ctx, where: string): void {
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
  };
  const [r, text] = why[reason ?? "UserRequest"];
  d.say(r, `${where}: ${text}`);
  if (reason === "WindowClosed" && obs.window.nextTransitionAt) d.wake(obs.window.nextTransitionAt);
  const due = nextAnalysisAt(spec, d.status);
  if (due) d.wake(due);
}

function onPromoting(ctx: Ctx): void {
  const { d, obs } = ctx;
  const revision = d.status.canaryRevision!;
  if (obs.primary.revision !== revision) {
    d.act({ type: "PromotePrimary", revision });
    d.say(REASONS.Promoting, `copying revision ${revision} to the primary Deployment`);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (!isReady(obs.primary)) {
    d.say(REASONS.WaitingForPrimary, `waiting for primary to roll out revision ${revision}`);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  d.phase = "Finalizing";
  onFinalizing(ctx);
}

function onFinalizing(ctx: Ctx): void {
  const { d } = ctx;
  if (!retreatToPrimary(ctx)) {
    d.say(REASONS.Finalizing, "routing all traffic to the promoted primary");
    return;
  }
  const revision = d.status.canaryRevision!;
  d.phase = "Healthy";
  d.status.stableRevision = revision;
  delete d.status.waitingSince;
  delete d.status.stepStartedAt;
  const message = `revision ${revision} promoted${d.status.promotedBy === "User" ? " by request" : ""}`;
  d.say(REASONS.Promoted, message);
  d.event("Normal", REASONS.Promoted, message);
  d.notify("Promoted", "info", message, "once");
}

function onEnded(ctx: Ctx): void {
  const { d, obs } = ctx;
  const target = obs.canary.revision;
  if (target === d.status.stableRevision) {
    d.phase = "Healthy";
    d.say(REASONS.RevisionReverted, `target reverted to the stable revision ${target}`);
    retreatToPrimary(ctx);
    return;
  }
  if (
    target !== d.status.canaryRevision &&
    maybeStart(ctx, REASONS.NewRevision, `rollout of revision ${target} started`)
  ) {
    onInFlight(ctx);
    return;
  }
  retreatToPrimary(ctx);
  if (d.reason === REASONS.Healthy) {
    // Nothing new happened: keep saying why the rollout ended, as recorded when it did.
    const degraded = getCondition(d.status.conditions, CONDITION_TYPES.degraded);
    const fallback = d.phase === "Aborted" ? REASONS.Aborted : REASONS.RolledBack;
    d.say(
      degraded?.status === "True" ? (degraded.reason as Reason) : fallback,
      degraded?.status === "True"
        ? degraded.message
        : `rollout of ${d.status.canaryRevision} ended: ${fallback}`,
    );
  }
}

/** Writes the three conditions and the summary message from the final phase. */
function finishConditions(d: Draft, generation: number): void {
  const s = d.status;
  const set = (type: string, status: "True" | "False", reason: string, message: string) => {
    s.conditions = setCondition(s.conditions, { type, status, reason, message }, generation, d.now);
  };
  const msg = d.message || d.reason;
  const phase = d.phase;
  const degraded =
    ["RolledBack", "Aborted", "Invalid"].includes(phase) || d.reason === REASONS.TargetNotFound;
  const ready = !["Initializing", "Invalid"].includes(phase) && d.reason !== REASONS.TargetNotFound;
  const progressing = ["Progressing", "Promoting", "Finalizing", "Initializing"].includes(phase) && !degraded;
  set(CONDITION_TYPES.ready, ready ? "True" : "False", ready && !degraded ? phase : d.reason, msg);
  set(CONDITION_TYPES.progressing, progressing ? "True" : "False", d.reason, msg);
  if (degraded) {
    set(CONDITION_TYPES.degraded, "True", d.reason, msg);
  } else {
    set(CONDITION_TYPES.degraded, "False", REASONS.Healthy, "no problem detected");
  }
  s.message = msg;
}

const PHASE_RULES: Record<Phase, (ctx: Ctx) => void> = {
  Initializing: onInitializing,
  Healthy: onHealthy,
  Progressing: onInFlight,
  Paused: onInFlight,
  Promoting: onPromoting,
  Finalizing: onFinalizing,
  RolledBack: onEnded,
  Aborted: onEnded,
  Invalid: () => {},
};

/**
 * Drops repeated intentions (a phase entered twice in one decision may ask for the same routes twice), and scale
 * requests the final phase contradicts: a rollout that ends and restarts in one decision keeps its canary up.
 */
function settleActions(actions: readonly Action[], finalPhase: Phase): Action[] {
  const seen = new Set<string>();
  const canaryNeeded = IN_FLIGHT.includes(finalPhase);
  return actions.filter((a) => {
    if (a.type === "ScaleCanaryDown" && canaryNeeded) return false;
    const key = JSON.stringify(a);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Decides what to do next. Pure: the same input always gives the same output, and applying the actions and
 * deciding again with the resulting observations yields no new actions.
 */
export function decide(input: EngineInput, obs: Observations, now: Date): Decision {
  const d = new Draft(structuredClone(input.status ?? {}), now);
  d.status.observedGeneration = input.generation;

  if (obs.specIssues.length > 0 || !input.spec) {
    const message = `invalid spec, traffic left as it is: ${describeIssues(obs.specIssues)}`;
    if (d.phase !== "Invalid" || d.status.message !== message)
      d.event("Warning", REASONS.InvalidSpec, message);
    d.phase = "Invalid";
    d.say(REASONS.InvalidSpec, message);
    finishConditions(d, input.generation);
    return { status: d.status, actions: d.actions };
  }
  const spec = input.spec;
  const ctx: Ctx = { d, spec, obs, steps: expandSteps(spec.strategy.canary), generation: input.generation };

  if (d.phase === "Invalid") {
    // The spec is valid again: resume from the last stable state; a pending revision restarts from step 0.
    d.phase = d.status.stableRevision ? "Healthy" : "Initializing";
  }
  if (!obs.canary.exists || !obs.canary.revision) {
    const message = `target Deployment ${spec.targetRef.name} not found; traffic left as it is`;
    if (d.status.message !== message) d.event("Warning", REASONS.TargetNotFound, message);
    d.say(REASONS.TargetNotFound, message);
    d.wakeIn(MISSING_TARGET_POLL_MS);
    finishConditions(d, input.generation);
    return { status: d.status, actions: d.actions, requeueAfterMs: d.requeueAfterMs() };
  }

  handleRequests(ctx);
  // Run the rules of each phase the rollout enters until it settles, so one decision says everything the current
  // observations allow and deciding again on its own status changes nothing.
  for (let pass = 0; pass < 6; pass++) {
    const phase: Phase = d.phase;
    PHASE_RULES[phase](ctx);
    if (d.phase === phase) break;
  }
  finishConditions(d, input.generation);
  const requeueAfterMs = d.requeueAfterMs();
  return {
    status: d.status,
    actions: settleActions(d.actions, d.phase),
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}
