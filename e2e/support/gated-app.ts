// Test fixtures for checks: the example app with named checks run at lifecycle hooks, and its approval-gated form.
import type { Rollout } from "../../src/api/rollout-schema.ts";
import type { Cluster } from "../cluster/cluster.ts";
import { apply, appManifests, waitForRollout } from "./app.ts";

/** Applies the example app in `namespace` with `checks` run at `hooks` (e.g. `{ preRollout: ["smoke"] }`). */
export async function applyWithChecks(
  cluster: Cluster,
  namespace: string,
  checks: Record<string, unknown>[],
  hooks: Record<string, string[]>,
  steps?: unknown[],
): Promise<void> {
  await apply(
    cluster,
    appManifests({ namespace, ...(steps ? { steps } : {}), extraSpec: { checks, hooks } }),
  );
}

/**
 * Applies the example app in `namespace` whose promotion waits for the approval check `release` (a prePromotion
 * hook) and waits until it is Healthy; the caller starts the revision the gate will hold.
 */
export async function applyApprovalGate(
  cluster: Cluster,
  namespace: string,
  steps?: unknown[],
): Promise<Rollout> {
  await applyWithChecks(
    cluster,
    namespace,
    [{ name: "release", approval: {} }],
    { prePromotion: ["release"] },
    steps,
  );
  return waitForRollout(cluster, namespace, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
}
