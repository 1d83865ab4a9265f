// RolledBack and Aborted: traffic stays on the primary until a new revision, a retry or a revert.

import { CONDITION_TYPES, REASONS, type Reason } from "../../api/constants.ts";
import { getCondition } from "../conditions.ts";
import type { Ctx } from "../draft.ts";
import { retreatToPrimary } from "../traffic.ts";
import { maybeStart } from "../transitions.ts";

export function onEnded(ctx: Ctx): void {
  const { d, obs } = ctx;
  const target = obs.canary.revision;
  if (target === d.status.stableRevision) {
    d.phase = "Healthy";
    d.say(REASONS.RevisionReverted, `target reverted to the stable revision ${target}`);
    retreatToPrimary(ctx);
    return;
  }
  if (
    target !== d.status.canaryRevision &&
    maybeStart(ctx, REASONS.NewRevision, `rollout of revision ${target} started`)
  ) {
    return;
  }
  retreatToPrimary(ctx);
  if (d.reason === REASONS.Healthy) {
    // Nothing new happened: keep saying why the rollout ended, as recorded when it did.
    const degraded = getCondition(d.status.conditions, CONDITION_TYPES.degraded);
    const fallback = d.phase === "Aborted" ? REASONS.Aborted : REASONS.RolledBack;
    d.say(
      degraded?.status === "True" ? (degraded.reason as Reason) : fallback,
      degraded?.status === "True"
        ? degraded.message
        : `rollout of ${d.status.canaryRevision} ended: ${fallback}`,
    );
  }
}
