// Kubernetes object metadata as Vireo reads and writes it on every kind (Rollouts, workloads, mesh objects): the
// metadata shape, owner references to the Rollout, the labels that mark Vireo's objects, and the patch types.
import { LABELS } from "./constants.ts";

/** A Kubernetes owner reference as stored on objects. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The owner of every object Vireo creates for a Rollout (the Rollout), so garbage collection follows it. */
export type OwnerRef = Pick<OwnerReference, "apiVersion" | "kind" | "name" | "uid">;

/** The part of ObjectMeta Vireo reads and writes. Server-set fields it does not name are carried through untouched. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  deletionTimestamp?: string;
  [key: string]: unknown;
}

/** The controller owner reference to `owner`, which blocks the owner's foreground deletion until this object goes. */
export function ownerReference(owner: OwnerRef): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Value of the `app.kubernetes.io/managed-by` label on everything Vireo creates. */
export const MANAGED_BY = "vireo";

/** What a workload object Vireo creates is to its Rollout (the `vireo.dev/role` label). */
export type WorkloadRole = "primary" | "canary" | "root" | "preview";

/** Labels marking an object as created by Vireo for `rollout`; workload objects also carry their role. */
export function managedLabels(rollout: string, role?: WorkloadRole): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.rollout]: rollout,
    ...(role ? { [LABELS.role]: role } : {}),
  };
}

/** `apiVersion` of a resource (`v1`, `apps/v1`, `vireo.dev/v1alpha1`); `group: ""` is the core group. */
export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/**
 * The merge-patch value that turns map `current` into `desired` (a Service's selector): a merge patch cannot remove
 * keys by omission, so the keys `desired` lacks are set to null.
 */
export function replacingMap(
  current: Record<string, string> | undefined,
  desired: Record<string, string>,
): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...desired };
  for (const key of Object.keys(current ?? {})) if (!(key in desired)) patch[key] = null;
  return patch;
}

/** PATCH content types Vireo sends. */
export const PATCH_TYPES = {
  /** RFC 7386 JSON merge patch: status and metadata writes, Deployment scale and template changes. */
  merge: "application/merge-patch+json",
  /** RFC 6902 JSON patch: a template put back whole, fenced by a `test` of the resourceVersion. */
  json: "application/json-patch+json",
  /** Server-side apply: the weights of a user-owned HTTPRoute's rule, every other field staying the user's. */
  apply: "application/apply-patch+yaml",
} as const;
