// Checks in the engine: starting runs at their points, recording verdicts (webhook results, Jobs, approvals,
// deadlines) and saying what a failure means where it happened. A run lives in status.checks from the decision that
// starts it until the next rollout attempt; its Job and its webhook call are the reconciler's, after the status
// write that records the run, so a crash between the two repeats the call with the same key or adopts the Job.

import {
  CHECK_DEADLINE_GRACE_MS,
  CHECK_LIMITS,
  type CheckPoint,
  type CheckRun,
  type CheckSpec,
  type HookPoint,
  kindOf,
  type OnFailure,
  onFailureAt,
  webhookRetryDelayMs,
} from "../api/check-schema.ts";
import { REASONS } from "../api/constants.ts";
import { formatDuration, parseDuration } from "../api/duration.ts";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import type { Ctx, Draft } from "./draft.ts";
import { clipMessage } from "./status-budget.ts";
import type { CheckRunRef, Observations } from "./types.ts";

/** Where a check runs: the check, the point and (for point `step`) the step. */
type Place = Omit<CheckRunRef, "attempt">;

/** A stable text identity of a run (notification discriminators, action keys). */
export const runKey = (r: CheckRunRef): string => `${r.point}:${r.step ?? ""}:${r.name}#${r.attempt}`;
const samePlace = (a: Place, b: Place) =>
  a.name === b.name && a.point === b.point && (a.step ?? -1) === (b.step ?? -1);
/** True when `a` and `b` are the same run (check, point, step and attempt). */
export const sameRun = (a: CheckRunRef, b: CheckRunRef): boolean =>
  samePlace(a, b) && a.attempt === b.attempt;
/** The run's identity without its status fields. */
export const refOf = (r: CheckRunRef): CheckRunRef => ({
  name: r.name,
  point: r.point,
  ...(r.step !== undefined ? { step: r.step } : {}),
  attempt: r.attempt,
});

/**
 * The rollout attempt runs belong to (a retry or a new revision starts a new one): its start and its revision, as
 * two revisions pushed within the same instant start two attempts whose Jobs must not share a name.
 */
export const attemptIdOfStatus = (s: RolloutStatus): string =>
  `${s.rolloutStartedAt ?? ""}/${s.canaryRevision ?? ""}`;

/** {@link attemptIdOfStatus} of the status being decided. */
export const attemptIdOf = (d: Draft): string => attemptIdOfStatus(d.status);

/** "preRollout check smoke", "step 3 check smoke", for messages. */
export function describeRun(r: Place): string {
  const where = r.point === "step" ? `step ${(r.step ?? 0) + 1}` : r.point;
  return `${where} check ${r.name}`;
}

/** The definition of check `name` in the spec, if any. */
export function checkDefinition(ctx: Pick<Ctx, "spec">, name: string): CheckSpec | undefined {
  return ctx.spec.checks?.find((c) => c.name === name);
}

/**
 * When a run without a verdict fails for good (a timeout is never a pass): a webhook after all its tries and their
 * backoff, a Job after its timeout, an approval after its own timeout; plus a grace for the result to arrive.
 * Undefined: no limit (an approval without a timeout).
 */
export function runDeadline(check: CheckSpec, startedAt: number): number | undefined {
  if (check.webhook) {
    const tries = check.webhook.retries + 1;
    let total = tries * parseDuration(check.webhook.timeout);
    for (let n = 1; n < tries; n++) total += webhookRetryDelayMs(n);
    return startedAt + total + CHECK_DEADLINE_GRACE_MS;
  }
  if (check.job) return startedAt + parseDuration(check.job.timeout) + CHECK_DEADLINE_GRACE_MS;
  if (check.approval?.timeout) return startedAt + parseDuration(check.approval.timeout);
  return undefined;
}

/** Why a run timed out, in words. */
function timeoutMessage(check: CheckSpec): string {
  if (check.webhook)
    return `timed out: no answer within ${check.webhook.retries + 1} tries of ${check.webhook.timeout} (queued or sent)`;
  if (check.job) return `timed out after ${check.job.timeout}; the Job is deleted with its pods`;
  return `not approved within ${check.approval?.timeout ?? formatDuration(0)}`;
}

/** The newest run at `place`, if any. */
function latest(d: Draft, place: Place): CheckRun | undefined {
  let found: CheckRun | undefined;
  for (const r of d.status.checks ?? [])
    if (samePlace(r, place) && r.attempt > (found?.attempt ?? 0)) found = r;
  return found;
}

