// What adapters read of the cluster besides their own objects: namespace labels, and a Service's labels and ports.
import { getOrUndefined } from "../kube/errors.ts";
import type { MeshClient } from "./object-store.ts";

/** Object labels. */
export type Labels = Readonly<Record<string, string>>;

/** One port of a Service, as a mesh classifies it. */
export interface ServicePortFacts {
  port: number;
  name?: string;
  appProtocol?: string;
}

/** A Service's labels (Istio's waypoint binding) and ports (which protocol a mesh sees on them). */
export interface ServiceFacts {
  labels: Labels;
  ports: readonly ServicePortFacts[];
}

/** Where adapters read them; the controller passes its caches (see main.ts), others read with GETs. */
export interface ClusterFacts {
  /** A namespace's labels; undefined when it does not exist. */
  namespaceLabels(name: string): Promise<Labels | undefined>;
  /** A Service's facts; undefined when it does not exist. */
  service(namespace: string, name: string): Promise<ServiceFacts | undefined>;
}

interface ServiceJson {
  metadata?: { labels?: Record<string, string> };
  spec?: { ports?: ServicePortFacts[] };
}

/** The facts of a Service object as the API serves it. */
export function serviceFacts(svc: ServiceJson): ServiceFacts {
  return {
    labels: svc.metadata?.labels ?? {},
    ports: (svc.spec?.ports ?? []).map(({ port, name, appProtocol }) => ({
      port,
      ...(name ? { name } : {}),
      ...(appProtocol ? { appProtocol } : {}),
    })),
  };
}

/** Facts read with one GET each (tests, and callers without caches). */
export function readClusterFacts(client: MeshClient): ClusterFacts {
  const get = <T>(path: string): Promise<T | undefined> => getOrUndefined<T>(client, path);
  return {
    namespaceLabels: async (name) => {
      const ns = await get<ServiceJson>(`/api/v1/namespaces/${encodeURIComponent(name)}`);
      return ns === undefined ? undefined : (ns.metadata?.labels ?? {});
    },
    service: async (namespace, name) => {
      const svc = await get<ServiceJson>(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`,
      );
      return svc === undefined ? undefined : serviceFacts(svc);
    },
  };
}
