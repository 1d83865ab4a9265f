// What handing a deleted Rollout's workload back waits for: the user's Deployment serving the stable template again,
// and what stops it when the Deployment says so (a quota, an admission refusal, a rollout past its deadline).
import type { HandBackGap } from "../rollout/deletion.ts";
import type { Deployment } from "./objects.ts";
import { observeDeployment } from "./render.ts";

/** Characters of a Deployment condition's message quoted (the API server's quota messages run long). */
const BLOCKER_LIMIT = 512;

/** Describes how far `target` is from serving, and what its conditions say stops it. */
export function servingGap(target: Deployment): HandBackGap {
  const desired = target.spec.replicas ?? 1;
  const { readyReplicas } = observeDeployment(target, undefined);
  const what = `Deployment ${target.metadata.name} has ${readyReplicas}/${desired} pods of the stable template ready`;
  const conditions = target.status?.conditions ?? [];
  // ReplicaFailure: the ReplicaSet could not create pods (quota, admission); ProgressDeadlineExceeded: stuck pods.
  const failure =
    conditions.find((c) => c.type === "ReplicaFailure" && c.status === "True") ??
    conditions.find((c) => c.type === "Progressing" && c.status === "False");
  if (!failure) return { what };
  const text = `${failure.reason ?? failure.type}: ${failure.message ?? ""}`.trim();
  return { what, blocker: text.length > BLOCKER_LIMIT ? `${text.slice(0, BLOCKER_LIMIT - 1)}…` : text };
}