/**
 * Records a run's verdict once, with its Event, notification and (through status) metric. A run already finished
 * is left alone: a late result never overwrites a timeout.
 */
function finish(d: Draft, run: CheckRun, phase: "Passed" | "Failed" | "Skipped", message: string): void {
  if (run.phase !== "Pending" && run.phase !== "Running") return;
  run.phase = phase;
  run.finishedAt = d.now.toISOString();
  run.message = clipMessage(message, CHECK_LIMITS.message);
  const text = `${describeRun(run)} ${phase.toLowerCase()}: ${run.message}`;
  if (phase === "Passed") {
    d.event("Normal", REASONS.CheckPassed, text);
    d.notify("CheckPassed", "info", text, runKey(run));
  } else if (phase === "Failed") {
    d.event("Warning", REASONS.CheckFailed, text);
    d.notify("CheckFailed", "warning", text, runKey(run));
  } else {
    d.event("Normal", REASONS.CheckSkipped, text);
  }
}

/**
 * Puts `run` into status.checks: one run per place (the newest attempt replaces older ones), at most
 * {@link CHECK_LIMITS.runs}, the oldest finished runs going first.
 */
function putRun(d: Draft, run: CheckRun): void {
  const others = (d.status.checks ?? []).filter((r) => !samePlace(r, run));
  while (others.length >= CHECK_LIMITS.runs) {
    const i = others.findIndex((r) => r.phase !== "Pending" && r.phase !== "Running");
    others.splice(Math.max(i, 0), 1);
  }
  d.status.checks = [...others, run];
}

/** Starts run `attempt` of `check` at `place`: recorded now, carried out by the reconciler after the write. */
function startRun(ctx: Ctx, check: CheckSpec, place: Place, attempt: number): CheckRun {
  const { d } = ctx;
  const kind = kindOf(check);
  // A webhook is called right after the status write; a Job is Pending until seen, an approval until given.
  const run: CheckRun = {
    ...place,
    kind,
    phase: kind === "webhook" ? "Running" : "Pending",
    attempt,
    startedAt: d.now.toISOString(),
  };
  putRun(d, run);
  if (kind === "approval") {
    const message = `${describeRun(place)} waits for approval: kubectl vireo approve ${check.name} (or annotate vireo.dev/approve=${check.name})`;
    d.event("Normal", REASONS.WaitingForCheck, message);
    d.notify("ApprovalRequested", "info", message, runKey(run));
  }
  const deadline = runDeadline(check, d.now.getTime());
  if (deadline !== undefined) d.wake(deadline);
  return run;
}

/**
 * Records what the world says about unfinished runs: webhook results, Jobs seen, running, complete, failed or
 * gone, and deadlines passed. Every phase runs it first, so a verdict is recorded whatever the rollout does next.
 */
export function observeChecks(ctx: Ctx): void {
  const { d, obs } = ctx;
  const now = d.now.getTime();
  const open = (d.status.checks ?? []).filter((r) => r.phase === "Pending" || r.phase === "Running");
  for (const run of open) {
    if (run.phase !== "Pending" && run.phase !== "Running") continue;
    const check = checkDefinition(ctx, run.name);
    if (!check || kindOf(check) !== run.kind) {
      finish(d, run, "Failed", "the check is no longer in the spec (or changed kind)");
      continue;
    }
    if (run.kind === "webhook") {
      const result = obs.checks?.results.find((r) => sameRun(r, run) && r.attemptId === attemptIdOf(d));
      if (result) {
        finish(d, run, result.passed ? "Passed" : "Failed", result.message);
        continue;
      }
    } else if (run.kind === "job" && observeJob(ctx, run)) {
      continue;
    }
    const deadline = runDeadline(check, Date.parse(run.startedAt));
    if (deadline === undefined) continue;
    if (now >= deadline) finish(d, run, "Failed", timeoutMessage(check));
    else d.wake(deadline);
  }
  // An analysis run that failed (an answer, a Job, a timeout; never a pass) counts as a failed metric does, in the
  // write that records its verdict, whatever the rest of this decision does; the in-flight rules roll back at the
  // limit (analysisChecks).
  for (const run of open) {
    if (run.point !== "analysis" || run.phase !== "Failed") continue;
    d.status.analysis ??= { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0, history: [] };
    d.status.analysis.failedChecks = (d.status.analysis.failedChecks ?? 0) + 1;
    ctx.failedAnalysisRun = run;
  }
}

