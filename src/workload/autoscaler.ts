// Pure helpers for HorizontalPodAutoscalers: find the user's HPA of the target, render Vireo's primary copy of it,
// and say what the engine needs to know about both.

import { GITOPS_ANNOTATIONS, LABELS } from "../api/constants.ts";
import { managedLabels, type OwnerRef, ownerReference } from "../api/object-meta.ts";
import type { AutoscalerObservation } from "../rollout/types.ts";
import type { WorkloadNames } from "./names.ts";
import type { HorizontalPodAutoscaler } from "./objects.ts";
import { canonicalJson } from "./revision.ts";

/** True when the HPA scales the named apps/v1 Deployment. */
function scales(hpa: HorizontalPodAutoscaler, deployment: string): boolean {
  const ref = hpa.spec.scaleTargetRef;
  return ref.kind === "Deployment" && ref.name === deployment && (ref.apiVersion ?? "apps/v1") === "apps/v1";
}

/**
 * The user's HPA of the target Deployment, if any; never one Vireo made. Should several target it (the HPA
 * controller refuses to act on any of them then), the first by name is taken, so the choice is stable.
 */
export function userAutoscaler(
  hpas: readonly HorizontalPodAutoscaler[],
  names: WorkloadNames,
): HorizontalPodAutoscaler | undefined {
  return hpas
    .filter((h) => scales(h, names.target) && h.metadata.labels?.[LABELS.managedBy] !== "vireo")
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))[0];
}

/** Vireo's HPA of the primary, named like the primary Deployment. */
export function primaryAutoscaler(
  hpas: readonly HorizontalPodAutoscaler[],
  names: WorkloadNames,
): HorizontalPodAutoscaler | undefined {
  return hpas.find((h) => h.metadata.name === names.primary);
}

/** True when `hpa` is one Vireo made for this Rollout (so it may be replaced or deleted). */
export function ownsAutoscaler(hpa: HorizontalPodAutoscaler, names: WorkloadNames): boolean {
  const l = hpa.metadata.labels ?? {};
  return l[LABELS.managedBy] === "vireo" && l[LABELS.rollout] === names.rollout;
}

/**
 * The primary's HPA: the user's spec (metrics, behavior, bounds) with scaleTargetRef retargeted to the primary
 * Deployment and `minReplicas`, owned by the Rollout so it is garbage-collected with it.
 */
export function renderPrimaryAutoscaler(
  user: HorizontalPodAutoscaler,
  names: WorkloadNames,
  owner: OwnerRef,
  minReplicas: number,
): HorizontalPodAutoscaler {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: {
      name: names.primary,
      namespace: names.namespace,
      labels: { ...user.metadata.labels, ...managedLabels(names.rollout, "primary") },
      annotations: { ...GITOPS_ANNOTATIONS },
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      ...structuredClone(user.spec),
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: names.primary },
      minReplicas,
    },
  };
}

/** What the engine needs to know about the two HPAs; undefined when neither exists. */
export function observeAutoscalers(
  user: HorizontalPodAutoscaler | undefined,
  primary: HorizontalPodAutoscaler | undefined,
  names: WorkloadNames,
): AutoscalerObservation | undefined {
  if (!user && !primary) return undefined;
  const out: AutoscalerObservation = {};
  if (user) out.user = { minReplicas: user.spec.minReplicas ?? 1, maxReplicas: user.spec.maxReplicas };
  if (primary) {
    const minReplicas = primary.spec.minReplicas ?? 1;
    // Compared with the rendering at the primary's own minReplicas: only the rest of the spec has to match.
    const wanted = user
      ? renderPrimaryAutoscaler(user, names, { apiVersion: "", kind: "", name: "", uid: "" }, minReplicas)
      : undefined;
    out.primary = {
      minReplicas,
      matchesUser: wanted !== undefined && canonicalJson(wanted.spec) === canonicalJson(primary.spec),
    };
  }
  return out;
}
