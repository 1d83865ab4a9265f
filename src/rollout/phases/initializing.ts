// Initializing: create the primary and Services, route everything to the primary, then hand the old pods back.

import { REASONS } from "../../api/constants.ts";
import { drained } from "../blue-green.ts";
import { type Ctx, isReady } from "../draft.ts";
import { desiredReplicas } from "../repair.ts";
import { WORKLOAD_POLL_MS } from "../timing.ts";
import { awaitEndpoints, ensureAccessPolicy, route } from "../traffic.ts";

export function onInitializing(ctx: Ctx): void {
  const { d, obs } = ctx;
  if (!obs.primary.exists || !obs.servicesReady) {
    d.act({ type: "EnsureWorkloads", revision: obs.canary.revision ?? "", replicas: desiredReplicas(ctx) });
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
    d.say(REASONS.WaitingForRoutes, awaitEndpoints(ctx, 0) ?? "routing all traffic to primary");
    return;
  }
  ensureAccessPolicy(ctx);
  // Only now, with primary serving all traffic, may the original Deployment go to zero — unless it already runs a
  // newer revision, which the Healthy rules will start rolling out at once.
  if (obs.canary.desiredReplicas > 0 && obs.canary.revision === obs.primary.revision && drained(ctx))
    d.wantCanary("down");
  d.phase = "Healthy";
  d.status.stableRevision = obs.primary.revision;
  d.status.canaryWeight = 0;
  const message = `initialized: primary serves revision ${obs.primary.revision}`;
  d.say(REASONS.Initialized, message);
  d.event("Normal", REASONS.Initialized, message);
}