/** Why a job run whose Job was asked for and is not there fails. */
export const JOB_MISSING =
  "its Job is missing: deleted before the controller saw it run, or its create failed or never happened (the controller stopped first); a run's Job is never created twice (resume or retry runs the check again)";

/** Follows a job run's Job; true when that recorded a verdict. */
function observeJob(ctx: Ctx, run: CheckRun): boolean {
  const { d, obs } = ctx;
  const attemptId = attemptIdOf(d);
  const job = obs.checks?.jobs.find((j) => sameRun(j, run) && j.attemptId === attemptId);
  if (!job) {
    // Seen once and gone now: someone deleted it. Never created again for this run: that would run it twice.
    if (run.phase === "Running") {
      finish(d, run, "Failed", `Job ${run.job ?? ""} was deleted before it finished`);
      return true;
    }
    // Asked for and not there: deleted before the controller first saw it, or the create failed or never happened
    // (a stop between the status write and the create). They look alike, and creating it again could run it twice:
    // the run fails, at most once is the promise.
    if (run.jobRequestedAt === undefined) return false;
    const refused = obs.checks?.results.find((r) => sameRun(r, run) && r.attemptId === attemptId);
    finish(d, run, "Failed", refused ? refused.message : JOB_MISSING);
    return true;
  }
  if (run.jobUid && job.uid !== run.jobUid) {
    finish(d, run, "Failed", `Job ${job.job} was replaced by another object of that name`);
    return true;
  }
  if (run.phase === "Pending") {
    run.phase = "Running";
    run.job = job.job;
    run.jobUid = job.uid;
  }
  if (job.state === "Complete") finish(d, run, "Passed", `Job ${job.job} completed`);
  else if (job.state === "Failed")
    finish(d, run, "Failed", `Job ${job.job} failed: ${job.message ?? "Failed"}`);
  return job.state !== "Running";
}

/** Where a gate stands: all its checks passed (or failed with onFailure continue), some wait, or one failed. */
export type GateState =
  | { state: "passed" }
  | { state: "waiting"; message: string }
  | { state: "failed"; run: CheckRun; policy: Exclude<OnFailure, "continue"> };

/**
 * The gate of `names` at `point` (and `step`): starts the runs it lacks, in parallel, and says whether the rollout
 * may go on. A failed run stays failed until a resume runs it again ({@link rerunFailed}).
 */
export function gate(ctx: Ctx, point: CheckPoint, names: readonly string[], step?: number): GateState {
  const waiting: string[] = [];
  let failed: Extract<GateState, { state: "failed" }> | undefined;
  for (const name of names) {
    const check = checkDefinition(ctx, name);
    if (!check) continue; // refused as a spec issue before any traffic moves (check-refs.ts)
    const place: Place = { name, point, ...(step !== undefined ? { step } : {}) };
    const run = latest(ctx.d, place) ?? startRun(ctx, check, place, 1);
    if (run.phase === "Passed" || run.phase === "Skipped") continue;
    if (run.phase === "Failed") {
      const policy = onFailureAt(check, point);
      if (policy !== "continue") failed ??= { state: "failed", run, policy };
      continue;
    }
    waiting.push(run.kind === "approval" ? `approval of ${name}` : `${run.kind} check ${name}`);
  }
  if (failed) return failed;
  if (waiting.length > 0) return { state: "waiting", message: `waiting for ${waiting.join(", ")}` };
  return { state: "passed" };
}

/** Starts the checks of a hook that only reports (postPromotion, onRollback, onAbort); once per rollout attempt. */
export function startHooks(
  ctx: Ctx,
  point: Extract<HookPoint, "postPromotion" | "onRollback" | "onAbort">,
): void {
  for (const name of ctx.spec.hooks?.[point] ?? []) {
    const check = checkDefinition(ctx, name);
    const place: Place = { name, point };
    if (check && !latest(ctx.d, place)) startRun(ctx, check, place, 1);
  }
}

/**
 * Ends the runs that gate this rollout and have no verdict yet: a person promoted past them, or the rollout ended.
 * They become Skipped (never Passed), and their Jobs are deleted.
 */
