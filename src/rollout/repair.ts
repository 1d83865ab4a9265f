// Engine rules that keep the objects Vireo owns converged in every phase: missing or drifted workloads and Services
// are repaired, replicas follow the user's Deployment, and traffic never stays on a backend that lost its pods.

import { REASONS } from "../api/constants.ts";
import { autoscaled } from "./autoscaling.ts";
import type { Ctx, Draft } from "./draft.ts";
import { NO_MANAGED_ROUTES, pointsAtCanary } from "./managed-routes.ts";
import { routeWhenPublished } from "./traffic.ts";
import type { Observations } from "./types.ts";

/** The replica count the application should run, as far as this decision knows. */
export function desiredReplicas(ctx: Ctx): number {
  const { d, obs } = ctx;
  return (
    d.status.replicas ??
    Math.max(obs.primary.exists ? obs.primary.desiredReplicas : obs.canary.desiredReplicas, 1)
  );
}

/**
 * Replicas follow the user. Vireo only ever sets the user's Deployment to 0 or to the application's replica count,
 * so any other positive value there is the user's (or their GitOps tool's) new count: the primary takes it.
 * A primary scaled by hand is scaled back to the count too. With an HPA the autoscalers own the replicas: the
 * count is whatever the primary HPA made the primary run, and Vireo scales nothing.
 */
export function followReplicas(ctx: Ctx): void {
  const { d, obs } = ctx;
  const current = desiredReplicas(ctx);
  if (autoscaled(obs)) {
    d.status.replicas = obs.primary.exists ? obs.primary.desiredReplicas : current;
    return;
  }
  const asked = obs.canary.exists ? obs.canary.desiredReplicas : 0;
  d.status.replicas = asked > 0 && asked !== current ? asked : current;
  if (obs.primary.exists && obs.primary.desiredReplicas !== d.status.replicas)
    d.act({ type: "ScalePrimary", replicas: d.status.replicas });
}

/**
 * Asks for missing or drifted workload objects to be repaired (after initialization, in any phase): backend
 * Services, the root Service's selector, and a lost primary — rebuilt only from a target that runs the stable
 * revision (the workload manager checks), never from an unverified template.
 */
export function ensureObjects(ctx: Ctx): void {
  const { d, obs } = ctx;
  if (obs.primary.exists && obs.servicesReady) return;
  d.act({ type: "EnsureWorkloads", revision: d.status.stableRevision ?? "", replicas: desiredReplicas(ctx) });
}

/**
 * The primary was deleted (an Argo CD prune, a person) while the target runs another revision: its template is
 * gone and cannot be rebuilt. Serves from the only backend with pods rather than black-hole traffic, and asks a
 * person. Returns true when this is the case (the phase rules must not run: they would wait for a primary that
 * cannot come back, and a deadline would "roll back" to nothing).
 */
export function holdForLostPrimary(ctx: Ctx): boolean {
  const { d, obs } = ctx;
  if (obs.primary.exists || obs.canary.revision === d.status.stableRevision) return false;
  ensureObjects(ctx);
  const message =
    `primary Deployment ${ctx.spec.targetRef.name}-primary is missing while the target runs revision ` +
    `${obs.canary.revision}; the stable template is gone, so traffic goes to the canary. ` +
    "Set vireo.dev/promote=full to make the canary the new primary, or restore the target to the stable revision";
  d.say(REASONS.PrimaryLost, message);
  if (obs.canary.readyReplicas > 0 && obs.routes?.canary !== 100) {
    routeWhenPublished(d, obs, { primary: 0, canary: 100 });
  }
  d.wantCanary("up");
  return true;
}

/**
 * Safe state when the engine cannot run the rollout (invalid spec, missing target): all traffic to the primary,
 * if it has pods to serve it. Returns the words for the message (stable across decisions, so no Event repeats).
 */
export function routeAllToPrimary(d: Draft, obs: Observations): string {
  if (obs.primary.readyReplicas === 0 && ((obs.routes?.canary ?? 0) > 0 || pointsAtCanary(obs.managedRoutes)))
    return "traffic left as it is: the primary has no ready pods";
  if (obs.routes && obs.routes.canary > 0 && !routeWhenPublished(d, obs, { primary: 100, canary: 0 }))
    return "traffic left as it is until the primary Service's EndpointSlices list a ready pod";
  // Header routes, mirrors and sticky cookies go too: the canary may be what is wrong.
  d.manage(NO_MANAGED_ROUTES);
  return "all traffic on primary";
}
