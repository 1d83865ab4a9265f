// StatefulSet and DaemonSet targets: brings the pods to what a phase wants — the hold on the update strategy, the
// partition, and the pods Vireo deletes so their controller makes them again — and says whether they are there.

import { REASONS } from "../../api/constants.ts";
import type { InPlaceStatus } from "../../api/rollout-schema.ts";
import type { Ctx } from "../draft.ts";
import type { InPlaceObservation, PodObservation } from "../types.ts";
import { livePods, sideOf, updateOrder } from "./pods.ts";

/**
 * What the pods should be. `hold`: nothing replaced, nothing more updated (a StatefulSet's partition at its size).
 * `stable`: every pod back at the stable revision. `updated`: that many pods, first in update order, at the template
 * revision and the rest at the stable one.
 */
export type PodsWanted = { hold: true } | { stable: true } | { updated: number };

/** Whether the pods are as wanted and ready and, when not, what they wait for (for the status message). */
export interface Converged {
  done: boolean;
  /** e.g. "1/2 updated pods of StatefulSet web ready". */
  waiting: string;
}

/** The in-place part of status, created on first use. */
export function workloadStatus(ctx: Ctx): InPlaceStatus {
  const ip = ctx.obs.inPlace!;
  ctx.d.status.workload ??= { kind: ip.kind };
  return ctx.d.status.workload;
}

/**
 * Marks a rollout being rolled back (or aborted) for its template to be restored: the workload's template is the
 * revision in flight, which its controller would make new pods from.
 */
export function markForRestore(ctx: Ctx): void {
  const { d, obs } = ctx;
  const rev = d.status.canaryRevision;
  if (obs.inPlace && rev && rev === obs.canary.revision && rev !== d.status.stableRevision)
    workloadStatus(ctx).restoring = rev;
}

const nameOf = (ctx: Ctx) => `${ctx.obs.inPlace!.kind} ${ctx.spec.targetRef.name}`;

/**
 * Pods that may be deleted now: the workload's maxUnavailable less the pods already unavailable (not ready, being
 * deleted or not there), so Vireo never takes more pods down at once than the workload's own rolling update would.
 */
function budget(ip: InPlaceObservation): number {
  const ready = livePods(ip).filter((p) => p.ready).length;
  return Math.max(0, ip.maxUnavailable - Math.max(0, ip.desired - ready));
}

/** Asks for `pods` to be deleted, at most the budget allows, in the order given. */
function replace(ctx: Ctx, pods: PodObservation[]): PodObservation[] {
  const ip = ctx.obs.inPlace!;
  // Only once the workload's controller has seen the hold: a pod it recreated before would come back from the
  // template as the old strategy made it.
  if (!ip.observed) {
    ctx.d.forget("DeletePods");
    return [];
  }
  const chosen = pods.slice(0, budget(ip));
  // The last wish of the decision wins: an earlier rule's deletions are replaced, or taken back.
  if (chosen.length > 0)
    ctx.d.act({ type: "DeletePods", pods: chosen.map((p) => ({ name: p.name, uid: p.uid })) });
  else ctx.d.forget("DeletePods");
  return chosen;
}

/** Puts the hold in place (StatefulSet: `partition`), reporting a hold someone else changed as a repair. */
function hold(ctx: Ctx, partition: number | undefined): void {
  const ip = ctx.obs.inPlace!;
  const w = workloadStatus(ctx);
  const holds = (p: number | undefined) =>
    ip.kind === "StatefulSet"
      ? ip.strategy === "RollingUpdate" && ip.partition === p
      : ip.strategy === "OnDelete";
  const held = holds(partition);
  if (!held) {
    // A repair only when the workload left what Vireo last set (not when Vireo moves the partition itself).
    if (w.held && !holds(w.partition)) {
      const was =
        ip.kind === "StatefulSet" && ip.strategy === "RollingUpdate"
          ? `partition ${ip.partition}`
          : ip.strategy;
      const now = ip.kind === "StatefulSet" ? `partition ${partition}` : "OnDelete";
      ctx.d.event(
        "Warning",
        REASONS.Repaired,
        `${nameOf(ctx)}: its update strategy was changed to ${was} while Vireo holds it; set back to ${now}`,
      );
    }
    ctx.d.act({ type: "HoldUpdates", ...(partition !== undefined ? { partition } : {}) });
  } else ctx.d.forget("HoldUpdates");
  w.held = true;
  if (partition !== undefined) w.partition = partition;
}

/**
 * Carries out `wanted` for the observed pods: the hold, and the deletions that move pods to their side. Pure in the
 * engine's sense: it only asks (through the draft) and reports.
 */
