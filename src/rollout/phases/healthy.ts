// Healthy: the primary serves everything; a new target revision starts a rollout.

import { REASONS } from "../../api/constants.ts";
import type { Ctx } from "../draft.ts";
import { ensureAccessPolicy, retreatToPrimary } from "../traffic.ts";
import { maybeStart } from "../transitions.ts";

export function onHealthy(ctx: Ctx): void {
  const { d, obs } = ctx;
  const target = obs.canary.revision;
  if (target !== d.status.stableRevision) {
    // Started: the outer loop runs the in-flight rules next.
    if (maybeStart(ctx, REASONS.RolloutStarted, `rollout of revision ${target} started`)) return;
  } else {
    d.say(REASONS.Healthy, `primary serves revision ${d.status.stableRevision}`);
  }
  retreatToPrimary(ctx);
  ensureAccessPolicy(ctx);
}
