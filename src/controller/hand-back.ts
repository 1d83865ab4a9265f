// Handing back a target and root Service, one step per reconcile: shared by a renamed spec's HandBack action and by
// the finalizer on deletion.
import type { OwnerRef } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { MeshAdapter } from "../mesh/types.ts";
import { type HandBackPlan, sameObject } from "../workload/claims.ts";
import type { WorkloadNames } from "../workload/names.ts";
import { splitRef } from "./observe.ts";
import type { ReconcilerDeps } from "./ports.ts";

/** Where a hand-back step acts: the Rollout's mesh adapter, its owner reference, the application's replicas. */
export interface HandBackContext {
  mesh: MeshAdapter;
  owner: OwnerRef;
  replicas: number | undefined;
}

/**
 * One step of handing back `plan`: the target's stable template and replicas, then (once it serves) the root's
 * recorded selector; then Vireo's routing for those names goes, and what it made for them (but the names `keep`
 * still uses), and last the claim labels. True when done; false while the target's pods start.
 */
export async function handBackStep(
  deps: Pick<ReconcilerDeps, "workloads">,
  plan: HandBackPlan,
  spec: RolloutSpec,
  ctx: HandBackContext,
  keep: WorkloadNames | undefined,
): Promise<boolean> {
  const w = deps.workloads;
  const snap = await w.snapshot(plan.names);
  const target = sameObject(plan.target, snap.target);
  const root = sameObject(plan.root, snap.rootService) ? { selector: plan.root?.selector } : undefined;
  if (!(await w.restore(snap, { target, ...(root ? { root } : {}) }, ctx.replicas))) return false;
  await ctx.mesh.cleanup(splitRef(plan.names, spec));
  await w.removeMade(snap, ctx.owner, keep);
  await w.unclaim(snap, {
    target: plan.release.target && target,
    root: plan.release.root && root !== undefined,
  });
  return true;
}
