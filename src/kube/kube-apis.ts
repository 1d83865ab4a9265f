// The few typed API calls the controller makes (Leases, Events, custom-object patches) over the counted pipeline.
import { PATCH_TYPES } from "../api/object-meta.ts";
import type { KubeClients } from "./clients.ts";
import { collectionPath } from "./resource.ts";

type Requester = Pick<KubeClients, "request">;

/** A coordination.k8s.io/v1 Lease as JSON (times are RFC 3339 MicroTime strings). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
    [k: string]: unknown;
  };
}

/** Lease reads and writes, named as client-node's CoordinationV1Api so fakes stay familiar. */
export interface LeaseApi {
  readNamespacedLease(p: { name: string; namespace: string }, signal?: AbortSignal): Promise<Lease>;
  createNamespacedLease(p: { namespace: string; body: Lease }, signal?: AbortSignal): Promise<Lease>;
  replaceNamespacedLease(
    p: { name: string; namespace: string; body: Lease },
    signal?: AbortSignal,
  ): Promise<Lease>;
}

/** events.k8s.io/v1 Event writes; `patchNamespacedEvent` is a merge patch. */
export interface EventsApi {
  createNamespacedEvent(p: { namespace: string; body: Record<string, unknown> }): Promise<unknown>;
  patchNamespacedEvent(p: {
    name: string;
    namespace: string;
    body: Record<string, unknown>;
  }): Promise<unknown>;
}

/** The Lease resource (the elector's informer watches its one Lease by name). */
export const LEASES = { group: "coordination.k8s.io", version: "v1", plural: "leases" };
const EVENTS = { group: "events.k8s.io", version: "v1", plural: "events" };

/** {@link LeaseApi} over `clients`. */
export function leaseApi(clients: Requester): LeaseApi {
  const item = (ns: string, name: string) => `${collectionPath(LEASES, ns)}/${encodeURIComponent(name)}`;
  return {
    readNamespacedLease: ({ name, namespace }, signal) =>
      clients.request({ path: item(namespace, name), ...(signal ? { signal } : {}) }),
    createNamespacedLease: ({ namespace, body }, signal) =>
      clients.request({
        method: "POST",
        path: collectionPath(LEASES, namespace),
        body,
        ...(signal ? { signal } : {}),
      }),
    replaceNamespacedLease: ({ name, namespace, body }, signal) =>
      clients.request({ method: "PUT", path: item(namespace, name), body, ...(signal ? { signal } : {}) }),
  };
}

/** {@link EventsApi} over `clients`. */
export function eventsApi(clients: Requester): EventsApi {
  return {
    createNamespacedEvent: ({ namespace, body }) =>
      clients.request({ method: "POST", path: collectionPath(EVENTS, namespace), body }),
    patchNamespacedEvent: ({ name, namespace, body }) =>
      clients.request({
        method: "PATCH",
        path: `${collectionPath(EVENTS, namespace)}/${encodeURIComponent(name)}`,
        body,
        contentType: PATCH_TYPES.merge,
      }),
  };
}

/**
 * `ms` (plus `micros`, 0–999) as a Kubernetes MicroTime (RFC 3339 with microseconds), e.g.
 * `2026-01-02T03:04:05.678000Z`.
 */
export function microTime(ms: number, micros = 0): string {
  return new Date(ms).toISOString().replace(/Z$/, `${String(micros).padStart(3, "0")}Z`);
}
