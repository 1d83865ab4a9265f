// Handing back a target and root Service: what of a plan may be restored, and the steps after the target serves.
// Shared by a renamed spec's HandBack action (one step per reconcile) and by the finalizer on deletion.
import type { OwnerRef } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { MeshAdapter } from "../mesh/types.ts";
import { type HandBackPlan, sameObject } from "../workload/claims.ts";
import type { WorkloadNames } from "../workload/names.ts";
import type { WorkloadSnapshot } from "../workload/snapshot.ts";
import { splitRef } from "./observe.ts";
import type { ReconcilerDeps } from "./ports.ts";

/** Where a hand-back acts: the Rollout's mesh adapter, its owner reference, the application's replicas. */
export interface HandBackContext {
  mesh: MeshAdapter;
  owner: OwnerRef;
  replicas: number | undefined;
}

/**
 * What of `plan` the objects read in `snap` let Vireo restore: the target and root it recorded (the same objects,
 * by uid), the root with its recorded selector.
 */
export function restorable(
  plan: HandBackPlan,
  snap: WorkloadSnapshot,
): { target: boolean; root?: { selector: Record<string, string> | undefined } } {
  const target = sameObject(plan.target, snap.target);
  return sameObject(plan.root, snap.rootService)
    ? { target, root: { selector: plan.root?.selector } }
    : { target };
}

/**
 * After the target serves and the root selects it: Vireo's routing for the plan's names goes, with `keep` (a rename)
 * what Vireo made for them but the names `keep` still uses (on deletion garbage collection takes those), and last
 * the claim labels of the objects the plan releases.
 */
export async function finishHandBack(
  deps: Pick<ReconcilerDeps, "workloads">,
  plan: HandBackPlan,
  snap: WorkloadSnapshot,
  spec: RolloutSpec,
  ctx: HandBackContext,
  keep: WorkloadNames | undefined,
): Promise<void> {
  const what = restorable(plan, snap);
  await ctx.mesh.cleanup(splitRef(plan.names, spec));
  if (keep) await deps.workloads.removeMade(snap, ctx.owner, keep);
  await deps.workloads.unclaim(snap, {
    target: plan.release.target && what.target,
    root: plan.release.root && what.root !== undefined,
  });
}

/**
 * One step of a rename's hand-back: the target's stable template and replicas, then (once it serves) the root's
 * recorded selector, then {@link finishHandBack}. True when done; false while the target's pods start.
 */
export async function handBackStep(
  deps: Pick<ReconcilerDeps, "workloads">,
  plan: HandBackPlan,
  spec: RolloutSpec,
  ctx: HandBackContext,
  keep: WorkloadNames,
): Promise<boolean> {
  const snap = await deps.workloads.snapshot(plan.names);
  if (!(await deps.workloads.restore(snap, restorable(plan, snap), ctx.replicas))) return false;
  await finishHandBack(deps, plan, snap, spec, ctx, keep);
  return true;
}
