// What one reconcile reads of a Rollout's workloads: its target, primary, Services and HPAs, as one snapshot.
import type { WorkloadNames } from "./names.ts";
import type { Deployment, HorizontalPodAutoscaler, Service } from "./objects.ts";

/** Everything the reconciler read about a Rollout's workloads in one go. */
export interface WorkloadSnapshot {
  names: WorkloadNames;
  target: Deployment | undefined;
  primary: Deployment | undefined;
  rootService: Service | undefined;
  primaryService: Service | undefined;
  canaryService: Service | undefined;
  /** Blue/green's preview Service (absent for a canary strategy, or not yet created). */
  previewService?: Service | undefined;
  /** The user's HPA of the target, and Vireo's of the primary (absent from snapshots that did not read HPAs). */
  userAutoscaler?: HorizontalPodAutoscaler | undefined;
  primaryAutoscaler?: HorizontalPodAutoscaler | undefined;
}
