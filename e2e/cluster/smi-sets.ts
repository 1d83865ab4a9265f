// The TrafficSplit CRD sets a real cluster can have, and switching an e2e cluster from one to another.
import { join } from "node:path";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { getOrUndefined, kubeRequest } from "./kube-request.ts";
import { installCrdObjects, readManifests } from "./manifests.ts";
import { REPO_ROOT } from "./paths.ts";
import { upstreamCrds } from "./upstream-crds.ts";
import { waitFor } from "./wait.ts";

/**
 * A cluster has one TrafficSplit CRD, serving a subset of versions: smi-sdk-go v0.5.0's serves v1alpha4 only (the
 * e2e default, from the module cache); linkerd-smi's serves v1alpha1 (stored) and v1alpha2.
 */
export const SMI_SETS = {
  "smi-sdk-go": { versions: ["v1alpha4"] },
  "linkerd-smi": { versions: ["v1alpha1", "v1alpha2"] },
} as const;
/** One of {@link SMI_SETS}. */
export type SmiSet = keyof typeof SMI_SETS;

const CRD = "trafficsplits.split.smi-spec.io";
const CRD_PATH = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD}`;

function trafficSplitCrd(set: SmiSet): KubernetesObject {
  const candidates =
    set === "smi-sdk-go"
      ? upstreamCrds().map((u) => u.crd)
      : readManifests(join(REPO_ROOT, "e2e", "cluster", "crds", "smi-sets", "linkerd-smi-trafficsplit.yaml"));
  const crd = candidates.find((c) => c.metadata?.name === CRD);
  if (!crd) throw new Error(`no ${CRD} in the ${set} set`);
  return crd;
}

/**
 * Replaces the cluster's TrafficSplit CRD with the one of `set` (deleting the CRD deletes every TrafficSplit, as
 * it would in a real cluster: a stored version cannot be dropped without a migration) and waits until discovery
 * serves exactly the set's versions. A no-op when that set is already installed.
 */
export async function useSmiSet(kc: KubeConfig, set: SmiSet): Promise<void> {
  const want: readonly string[] = SMI_SETS[set].versions;
  const served = async () =>
    (
      (await getOrUndefined<{ versions?: { version: string }[] }>(kc, "/apis/split.smi-spec.io"))?.versions ??
      []
    )
      .map((v) => v.version)
      .sort();
  if ((await served()).join() === [...want].sort().join()) return;
  if (await getOrUndefined(kc, CRD_PATH)) {
    await kubeRequest(kc, "DELETE", CRD_PATH);
    await waitFor(async () => (await getOrUndefined(kc, CRD_PATH)) === undefined, {
      what: `${CRD} deleted`,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
  }
  await installCrdObjects(kc, [trafficSplitCrd(set)]);
  await waitFor(async () => (await served()).join() === [...want].sort().join(), {
    what: `discovery serving TrafficSplit ${want.join(", ")}`,
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}
