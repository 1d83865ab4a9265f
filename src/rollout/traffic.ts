// Traffic rules: move routes toward a weight — never to a backend without ready pods — and retreat to primary. The
// routes beside the weight (header routes, mirrors, sticky cookies) move with it, in the same write.

import { cutOverBlocked, drained } from "./blue-green.ts";
import type { Ctx } from "./draft.ts";
import { attemptOf, weights } from "./draft.ts";
import { managedRoutesFor, sameManaged } from "./managed-routes.ts";
import { ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "./timing.ts";
import type { ManagedRoutes, Weights } from "./types.ts";

const sameRoutes = (a: Weights | null, b: Weights) =>
  a !== null && a.primary === b.primary && a.canary === b.canary;

/** The managed routes this decision wants with the canary at `canary` percent. */
export function managedRoutesOf(ctx: Ctx, canary: number): ManagedRoutes {
  const { d, spec, steps, obs } = ctx;
  return managedRoutesFor(
    {
      spec,
      status: d.status,
      steps,
      canaryServes: obs.canary.readyReplicas > 0,
      attempt: attemptOf(d.status),
    },
    canary,
  );
}

/**
 * Moves routes toward `canary` percent, and the managed routes toward what this step has installed. Returns true
 * when the mesh already routes exactly that. Safety guard: never sends traffic to a backend without ready pods —
 * the weight waits until it has some. The managed routes are asked for whatever the weight does: they need only
 * the canary's pods (a header route is not held back by a primary that is not fully available, Argo #4561).
 */
export function route(ctx: Ctx, canary: number): boolean {
  // A StatefulSet or DaemonSet without a traffic split: traffic follows the pods, there is nothing to route.
  if (ctx.obs.inPlace && !ctx.obs.inPlace.split) return true;
  const desired = weights(canary);
  const managed = managedRoutesOf(ctx, canary);
  ctx.d.manage(managed);
  const managedRouted = sameManaged(ctx.obs.managedRoutes, managed);
  if (!managedRouted) ctx.d.wakeIn(ROUTE_POLL_MS);
  if (sameRoutes(ctx.obs.routes, desired)) {
    // Recorded even when already routed: it replaces any other wish an earlier rule of this decision had.
    ctx.d.routeTo(desired);
    return managedRouted;
  }
  if (desired.canary > 0 && ctx.obs.canary.readyReplicas === 0) return false;
  if (cutOverBlocked(ctx, desired.canary)) return false;
  if (desired.primary > 0 && ctx.obs.primary.readyReplicas === 0) return false;
  ctx.d.routeTo(desired);
  ctx.d.wakeIn(ROUTE_POLL_MS);
  return false;
}

/**
 * Routes everything to primary, removing every managed route that points at the canary, and, once the mesh confirms
 * both, scales the canary down (never the other order; blue/green also waits for its preview and scale-down delay).
 */
export function retreatToPrimary(ctx: Ctx): boolean {
  ctx.d.status.canaryWeight = 0;
  const routed = route(ctx, 0);
  if (routed && drained(ctx)) ctx.d.wantCanary("down");
  if (!routed && ctx.obs.primary.readyReplicas === 0) {
    ctx.d.wakeIn(WORKLOAD_POLL_MS);
  }
  return routed;
}

export function ensureAccessPolicy(ctx: Ctx): void {
  if (!ctx.obs.accessPolicyInSync) ctx.d.act({ type: "ApplyAccessPolicy" });
}
