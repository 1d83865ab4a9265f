// Resource coordinates and API paths for core, named-group and custom resources.
import type { KubernetesObject } from "@kubernetes/client-node";

/** A resource by API group, version and plural; `group: ""` is the core group (`/api/v1`). */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
}

/** Collection path, namespaced when `namespace` is given: `/apis/g/v/namespaces/ns/plural`. */
export function collectionPath(r: ResourceRef, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return namespace
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`
    : `${base}/${r.plural}`;
}

/** Human-readable `plural.group` (`configmaps`, `rollouts.vireo.dev`) for logs and errors. */
export function resourceName(r: ResourceRef): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/** The work-queue key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? "";
  return ns ? `${ns}/${name}` : name;
}

/** Splits a key made by {@link objectKey}. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
