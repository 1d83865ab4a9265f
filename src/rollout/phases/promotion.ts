// Promoting and Finalizing: the primary takes the new template, then all traffic returns to it.

import { REASONS } from "../../api/constants.ts";
import { promotionFloor } from "../autoscaling.ts";
import { awaitCutOver, isBlueGreen, primaryShortfall } from "../blue-green.ts";
import { startHooks } from "../checks.ts";
import { type Ctx, isReady } from "../draft.ts";
import { withoutEvidence } from "../evidence-budget.ts";
import { desiredReplicas } from "../repair.ts";
import { ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "../timing.ts";
import { awaitEndpoints, retreatToPrimary, route } from "../traffic.ts";

/** Promoting: copy the canary's template to the primary, then wait for the primary to roll it out. */
export function onPromoting(ctx: Ctx): void {
  const { d, obs } = ctx;
  const revision = d.status.canaryRevision!;
  // Fixed now, while primary and canary still both serve: the scale the primary needs once it serves alone.
  const floor = promotionFloor(ctx);
  // One message from the copy until the primary is ready: the copy and the wait are one step to the reader, and a
  // message that changed between them cost a status write of its own.
  const promoting = `promoting revision ${revision}: the primary Deployment takes its template and rolls it out`;
  if (obs.primary.revision !== revision) {
    if (obs.canary.revision !== revision) {
      // The target moved on before the primary took the template, so nothing was promoted: back in flight, where
      // the rules cancel (a revert to stable) or restart (another new revision) as for any moved target.
      d.phase = "Progressing";
      return;
    }
    if (isBlueGreen(ctx) && obs.primary.exists) {
      // Blue/green never rolls the primary while it serves (a full promotion may come before the cut-over): all
      // traffic moves to the new version first, gated as any cut-over.
      d.status.canaryWeight = 100;
      if (!route(ctx, 100)) {
        d.say(
          REASONS.WaitingForPreview,
          awaitCutOver(ctx) ?? "cutting over to the new version before promoting it",
        );
        d.wakeIn(ROUTE_POLL_MS);
        return;
      }
    }
    d.act({ type: "PromotePrimary", revision, replicas: desiredReplicas(ctx) });
    d.say(REASONS.Promoting, promoting);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (!isReady(obs.primary)) {
    d.say(REASONS.Promoting, promoting);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (floor !== undefined && obs.primary.readyReplicas < floor) {
    // No thundering herd: the primary HPA's minReplicas is the floor now, so its controller scales the primary up.
    d.say(
      REASONS.WaitingForPrimary,
      `waiting for the primary to scale to ${floor} replicas (${obs.primary.readyReplicas} ready) before it takes all traffic`,
    );
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  d.phase = "Finalizing";
}

/** Finalizing: all traffic returns to the promoted primary; then the promoted revision is the stable one. */
export function onFinalizing(ctx: Ctx): void {
  const { d, obs } = ctx;
  if (obs.primary.exists && obs.primary.revision !== d.status.canaryRevision) {
    // The primary no longer runs the promoted revision (lost, and made again from the stable one after the target
    // moved on): Promoting copies the template again, or hands a target that moved on back to the in-flight rules.
    d.phase = "Promoting";
    return;
  }
  const notServing = isBlueGreen(ctx) && ctx.obs.routes?.primary !== 100 ? primaryShortfall(ctx) : undefined;
  if (notServing) {
    // Blue/green switches all traffic back at once: only to a primary whose EndpointSlices list it at full size.
    d.say(REASONS.Finalizing, `waiting before switching all traffic to the promoted primary: ${notServing}`);
    d.wakeIn(WORKLOAD_POLL_MS);
    return;
  }
  if (!retreatToPrimary(ctx)) {
    d.say(REASONS.Finalizing, awaitEndpoints(ctx, 0) ?? "routing all traffic to the promoted primary");
    return;
  }
  finishPromotion(ctx);
}

/** The promoted revision becomes the stable one: the rollout is over, and says so. */
export function finishPromotion(ctx: Ctx): void {
  const { d } = ctx;
  const revision = d.status.canaryRevision!;
  d.phase = "Healthy";
  d.status.stableRevision = revision;
  delete d.status.waitingSince;
  delete d.status.stepStartedAt;
  const unproven = withoutEvidence(d.status);
  // After the last step this is the promotion's only Event, so it says how the promotion was earned (an unproven
  // promotion's suffix says it already).
  const last = unproven ? "" : ` after step ${ctx.steps.length}/${ctx.steps.length}`;
  const how = d.status.promotedBy === "User" ? " by request" : last;
  const message = `revision ${revision} promoted${how}${unproven}`;
  d.say(REASONS.Promoted, message);
  d.event(unproven ? "Warning" : "Normal", REASONS.Promoted, message);
  d.notify("Promoted", unproven ? "warning" : "info", message, "once");
  startHooks(ctx, "postPromotion");
}
