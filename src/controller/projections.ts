// What the controller's caches keep of each object: only the fields their readers use, applied as objects arrive,
// so whatever else an object carries (a 250 kB annotation, managedFields, status conditions) costs nothing for long.

import type { KubernetesObject } from "@kubernetes/client-node";
import { GROUP } from "../api/constants.ts";
import type { ObjectMeta } from "../api/object-meta.ts";
import type { Rollout } from "../api/rollout-schema.ts";
import { ORIGINAL_SELECTOR_ANNOTATION, REVISION_ANNOTATION } from "../workload/names.ts";
import type { Deployment, HorizontalPodAutoscaler, Service } from "../workload/objects.ts";

type Cached<T> = T & KubernetesObject;

/** The metadata every reader uses, with only the named annotations (the rest are dropped). */
function meta(m: ObjectMeta, annotations: (key: string) => boolean): ObjectMeta {
  const kept = Object.entries(m.annotations ?? {}).filter(([k]) => annotations(k));
  return {
    name: m.name,
    ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.generation !== undefined ? { generation: m.generation } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(kept.length > 0 ? { annotations: Object.fromEntries(kept) } : {}),
    ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
  };
}

const only =
  (...keys: string[]) =>
  (k: string) =>
    keys.includes(k);

/** Longest condition message kept: the hand-back quotes it, clipped shorter still (workload/hand-back.ts). */
const CONDITION_MESSAGE_LIMIT = 1024;

/**
 * The conditions that say why a Deployment cannot serve — a ReplicaFailure (quota, admission) or Progressing=False
 * (progress deadline) — which a waiting deletion names; every other condition is dropped.
 */
function failureConditions(d: Cached<Deployment>): NonNullable<Deployment["status"]>["conditions"] {
  const kept = (d.status?.conditions ?? []).filter(
    (c) =>
      (c.type === "ReplicaFailure" && c.status === "True") ||
      (c.type === "Progressing" && c.status === "False"),
  );
  return kept.map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message.slice(0, CONDITION_MESSAGE_LIMIT) } : {}),
  }));
}

/**
 * Deployments (primaries, adopted targets): the whole spec (the target's template becomes the primary's), the
 * rollout counters of status, its failure conditions, and the revision annotation of a primary.
 */
export function projectDeployment(d: Cached<Deployment>): Cached<Deployment> {
  const s = d.status ?? {};
  const failures = failureConditions(d);
  return {
    apiVersion: d.apiVersion,
    kind: d.kind,
    metadata: meta(d.metadata, only(REVISION_ANNOTATION)),
    spec: d.spec,
    status: {
      ...(s.observedGeneration !== undefined ? { observedGeneration: s.observedGeneration } : {}),
      ...(s.replicas !== undefined ? { replicas: s.replicas } : {}),
      ...(s.updatedReplicas !== undefined ? { updatedReplicas: s.updatedReplicas } : {}),
      ...(s.readyReplicas !== undefined ? { readyReplicas: s.readyReplicas } : {}),
      ...(s.availableReplicas !== undefined ? { availableReplicas: s.availableReplicas } : {}),
      ...(failures && failures.length > 0 ? { conditions: failures } : {}),
    },
  } as Cached<Deployment>;
}

/** Services (backends, adopted roots): selector, ports and type, and the root's remembered selector. */
export function projectService(svc: Cached<Service>): Cached<Service> {
  const { selector, ports, type } = svc.spec ?? {};
  return {
    apiVersion: svc.apiVersion,
    kind: svc.kind,
    metadata: meta(svc.metadata, only(ORIGINAL_SELECTOR_ANNOTATION)),
    spec: {
      ...(selector ? { selector } : {}),
      ...(ports ? { ports } : {}),
      ...(type !== undefined ? { type } : {}),
    },
  } as Cached<Service>;
}

/**
 * HorizontalPodAutoscalers: every one is watched (the user's is found by its scale target, and it carries no
 * label of ours), so each keeps only its labels and spec — what Vireo copies into the primary's — and no
 * annotations or status.
 */
export function projectAutoscaler(h: Cached<HorizontalPodAutoscaler>): Cached<HorizontalPodAutoscaler> {
  return {
    apiVersion: h.apiVersion,
    kind: h.kind,
    metadata: meta(h.metadata, () => false),
    spec: h.spec,
  } as Cached<HorizontalPodAutoscaler>;
}

/** Rollouts: everything but foreign annotations (the requests are `vireo.dev/` annotations) and managedFields. */
export function projectRollout(r: Cached<Rollout>): Cached<Rollout> {
  const {
    managedFields: _managed,
    annotations,
    ...rest
  } = r.metadata as Rollout["metadata"] & {
    managedFields?: unknown;
  };
  const kept = Object.entries(annotations ?? {}).filter(([k]) => k.startsWith(`${GROUP}/`));
  return {
    ...r,
    metadata: { ...rest, ...(kept.length > 0 ? { annotations: Object.fromEntries(kept) } : {}) },
  } as Cached<Rollout>;
}
