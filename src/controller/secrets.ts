// Reads a Secret by name and decodes its data; never lists and never logs values.
import type { KubeClients } from "../kube/clients.ts";
import { isNotFound } from "../kube/errors.ts";

/** Returns the decoded data of a Secret, or undefined when it does not exist. */
export function secretReader(clients: Pick<KubeClients, "request">) {
  return async (namespace: string, name: string): Promise<Record<string, string> | undefined> => {
    try {
      const secret = await clients.request<{ data?: Record<string, string> }>({
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      });
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(secret.data ?? {}))
        out[k] = Buffer.from(v, "base64").toString("utf8");
      return out;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}
