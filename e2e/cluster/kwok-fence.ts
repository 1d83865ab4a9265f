// Fences kwok's pod deletions the way a kubelet's are: only the pod whose deletion was asked for goes away.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { KWOK_USER } from "./components.ts";
import { applyObjects } from "./manifests.ts";

const NAME = "vireo-e2e-kwok-deletes-terminating-pods-only";

/**
 * A ValidatingAdmissionPolicy (and its binding) refusing kwok's DELETE of a pod that is not terminating.
 *
 * kwok v0.8.0 finishes a pod's graceful deletion with a DELETE by name and no UID precondition
 * (pkg/kwok/controllers/pod_controller.go, deleteResource), and may play that stage more than once for one pod. A
 * StatefulSet gives the replacement the same name, so a late repeat deleted the fresh pod — the StatefulSet
 * controller made it again, and the ordinal was replaced twice though nothing in the rollout asked for it (seen in
 * e2e/workload-kinds.test.ts's audit log: two creates of one ordinal within 200 ms). A kubelet deletes with the
 * pod's UID as a precondition (kubernetes/kubernetes#25224); a pod kwok may delete is one that is terminating, so
 * refusing the rest gives the same guarantee.
 */
export function kwokDeleteFence(): KubernetesObject[] {
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: NAME },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["DELETE"], resources: ["pods"] },
          ],
        },
        matchConditions: [{ name: "by-kwok", expression: `request.userInfo.username == "${KWOK_USER}"` }],
        validations: [
          {
            expression: "has(oldObject.metadata.deletionTimestamp)",
            message: "kwok may delete only a terminating pod (a kubelet's delete is fenced on the pod's UID)",
            reason: "Forbidden",
          },
        ],
      },
    } as KubernetesObject,
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: NAME },
      spec: { policyName: NAME, validationActions: ["Deny"] },
    } as KubernetesObject,
  ];
}

/** Applies {@link kwokDeleteFence} to a cluster whose kwok the harness runs. */
export async function applyKwokDeleteFence(kc: KubeConfig): Promise<void> {
  await applyObjects(kc, kwokDeleteFence());
}