export function convergePods(ctx: Ctx, wanted: PodsWanted): Converged {
  const ip = ctx.obs.inPlace!;
  const w = workloadStatus(ctx);
  const stableHash = w.stableHash;
  const live = livePods(ip);
  const side = (p: PodObservation) => sideOf(p, ip, stableHash);
  const order = updateOrder({ ...ip, pods: live }, ctx.spec);
  w.desired = ip.desired;
  w.updated = live.filter((p) => side(p) === "template").length;
  const missing = Math.max(0, ip.desired - live.length);
  const name = nameOf(ctx);

  if (!("updated" in wanted)) w.wanted = 0;
  if ("hold" in wanted) {
    hold(ctx, ip.kind === "StatefulSet" ? ip.desired : undefined);
    replace(ctx, []);
    return { done: true, waiting: "" };
  }

  if ("stable" in wanted && ip.kind === "StatefulSet" && ip.observed && ip.updateHash === stableHash) {
    // The template is the stable one (again): the StatefulSet's own rolling update takes every other pod back,
    // highest ordinal first at its own pace — also once every pod had been updated, when its current revision is
    // no longer the stable one and a deleted pod would come back updated.
    // Pods being replaced count until they are back: held at the size too early, one would return at the old
    // current revision.
    const off = ip.pods.filter((p) => p.hash !== stableHash);
    hold(ctx, off.length > 0 || missing > 0 ? 0 : ip.desired);
    replace(ctx, []);
    const unready = live.filter((p) => !p.ready).length;
    return {
      done: off.length === 0 && missing === 0 && unready === 0 && ip.partition === ip.desired,
      waiting: `${ip.pods.length - off.length}/${ip.desired} pods of ${name} back at the stable revision${unready > 0 ? `, ${unready} not ready` : ""}`,
    };
  }
  if ("stable" in wanted) {
    hold(ctx, ip.kind === "StatefulSet" ? ip.desired : undefined);
    // A deleted pod comes back at the stable revision only where the workload makes it from the stable template: a
    // StatefulSet below its partition (its current revision), a DaemonSet whose template is the stable one again.
    const back = ip.kind === "StatefulSet" ? ip.currentHash === stableHash : ip.updateHash === stableHash;
    const off = order.filter((p) => p.hash !== stableHash);
    replace(
      ctx,
      back && ip.strategy === (ip.kind === "StatefulSet" ? "RollingUpdate" : "OnDelete") ? off : [],
    );
    const unready = live.filter((p) => !p.ready).length;
    const done = ip.observed && off.length === 0 && missing === 0 && unready === 0;
    return {
      done,
      waiting: `${live.length - off.length}/${ip.desired} pods of ${name} back at the stable revision${unready > 0 ? `, ${unready} not ready` : ""}`,
    };
  }

  const count = Math.min(wanted.updated, ip.desired);
  w.wanted = count;
  if (ip.kind === "StatefulSet") {
    const partition = ip.desired - count;
    hold(ctx, partition);
    // Kubernetes updates the ordinals at and above the partition; one below it at another revision than the
    // current one (a partition lowered by hand, a scale-up while updating) is Vireo's to send back.
    const below = order.filter((p) => (p.ordinal ?? 0) < partition && p.hash !== ip.currentHash);
    const partitionHeld = ip.partition === partition && ip.strategy === "RollingUpdate";
    const sent = replace(ctx, partitionHeld && ip.currentHash === stableHash ? below : []);
    if (sent.length > 0)
      ctx.d.event(
        "Warning",
        REASONS.Repaired,
        `${name}: ${sent.map((p) => p.name).join(", ")} ran another revision below partition ${partition}; deleted so it comes back at the stable revision`,
      );
    const canary = order.filter((p) => (p.ordinal ?? 0) >= partition);
    const ready = canary.filter((p) => side(p) === "template" && p.ready).length;
    const done =
      ip.observed &&
      ip.partition === partition &&
      below.length === 0 &&
      ready >= count &&
      canary.length >= count;
    return { done, waiting: `${ready}/${count} updated pods of ${name} ready` };
  }

  // DaemonSet: the first `count` nodes in order, and every node whose pod left the stable revision (its controller
  // would make it from the template again, so it cannot go back while the template is the new one).
  hold(ctx, undefined);
  const batch = order.filter((p, i) => i < count || side(p) !== "stable");
  const pending = batch.filter((p) => side(p) !== "template");
  replace(ctx, ip.strategy === "OnDelete" ? pending : []);
  const ready = batch.filter((p) => side(p) === "template" && p.ready).length;
  const done = ip.observed && pending.length === 0 && missing === 0 && ready === batch.length;
  return {
    done,
    waiting: `${ready}/${batch.length} updated pods of ${name} ready${missing > 0 ? `, ${missing} node(s) without a pod` : ""}`,
  };
}
