// StatefulSet and DaemonSet targets: the phases whose work differs from a Deployment's, since there is no primary to
// create, promote or scale — taking the workload over, holding it between rollouts, promoting by updating every
// pod, and rolling back by restoring the stable template. The in-flight phases are the Deployment's own rules
// (phases/in-flight.ts), which ask {@link podsAtStep} at every step.

import { REASONS } from "../../api/constants.ts";
import type { Ctx } from "../draft.ts";
import { keepSayingWhyEnded } from "../phases/ended.ts";
import { finishPromotion } from "../phases/promotion.ts";
import { WORKLOAD_POLL_MS } from "../timing.ts";
import { maybeStart } from "../transitions.ts";
import { type Converged, convergePods, workloadStatus } from "./converge.ts";
import { livePods, wantedAt } from "./pods.ts";

const nameOf = (ctx: Ctx) => `${ctx.obs.inPlace!.kind} ${ctx.spec.targetRef.name}`;

/**
 * Initializing: Vireo takes the workload over once it runs one revision on every pod (an update Kubernetes was
 * making when the Rollout appeared finishes first: Vireo did not start it and cannot tell which side is stable).
 * That revision becomes the stable one; the Healthy rules then put the hold on the update strategy.
 */
export function onInPlaceInitializing(ctx: Ctx): void {
  const { d, obs } = ctx;
  const ip = obs.inPlace!;
  const live = livePods(ip);
  const current = live.filter((p) => ip.observed && p.hash === ip.updateHash);
  const ready = current.filter((p) => p.ready).length;
  if (!ip.observed || ip.updateHash === undefined || current.length !== live.length || ready < ip.desired) {
    d.say(
      REASONS.Initializing,
      `waiting for ${nameOf(ctx)} to run one revision on every pod before Vireo takes over its updates (${ready}/${ip.desired} pods at its update revision and ready)`,
    );
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  d.status.workload = {
    kind: ip.kind,
    stableHash: ip.updateHash,
    desired: ip.desired,
    wanted: 0,
    updated: live.length,
  };
  d.phase = "Healthy";
  d.status.stableRevision = obs.canary.revision;
  d.status.canaryWeight = 0;
  const message = `initialized: ${nameOf(ctx)} runs revision ${obs.canary.revision} on ${ip.desired} pods; Vireo holds its updates`;
  d.say(REASONS.Initialized, message);
  d.event("Normal", REASONS.Initialized, message);
}

/** Healthy: every pod at the stable revision under Vireo's hold; a new template starts a rollout. */
export function onInPlaceHealthy(ctx: Ctx): void {
  const { d, obs } = ctx;
  const ip = obs.inPlace!;
  const w = workloadStatus(ctx);
  const target = obs.canary.revision;
  delete w.canaryHash;
  delete w.restoring;
  w.wanted = 0;
  if (target !== d.status.stableRevision) {
    // Started: the outer loop runs the in-flight rules next. Held meanwhile (a window, a suspend): nothing updates.
    if (maybeStart(ctx, REASONS.RolloutStarted, `rollout of revision ${target} started`)) return;
    convergePods(ctx, { hold: true });
    return;
  }
  // Kubernetes may give the same template a new hash (a defaulting change across an upgrade): the pods that run
  // it are stable all the same.
  const live = livePods(ip);
  if (ip.observed && ip.updateHash && live.length > 0 && live.every((p) => p.hash === ip.updateHash))
    w.stableHash = ip.updateHash;
  const c = convergePods(ctx, { stable: true });
  d.say(
    REASONS.Healthy,
    c.done ? `${nameOf(ctx)} runs revision ${d.status.stableRevision} on every pod` : c.waiting,
  );
  if (!c.done) d.wakeIn(WORKLOAD_POLL_MS);
}

/**
 * The pods of the current step (in flight): that many at the template revision, the rest stable. Records the
 * template's hash as the canary's, for analysis.
 */
export function podsAtStep(ctx: Ctx): Converged {
  const { d, obs } = ctx;
  const ip = obs.inPlace!;
  const w = workloadStatus(ctx);
  if (ip.observed && ip.updateHash !== undefined && ip.updateHash !== w.stableHash)
    w.canaryHash = ip.updateHash;
  // Before the first step is entered (a closed window, a pause) nothing is updated yet.
  const index = d.status.stepStartedAt === undefined ? -1 : (d.status.currentStepIndex ?? 0);
  return convergePods(ctx, { updated: index < 0 ? 0 : wantedAt(ctx.steps, index, ip) });
}

/** Promoting: every pod at the new revision, at the workload's own pace (its maxUnavailable). */
export function onInPlacePromoting(ctx: Ctx): void {
  const { d, obs } = ctx;
  const ip = obs.inPlace!;
  const revision = d.status.canaryRevision!;
  if (obs.canary.revision !== revision) {
    // The target moved on before every pod took the revision: back in flight, where the rules cancel or restart.
    d.phase = "Progressing";
    return;
  }
  const c = convergePods(ctx, { updated: ip.desired });
  if (!c.done) {
    d.say(REASONS.Promoting, `promoting revision ${revision}: ${c.waiting}`);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  d.phase = "Finalizing";
}

/** Finalizing: every pod runs the new revision, which becomes the stable one. */
export function onInPlaceFinalizing(ctx: Ctx): void {
  const w = workloadStatus(ctx);
  if (ctx.obs.inPlace!.updateHash !== undefined) w.stableHash = ctx.obs.inPlace!.updateHash;
  delete w.canaryHash;
  w.wanted = 0;
  finishPromotion(ctx);
}

/**
 * RolledBack and Aborted: the stable template goes back into the workload (once: a GitOps tool that applies the
 * rolled-back revision again is not fought), then every pod goes back to the stable revision. The phase stays
 * until a new revision, or a retry of the rolled-back one.
 */
export function onInPlaceEnded(ctx: Ctx): void {
  const { d, obs } = ctx;
  const ip = obs.inPlace!;
  const w = workloadStatus(ctx);
  const target = obs.canary.revision;
  const name = nameOf(ctx);
  if (w.restoring !== undefined && target !== w.restoring) delete w.restoring;
  if (w.restoring !== undefined && w.stableHash !== undefined && d.status.stableRevision !== undefined) {
    d.act({
      type: "RestoreTemplate",
      from: w.restoring,
      revision: d.status.stableRevision,
      hash: w.stableHash,
    });
    convergePods(ctx, { hold: true });
    keepSayingWhyEnded(ctx, `restoring the template of revision ${d.status.stableRevision} in ${name}`);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (target !== d.status.stableRevision && target !== d.status.canaryRevision) {
    if (maybeStart(ctx, REASONS.NewRevision, `rollout of revision ${target} started`)) return;
  }
  // Pods go back where the workload makes them from the stable template: a StatefulSet below its partition always,
  // a DaemonSet only while its template is the stable one.
  const back = target === d.status.stableRevision || ip.kind === "StatefulSet";
  const c = convergePods(ctx, back ? { stable: true } : { hold: true });
  const again =
    target !== d.status.canaryRevision
      ? ""
      : ip.kind === "StatefulSet"
        ? `the template is revision ${target} again: every pod stays at the stable revision under the partition; vireo.dev/retry rolls it out again`
        : `the template is revision ${target} again: pods keep the stable revision, but pods made from now on (a new node) run ${target}; vireo.dev/retry rolls it out again, or revert the template`;
  keepSayingWhyEnded(ctx, [c.done ? "" : c.waiting, again].filter(Boolean).join("; "));
  if (!c.done) d.wakeIn(WORKLOAD_POLL_MS);
}
