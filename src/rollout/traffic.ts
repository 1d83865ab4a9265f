// Traffic rules: move routes toward a weight — never to a backend without ready pods — and retreat to primary. The
// routes beside the weight (header routes, mirrors, sticky cookies) move with it, in the same write.

import { NAME_SUFFIXES, rootServiceName } from "../api/derived-names.ts";
import { cutOverBlocked, drained } from "./blue-green.ts";
import type { Ctx, Draft } from "./draft.ts";
import { attemptOf, weights } from "./draft.ts";
import { managedRoutesFor, sameManaged } from "./managed-routes.ts";
import { ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "./timing.ts";
import type { ManagedRoutes, Observations, Side, Weights } from "./types.ts";

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
 * The backends a route write of this decision may move weight onto from 0 %: at 0 % in the routes (all of them
 * before the routing object exists) and with ready pods (without, {@link route} waits anyway). The reconciler
 * reads their EndpointSlices only then, not every reconcile; a StatefulSet's or DaemonSet's split is left out (its
 * backends' pods are derived in the engine, and its traffic follows the pods).
 */
export function switchTargets(obs: Pick<Observations, "routes" | "primary" | "canary" | "inPlace">): Side[] {
  if (obs.inPlace) return [];
  return (["primary", "canary"] as const).filter(
    (side) => (obs.routes?.[side] ?? 0) === 0 && obs[side].readyReplicas > 0,
  );
}

/**
 * The backend `weights` would move traffic onto from 0 % while its EndpointSlices list no ready pod; undefined when
 * there is none. The Deployment may report a pod ready before the EndpointSlice controller lists it, and a mesh
 * sends its clients the endpoints from the slices: a route written first sends the moved traffic to an empty backend
 * (a proxyless gRPC client fails every such call with "no targets to pick from").
 */
export function unpublished(
  obs: Pick<Observations, "routes" | "primary" | "canary" | "inPlace" | "endpoints">,
  desired: Weights,
): Side | undefined {
  return switchTargets(obs).find((side) => {
    const ready = side === "primary" ? obs.endpoints?.primaryReady : obs.endpoints?.canaryReady;
    return desired[side] > 0 && (ready ?? 0) === 0;
  });
}

/** Why weight cannot move onto a backend from 0 % yet, for `canary` percent (see {@link unpublished}). */
export function awaitEndpoints(ctx: Ctx, canary: number): string | undefined {
  const desired = weights(canary);
  const side = unpublished(ctx.obs, desired);
  if (side === undefined) return undefined;
  return `waiting for the EndpointSlices of Service ${rootServiceName(ctx.spec)}${NAME_SUFFIXES[side]} to list a ready pod before ${desired[side]}% of the traffic moves to the ${side}`;
}

/**
 * Moves routes toward `canary` percent, and the managed routes toward what this step has installed. Returns true
 * when the mesh already routes exactly that. Safety guard: never sends traffic to a backend without ready pods —
 * the weight waits until it has some, and weight moves onto a backend from 0 % only once its EndpointSlices list
 * one of them (slices are not watched: it looks again in {@link ROUTE_POLL_MS}). The managed routes are asked for whatever the weight does: they need only
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
  routeWhenPublished(ctx.d, ctx.obs, desired);
  ctx.d.wakeIn(ROUTE_POLL_MS);
  return false;
}

/**
 * Asks for `desired` unless it would move weight onto a backend from 0 % whose EndpointSlices list no ready pod yet
 * ({@link unpublished}); then looks again in {@link ROUTE_POLL_MS}, as slices are not watched. True when asked.
 */
export function routeWhenPublished(d: Draft, obs: Observations, desired: Weights): boolean {
  if (unpublished(obs, desired) !== undefined) {
    d.wakeIn(ROUTE_POLL_MS);
    return false;
  }
  d.routeTo(desired);
  return true;
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
