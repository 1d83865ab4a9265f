// Engine rules for what a Rollout holds: it claims its target and root Service (label first, then status) before
// changing them, and when the spec names other ones it hands the old ones back before taking the new.

import { REASONS } from "../api/constants.ts";
import type { Claim, RolloutSpec } from "../api/rollout-schema.ts";
import type { Ctx } from "./draft.ts";
import { WORKLOAD_POLL_MS } from "./timing.ts";
import { resetRolloutState } from "./transitions.ts";

/** True when the spec still names the object of a recorded claim. */
function named(c: Claim, spec: RolloutSpec): boolean {
  const target = spec.targetRef.name;
  if (c.kind === "Service") return c.name === (spec.service?.name ?? target);
  return c.kind === spec.targetRef.kind && c.name === target;
}

function describe(claims: readonly Claim[]): string {
  return claims.map((c) => `${c.kind} ${c.name}`).join(" and ");
}

/**
 * A renamed `targetRef` or `service.name`: the objects status records under the old names are handed back before
 * the new ones are touched — the old target serves again, the old root Service selects it — and then the Rollout
 * starts over from Initializing with the new names. Returns true while the hand-back is under way: no other rule
 * may act on the world meanwhile.
 */
export function handBackRenamed(ctx: Ctx): boolean {
  const { d, spec, obs } = ctx;
  const recorded = d.status.claims ?? [];
  const stale = recorded.filter((c) => !named(c, spec));
  if (stale.length === 0) return false;
  const newNames = `${spec.targetRef.kind} ${spec.targetRef.name} and Service ${spec.service?.name ?? spec.targetRef.name}`;
  if (obs.ownership.handedBack) {
    d.status.claims = recorded.filter((c) => named(c, spec));
    d.event("Normal", REASONS.HandedBack, `handed back ${describe(stale)}; taking over ${newNames}`);
    return false;
  }
  if (d.phase !== "Initializing") {
    // Everything of the old names is being undone: the Rollout starts over with the new ones.
    d.phase = "Initializing";
    resetRolloutState(d.status);
    delete d.status.stableRevision;
    delete d.status.canaryRevision;
    delete d.status.rolloutStartedAt;
    delete d.status.waitingSince;
    d.event("Normal", REASONS.HandingBack, `spec names ${newNames}: handing back ${describe(stale)} first`);
  }
  d.act({ type: "HandBack", claims: stale });
  d.say(REASONS.HandingBack, `handing back ${describe(stale)} before taking over ${newNames}`);
  d.wakeIn(WORKLOAD_POLL_MS);
  return true;
}

/**
 * Claims the target and root Service before any other change to them: labels them (if they lack the label) and
 * records them in status with what is to be restored. A crash between the two leaves a labelled object the next
 * decision records; the finalizer also hands back objects that carry the label without a record.
 */
export function claimObjects(ctx: Ctx): void {
  const { d, obs } = ctx;
  if (!obs.ownership.labelled) d.act({ type: "ClaimObjects" });
  const claims = [...obs.ownership.claims];
  if (claims.length > 0 || d.status.claims) d.status.claims = claims;
}
