// Blue/green rules (its steps are in steps.ts): the preview Service that points at the new pods only once
// they are ready at full size, the cut-over gated on EndpointSlices, and the delay before the losing side scales down.

import { REASONS, type Reason } from "../api/constants.ts";
import { previewServiceName } from "../api/derived-names.ts";
import { formatDuration, parseDuration } from "../api/duration.ts";
import { autoscaled } from "./autoscaling.ts";
import { type Ctx, isReady } from "./draft.ts";
import { ROUTE_POLL_MS } from "./timing.ts";

/** True when the Rollout runs the blue/green strategy. */
export const isBlueGreen = (ctx: Pick<Ctx, "spec">): boolean => ctx.spec.strategy.blueGreen !== undefined;

/**
 * The replicas the new version must have ready before it takes all traffic: the application's replica count (the
 * canary is scaled to it), or with a HorizontalPodAutoscaler the count the user's HPA gives it — Vireo never
 * fights an HPA over replicas (docs/blue-green.md#autoscaling).
 */
function fullSize(ctx: Ctx): number {
  const { d, obs } = ctx;
  const app = autoscaled(obs) ? 0 : (d.status.replicas ?? obs.primary.desiredReplicas);
  return Math.max(app, obs.canary.desiredReplicas, 1);
}

/**
 * Why the new version is not yet ready to take all traffic, or undefined when it is: its Deployment rolled out at
 * full size, and the EndpointSlices of `<service>-canary` list that many ready endpoints (a proxy routes by the
 * slices, not by the Deployment's status).
 */
function previewShortfall(ctx: Ctx): string | undefined {
  const { obs } = ctx;
  const size = fullSize(ctx);
  const slices = obs.endpoints?.canaryReady ?? 0;
  if (isReady(obs.canary) && obs.canary.readyReplicas >= size && slices >= size) return undefined;
  return `${Math.min(obs.canary.readyReplicas, size)}/${size} pods ready, ${Math.min(slices, size)}/${size} ready endpoints in the EndpointSlices of the canary Service`;
}

/** True when the new version may take all traffic (see {@link previewShortfall}). */
export const previewFull = (ctx: Ctx): boolean => previewShortfall(ctx) === undefined;

/**
 * Finalizing: why the promoted primary cannot take all traffic back yet, or undefined when it can — rolled out, its
 * EndpointSlices listing all its replicas ready, and the preview (pointed at it first, so its slices are computed
 * afresh) agreeing with them: the primary's own slices may still list the pods its rolling update replaced.
 */
export function primaryShortfall(ctx: Ctx): string | undefined {
  const { d, obs } = ctx;
  d.previewTo("primary");
  const size = Math.max(obs.primary.desiredReplicas, 1);
  const slices = obs.endpoints?.primaryReady ?? 0;
  if (isReady(obs.primary) && slices >= size && obs.endpoints?.preview === "primary") return undefined;
  return `the promoted primary has ${Math.min(slices, size)}/${size} ready endpoints in the EndpointSlices of the primary Service${obs.endpoints?.preview === "primary" ? "" : `, and the EndpointSlices of Service ${previewServiceName(ctx.spec)} do not yet agree with them`}`;
}

/** True once the rollout entered its first step: from then on the preview shows the new version. */
const entered = (ctx: Ctx): boolean =>
  ctx.d.status.stepStartedAt !== undefined || (ctx.d.status.currentStepIndex ?? 0) > 0;

/**
 * True while a blue/green rollout has not entered its first step: its preview is unconfirmed, so all traffic belongs
 * on the active version (someone's edit of the split is put back, not left on the new pods while the rules wait).
 */
export const beforeFirstStep = (ctx: Ctx): boolean => isBlueGreen(ctx) && !entered(ctx);

/**
 * In flight while the canary is not ready: the preview stays where {@link previewReady} keeps it — on the new pods
 * once a step was entered, on the active version before (the canary may run two revisions while it rolls). Said by
 * every in-flight decision, so one that came from another phase (whose rules pointed the preview elsewhere) decides
 * the same as the next one will on its status.
 */
export function previewWhileUnready(ctx: Ctx): void {
  if (isBlueGreen(ctx)) ctx.d.previewTo(entered(ctx) ? "canary" : "primary");
}

/**
 * In-flight rule (after the canary is ready): the preview Service moves to the new pods once they are ready at full
 * size, and the first step is entered only once its EndpointSlices confirm it, so analysis judges the new version
 * alone. Returns false while it waits.
 */