export function skipGates(ctx: Ctx, why: string): void {
  for (const run of ctx.d.status.checks ?? []) {
    if (run.point === "preRollout" || run.point === "step" || run.point === "prePromotion")
      finish(ctx.d, run, "Skipped", why);
  }
  skipAnalysisChecks(ctx, why);
}

/** Ends the analysis runs still going: analysis is over (promotion, or the rollout ended). */
export function skipAnalysisChecks(ctx: Ctx, why: string): void {
  for (const run of ctx.d.status.checks ?? [])
    if (run.point === "analysis") finish(ctx.d, run, "Skipped", why);
}

/**
 * Starts the analysis checks at analysis tick `tick`: one run per check, its attempt the tick's number (so its
 * Idempotency-Key and Job name are the tick's). A check whose previous run has no verdict yet is not started again:
 * one call, one Job at a time, the running one counting when it ends.
 */
export function startTickChecks(ctx: Ctx, tick: number): void {
  for (const name of ctx.spec.analysis.checks ?? []) {
    const check = checkDefinition(ctx, name);
    if (!check) continue; // refused as a spec issue before any traffic moves
    const place: Place = { name, point: "analysis" };
    const last = latest(ctx.d, place);
    if (last && (last.phase === "Pending" || last.phase === "Running")) continue;
    if (last && last.attempt >= tick) continue; // this tick already started it
    startRun(ctx, check, place, tick);
  }
}

/**
 * The analysis checks a step still waits for: those without a run that passed and started at or after `since` (the
 * step's start), so each step is judged by runs made while its traffic flowed.
 */
export function analysisChecksPending(ctx: Ctx, since: number): string[] {
  const waiting: string[] = [];
  for (const name of ctx.spec.analysis.checks ?? []) {
    if (!checkDefinition(ctx, name)) continue;
    const run = latest(ctx.d, { name, point: "analysis" });
    if (run?.phase === "Passed" && Date.parse(run.startedAt) >= since) continue;
    waiting.push(name);
  }
  return waiting;
}

/** After a resume from a check failure: runs every failed gate check with onFailure pause again (next attempt). */
export function rerunFailed(ctx: Ctx): void {
  for (const run of [...(ctx.d.status.checks ?? [])]) {
    if (run.phase !== "Failed") continue;
    const check = checkDefinition(ctx, run.name);
    if (!check || onFailureAt(check, run.point) !== "pause") continue;
    if (latest(ctx.d, run) !== run) continue;
    startRun(ctx, check, run, run.attempt + 1);
  }
}

/** Approves the waiting approval check a `vireo.dev/approve` value names (`<check>` or `<check>/<token>`). */
export function approve(ctx: Ctx, value: string): string | undefined {
  const name = value.split("/")[0] ?? "";
  const waiting = (ctx.d.status.checks ?? []).filter(
    (r) => r.kind === "approval" && r.phase === "Pending" && r.name === name,
  );
  if (waiting.length === 0) return `no approval check named ${JSON.stringify(name)} waits`;
  for (const run of waiting) finish(ctx.d, run, "Passed", `approved by request (vireo.dev/approve=${value})`);
  return undefined;
}

/**
 * The Jobs the runs need: created once for a Pending job run, the request recorded in the same status write that
 * precedes the create (an existing Job of its name is adopted); deleted when no run of this attempt names them (an
 * earlier attempt's) or their run ended without them (timed out, skipped, replaced).
 */
export function syncCheckJobs(d: Draft, obs: Observations): void {
  const runs = d.status.checks ?? [];
  const attemptId = attemptIdOf(d);
  const seen = obs.checks?.jobs ?? [];
  for (const run of runs) {
    if (run.kind !== "job" || run.phase !== "Pending" || run.jobRequestedAt !== undefined) continue;
    if (seen.some((j) => sameRun(j, run) && j.attemptId === attemptId)) continue;
    run.jobRequestedAt = d.now.toISOString();
    const revision = d.status.canaryRevision ?? "";
    d.checkJob({ type: "CreateCheckJob", run: refOf(run), attemptId, revision }, `create/${runKey(run)}`);
  }
  for (const job of seen) {
    const run = job.attemptId === attemptId ? runs.find((r) => sameRun(r, job)) : undefined;
    const ended = run && (run.phase === "Failed" || run.phase === "Skipped");
    if (!run || (ended && job.state === "Running"))
      d.checkJob({ type: "DeleteCheckJob", job: job.job }, `delete/${job.job}`);
  }
}
