// Engine rules for a target with a HorizontalPodAutoscaler: the primary gets a copy of the user's HPA, the HPAs own
// the replicas (Vireo never sets them), and a promotion waits until the primary is scaled for all the traffic.

import type { Ctx, Draft } from "./draft.ts";
import type { Observations } from "./types.ts";

/** Phases in which the primary HPA's minReplicas may be raised to the promotion floor. */
const PROMOTION_PHASES = ["Promoting", "Finalizing"];

/** True when the user's HPA owns the application's replicas (and the primary HPA the primary's). */
export function autoscaled(obs: Pick<Observations, "autoscaler">): boolean {
  return obs.autoscaler?.user !== undefined;
}

type Bounds = NonNullable<NonNullable<Observations["autoscaler"]>["user"]>;

/** `n` moved inside the user's HPA bounds, which the user may edit at any time. */
const withinBounds = (n: number, user: Bounds): number =>
  Math.min(user.maxReplicas, Math.max(user.minReplicas, n));

/**
 * The replicas the primary must have ready before it takes all the traffic: what the backends serving traffic run
 * together when the promotion begins (primary and canary mid-canary; the canary alone after a blue/green cut-over),
 * within the user's HPA bounds. Fixed in status when first asked, so the floor does not
 * climb as the primary grows towards it; moved back inside the bounds when the user edits them mid-promotion, so a
 * lowered maxReplicas cannot leave the promotion waiting for replicas the HPA will never give. Undefined without
 * an HPA.
 */
export function promotionFloor(ctx: Ctx): number | undefined {
  const { d, obs } = ctx;
  const user = obs.autoscaler?.user;
  if (!user) return undefined;
  // A backend the routes give no traffic carries no load the primary must take over (unknown routes: count both).
  const serves = (side: "primary" | "canary") => obs.routes === null || obs.routes[side] > 0;
  const serving =
    (obs.primary.exists && serves("primary") ? obs.primary.desiredReplicas : 0) +
    (serves("canary") ? obs.canary.desiredReplicas : 0);
  d.status.promotionReplicas = withinBounds(d.status.promotionReplicas ?? serving, user);
  return d.status.promotionReplicas;
}

/**
 * Keeps the primary HPA a copy of the user's, retargeted to the primary — its minReplicas raised to the promotion
 * floor while promoting, so the HPA controller (not Vireo) scales the primary up before it gets all the traffic —
 * and removes it when the user's HPA is gone. The primary HPA is made only once the primary exists.
 */
export function syncAutoscaler(d: Draft, obs: Observations): void {
  if (!PROMOTION_PHASES.includes(d.phase)) delete d.status.promotionReplicas;
  const a = obs.autoscaler;
  if (!a) return;
  if (!a.user) {
    if (a.primary) d.act({ type: "DeleteAutoscaler" });
    return;
  }
  if (!obs.primary.exists) return;
  // The stored floor was fixed under the bounds of its time: below today's minimum it would scale the primary
  // under what the user asks for, and the HPA API refuses a minReplicas above maxReplicas.
  const minReplicas = withinBounds(d.status.promotionReplicas ?? a.user.minReplicas, a.user);
  if (!a.primary?.matchesUser || a.primary.minReplicas !== minReplicas)
    d.act({ type: "SyncAutoscaler", minReplicas });
}
