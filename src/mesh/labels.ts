// Labels of the namespaces and Services a mesh mode depends on (Istio's waypoint binding), from any source.
import { isNotFound } from "../kube/errors.ts";
import type { MeshClient } from "./object-store.ts";

/** Object labels; undefined when the object does not exist. */
export type Labels = Readonly<Record<string, string>> | undefined;

/** Where adapters read namespace and Service labels; the controller passes cached ones (see main.ts). */
export interface LabelSource {
  namespace(name: string): Promise<Labels>;
  service(namespace: string, name: string): Promise<Labels>;
}

/** A source reading each object with one GET (tests, and callers without caches). */
export function readLabels(client: MeshClient): LabelSource {
  const labelsAt = async (path: string): Promise<Labels> => {
    try {
      const obj = await client.request<{ metadata?: { labels?: Record<string, string> } }>({ path });
      return obj.metadata?.labels ?? {};
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    namespace: (name) => labelsAt(`/api/v1/namespaces/${encodeURIComponent(name)}`),
    service: (namespace, name) =>
      labelsAt(`/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`),
  };
}
