// What the EndpointSlices of some Services listed when: the ready pods of each after every slice event, with the
// event's resourceVersion, so a route write can be placed before or after the slices it depended on.
import type { KubeConfig } from "@kubernetes/client-node";
import { type EndpointSlice, readyCount, SERVICE_NAME_LABEL } from "../../src/kube/endpoint-slices.ts";
import { watchPath } from "../cluster/kube-request.ts";

/** One state of a Service's slices: its ready pods after the event with resourceVersion `rv`. */
export interface SliceState {
  service: string;
  ready: number;
  rv: bigint;
  at: number;
}

/** The slices' history of the watched Services. */
export interface SliceLog {
  /**
   * How many ready pods the slices of `service` listed just before resourceVersion `rv` (0 before any event). The
   * API server's resourceVersions are opaque by contract; this cluster's single etcd hands them out in one order
   * for every resource, which is what lets a VirtualService write be placed among slice writes.
   */
  readyBefore(service: string, rv: bigint): number;
  /** When (watch arrival) the slices of `service` last went from no ready pod to some, before `rv`; 0 if never. */
  readySince(service: string, rv: bigint): number;
  stop(): void;
}

/** Watches every EndpointSlice of `services` in `namespace` (from now on, after the initial list the watch sends). */
export async function watchSlices(kc: KubeConfig, namespace: string, services: string[]): Promise<SliceLog> {
  const current = new Map<string, Map<string, EndpointSlice>>(services.map((s) => [s, new Map()]));
  const log: SliceState[] = [];
  const selector = encodeURIComponent(`${SERVICE_NAME_LABEL} in (${services.join(",")})`);
  const watch = await watchPath<EndpointSlice & { metadata: { resourceVersion?: string } }>(
    kc,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=${selector}`,
    (e) => {
      const service = e.object.metadata.labels?.[SERVICE_NAME_LABEL];
      const slices = service === undefined ? undefined : current.get(service);
      const name = e.object.metadata.name;
      if (!service || !slices || !name || !e.object.metadata.resourceVersion) return;
      if (e.type === "DELETED") slices.delete(name);
      else slices.set(name, e.object);
      const rv = BigInt(e.object.metadata.resourceVersion);
      log.push({ service, ready: readyCount([...slices.values()]), rv, at: e.at });
    },
  );
  return {
    readyBefore(service, rv) {
      let ready = 0;
      for (const s of log) if (s.service === service && s.rv < rv) ready = s.ready;
      return ready;
    },
    readySince(service, rv) {
      let since = 0;
      let was = 0;
      for (const s of log) {
        if (s.service !== service || s.rv >= rv) continue;
        if (was === 0 && s.ready > 0) since = s.at;
        was = s.ready;
      }
      return since;
    },
    stop: () => watch.stop(),
  };
}
