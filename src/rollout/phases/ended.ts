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
  keepSayingWhyEnded(ctx);
}

/** Between why a rollout ended and what it still does since (the Degraded condition keeps both). */
const DETAIL = " | since: ";

/**
 * Unless this decision said something new, keeps saying why the rollout ended, as recorded when it did — with
 * `detail` (what the ended rollout still does, e.g. pods going back to stable) after it.
 */
export function keepSayingWhyEnded(ctx: Ctx, detail = ""): void {
  const { d } = ctx;
  if (d.reason !== REASONS.Healthy) {
    // This decision said why (it ended the rollout): what it does since goes after it, as it will next time.
    if (detail && !d.message.includes(DETAIL)) d.say(d.reason, `${d.message}${DETAIL}${detail}`);
    return;
  }
  const degraded = getCondition(d.status.conditions, CONDITION_TYPES.degraded);
  const fallback = d.phase === "Aborted" ? REASONS.Aborted : REASONS.RolledBack;
  const why =
    degraded?.status === "True" && degraded.reason !== REASONS.Healthy
      ? { reason: degraded.reason as Reason, message: degraded.message.split(DETAIL)[0]! }
      : { reason: fallback, message: `rollout of ${d.status.canaryRevision} ended: ${fallback}` };
  d.say(why.reason, detail ? `${why.message}${DETAIL}${detail}` : why.message);
}
