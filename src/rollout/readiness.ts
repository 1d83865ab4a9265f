// Ready from observations: a Rollout is Ready only when the world is as intended, not merely because of its phase.

import { REASONS, type Reason } from "../api/constants.ts";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import { pointsAtCanary } from "./managed-routes.ts";
import { ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "./timing.ts";
import type { Observations } from "./types.ts";

/** Why the Rollout is not Ready although its phase would allow it. */
export interface NotReady {
  reason: Reason;
  message: string;
  /**
   * When to look again. Deployments and Services are watched, but the mesh's routes and policy objects may be
   * fixed by this very decision's actions with nothing to report it — without a poll, Ready=False would stand
   * until some unrelated event.
   */
  recheckMs: number;
}

/**
 * The first way the observed world differs from what a Ready Rollout promises, or undefined when none does:
 * the primary serves with all its replicas, the Services select as rendered, and — when nothing is in flight —
 * the mesh routes everything to primary and the access policy is in place. (Mid-rollout, routes converging on a
 * new weight are Progressing's business, not a loss of readiness.)
 */
export function readiness(status: RolloutStatus, obs: Observations): NotReady | undefined {
  const p = obs.primary;
  // A StatefulSet's or DaemonSet's stable side is its own pods at the stable revision.
  const primary = obs.inPlace
    ? `${obs.inPlace.kind} ${status.lastValidSpec?.targetRef.name ?? ""}`.trim()
    : "the primary Deployment";
  if (!p.exists)
    return {
      reason: REASONS.PrimaryNotReady,
      message: `${primary} does not exist`,
      recheckMs: WORKLOAD_POLL_MS,
    };
  // While promoting, the primary rolls out the new template on purpose; its old pods keep serving meanwhile. (An
  // empty StatefulSet or a DaemonSet on no node is ready with no pods.)
  const none = p.readyReplicas === 0 && !(obs.inPlace && p.desiredReplicas === 0);
  if (status.phase !== "Promoting" && (none || p.readyReplicas < p.desiredReplicas))
    return {
      reason: REASONS.PrimaryNotReady,
      message: obs.inPlace
        ? `${primary} has ${p.readyReplicas}/${p.desiredReplicas} ready pods at the stable revision`
        : `the primary Deployment has ${p.readyReplicas}/${p.desiredReplicas} ready replicas`,
      recheckMs: WORKLOAD_POLL_MS,
    };
  if (!obs.servicesReady)
    return {
      reason: REASONS.ServicesNotReady,
      message: "the root, primary or canary Service does not select as intended",
      recheckMs: WORKLOAD_POLL_MS,
    };
  // Without a traffic split there is no route or policy to be in place.
  if (status.phase !== "Healthy" || (obs.inPlace && !obs.inPlace.split)) return undefined;
  if (obs.routes?.canary !== 0)
    return {
      reason: REASONS.RoutesNotInSync,
      message: obs.routes
        ? `the mesh routes ${obs.routes.canary}% to the canary; intended 0%`
        : "the routing object does not exist",
      recheckMs: ROUTE_POLL_MS,
    };
  if (pointsAtCanary(obs.managedRoutes))
    return {
      reason: REASONS.RoutesNotInSync,
      message: "a header route, mirror or sticky-session rule still sends requests to the canary",
      recheckMs: ROUTE_POLL_MS,
    };
  if (!obs.accessPolicyInSync)
    return {
      reason: REASONS.PolicyNotInSync,
      message: "the access policy objects are not as intended",
      recheckMs: ROUTE_POLL_MS,
    };
  return undefined;
}
