// Shared shape of the mesh objects Vireo writes: ownership metadata, and comparison that ignores server-set noise.
import { GITOPS_ANNOTATIONS, LABELS } from "../api/constants.ts";
import {
  MANAGED_BY,
  managedLabels,
  type ObjectMeta,
  type OwnerRef,
  ownerReference,
} from "../api/object-meta.ts";
import { semanticEqual } from "../api/semantic-equal.ts";

/** Any namespaced mesh object, as JSON. */
export interface MeshObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  [key: string]: unknown;
}

/** Metadata of a freshly rendered object: name, namespace, our labels, GitOps annotations and owner reference. */
export function renderMetadata(
  name: string,
  namespace: string,
  rolloutName: string,
  owner: OwnerRef,
): ObjectMeta {
  return {
    name,
    namespace,
    labels: managedLabels(rolloutName),
    annotations: { ...GITOPS_ANNOTATIONS },
    ownerReferences: [ownerReference(owner)],
  };
}

/**
 * True when the object carries our labels for `rolloutName`. Labels, not the owner uid, decide ownership so a
 * Rollout deleted with `--cascade=orphan` and re-created adopts its own objects (the owner reference is then
 * corrected) while a same-named object someone else created is never taken over.
 */
export function isManagedBy(obj: MeshObject, rolloutName: string): boolean {
  const labels = obj.metadata.labels ?? {};
  return labels[LABELS.managedBy] === MANAGED_BY && labels[LABELS.rollout] === rolloutName;
}

/** True when `live` has every label and annotation of `desired` and the owner reference `desired` names. */
export function metadataInSync(live: ObjectMeta, desired: ObjectMeta): boolean {
  for (const [k, v] of Object.entries(desired.labels ?? {})) if (live.labels?.[k] !== v) return false;
  for (const [k, v] of Object.entries(desired.annotations ?? {}))
    if (live.annotations?.[k] !== v) return false;
  for (const want of desired.ownerReferences ?? []) {
    const found = (live.ownerReferences ?? []).some(
      (r) =>
        r.uid === want.uid &&
        r.apiVersion === want.apiVersion &&
        r.kind === want.kind &&
        r.name === want.name &&
        (r.controller ?? false) === (want.controller ?? false),
    );
    if (!found) return false;
  }
  return true;
}

/**
 * The metadata to PUT back: everything live (resourceVersion for optimistic concurrency, other people's labels,
 * annotations and finalizers) plus our labels, with our owner reference replacing any stale reference to the
 * same owner or any other controller reference (an object has at most one controller).
 */
export function mergeMetadata(live: ObjectMeta, desired: ObjectMeta): ObjectMeta {
  const ours = desired.ownerReferences ?? [];
  const kept = (live.ownerReferences ?? []).filter(
    (r) =>
      r.controller !== true && !ours.some((o) => o.uid === r.uid || (o.kind === r.kind && o.name === r.name)),
  );
  const merged: ObjectMeta = { ...live, labels: { ...live.labels, ...desired.labels } };
  if (desired.annotations) merged.annotations = { ...live.annotations, ...desired.annotations };
  const refs = [...kept, ...ours];
  if (refs.length > 0) merged.ownerReferences = refs;
  return merged;
}

/** True when two objects' specs are equal as data (key order, metadata and status ignored). */
export function sameSpec(live: MeshObject, desired: MeshObject): boolean {
  return semanticEqual(live.spec, desired.spec);
}

/** Sorts by a string key with plain code-unit order (locale-independent, so rendering is reproducible). */
export function byKey<T>(key: (x: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}
