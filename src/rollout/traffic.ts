// Traffic rules: move routes toward a weight — never to a backend without ready pods — and retreat to primary.

import { cutOverBlocked, drained } from "./blue-green.ts";
import type { Ctx } from "./draft.ts";
import { weights } from "./draft.ts";
import { ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "./timing.ts";
import type { Weights } from "./types.ts";

const sameRoutes = (a: Weights | null, b: Weights) =>
  a !== null && a.primary === b.primary && a.canary === b.canary;

/**
 * Moves routes toward `canary` percent. Returns true when the mesh already routes exactly that. Safety guard:
 * never sends traffic to a backend without ready pods — the request waits until it has some.
 */
export function route(ctx: Ctx, canary: number): boolean {
  // A StatefulSet or DaemonSet without a traffic split: traffic follows the pods, there is nothing to route.
  if (ctx.obs.inPlace && !ctx.obs.inPlace.split) return true;
  const desired = weights(canary);
  if (sameRoutes(ctx.obs.routes, desired)) {
    // Recorded even when already routed: it replaces any other wish an earlier rule of this decision had.
    ctx.d.routeTo(desired);
    return true;
  }
  if (desired.canary > 0 && ctx.obs.canary.readyReplicas === 0) return false;
  if (cutOverBlocked(ctx, desired.canary)) return false;
  if (desired.primary > 0 && ctx.obs.primary.readyReplicas === 0) return false;
  ctx.d.routeTo(desired);
  ctx.d.wakeIn(ROUTE_POLL_MS);
  return false;
}

/**
 * Routes everything to primary and, once the mesh confirms it, scales the canary down (never the other order;
 * blue/green also waits for its preview and scale-down delay).
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