export function previewReady(
  ctx: Ctx,
  wait: (reason: Reason, message: string, pollMs: number) => void,
): boolean {
  if (!isBlueGreen(ctx)) return true;
  const { d, obs } = ctx;
  if (entered(ctx)) {
    d.previewTo("canary");
    return true;
  }
  const preview = previewServiceName(ctx.spec);
  const shortfall = previewShortfall(ctx);
  if (shortfall) {
    // A restarted rollout's canary runs two revisions while it rolls: the preview serves the active meanwhile.
    d.previewTo("primary");
    wait(
      REASONS.WaitingForPreview,
      `waiting for revision ${obs.canary.revision} at full size before Service ${preview} points at it: ${shortfall}`,
      ROUTE_POLL_MS,
    );
    return false;
  }
  d.previewTo("canary");
  if (obs.endpoints?.preview === "canary") return true;
  wait(
    REASONS.WaitingForPreview,
    `waiting for the EndpointSlices of Service ${preview} to list only revision ${obs.canary.revision}`,
    ROUTE_POLL_MS,
  );
  return false;
}

/**
 * Why the cut-over waits, for the rules' messages; undefined when it does not wait on the preview. Keeps the preview
 * on the new version (a full promotion may ask for the cut-over before the in-flight rules pointed it).
 */
export function awaitCutOver(ctx: Ctx): string | undefined {
  if (!isBlueGreen(ctx) || (ctx.d.status.canaryWeight ?? 0) === 0) return undefined;
  const shortfall = previewShortfall(ctx);
  if (!shortfall) ctx.d.previewTo("canary");
  if (!shortfall && ctx.obs.endpoints?.preview === "canary") return undefined;
  return `waiting for revision ${ctx.obs.canary.revision} at full size before the cut-over: ${shortfall ?? `the EndpointSlices of Service ${previewServiceName(ctx.spec)} do not yet list exactly its ready pods`}`;
}

/**
 * True when a switch of all traffic to the canary must wait: blue/green moves everything at once, so only to a new
 * version ready at full size (see {@link previewFull}) behind a preview whose EndpointSlices agree with the canary
 * Service's (recomputed when the preview's selector changed, they prove the canary's slices are not stale).
 */
export const cutOverBlocked = (ctx: Ctx, canary: number): boolean =>
  isBlueGreen(ctx) && canary > 0 && (!previewFull(ctx) || ctx.obs.endpoints?.preview !== "canary");

/**
 * Whether the canary, which no longer gets traffic, may be scaled down: for blue/green only once the preview
 * Service points at the primary again and `scaleDownDelay` passed since that was seen (proxies that apply routes
 * and EndpointSlices later must still reach live pods). The time is kept in status so a restart waits no longer.
 */
export function drained(ctx: Ctx): boolean {
  const bg = ctx.spec.strategy.blueGreen;
  if (!bg) return true;
  const { d, obs } = ctx;
  d.previewTo("primary");
  if (obs.canary.desiredReplicas === 0) {
    delete d.status.scaleDownAt;
    return true;
  }
  if (obs.endpoints?.preview !== "primary") {
    d.wakeIn(ROUTE_POLL_MS);
    return false;
  }
  d.status.scaleDownAt ??= new Date(d.now.getTime() + parseDuration(bg.scaleDownDelay)).toISOString();
  const at = Date.parse(d.status.scaleDownAt);
  if (d.now.getTime() >= at) return true;
  d.wake(at);
  return false;
}

/** Where a blue/green rollout stands at step `index`, for messages; undefined for a canary. */
export function blueGreenWhere(ctx: Ctx, index: number): string | undefined {
  const bg = ctx.spec.strategy.blueGreen;
  if (!bg) return undefined;
  const { d, steps } = ctx;
  const revision = d.status.canaryRevision;
  const step = steps[index];
  if ((d.status.canaryWeight ?? 0) === 0)
    return `preview: revision ${revision} at full size behind Service ${previewServiceName(ctx.spec)}`;
  if (step?.pause)
    return `rollback window (${formatDuration(parseDuration(bg.rollbackWindow))}): revision ${revision} serves 100 %, the previous revision stays warm`;
  return `cut over: revision ${revision} serves 100 %`;
}

/** The Event announcing the cut-over, in place of a canary's StepAdvanced. */
export function cutOverMessage(ctx: Ctx): string {
  const bg = ctx.spec.strategy.blueGreen!;
  const window = parseDuration(bg.rollbackWindow);
  return `cutting over: all traffic to revision ${ctx.d.status.canaryRevision}${window > 0 ? `; the previous revision stays warm for the rollback window (${formatDuration(window)})` : ""}`;
}
