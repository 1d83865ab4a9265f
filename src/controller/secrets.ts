// Reads a Secret by name and decodes its data; never lists and never logs values.
import type { ReadSecret, SecretContents } from "../api/secret-ref.ts";
import type { KubeClients } from "../kube/clients.ts";
import { isNotFound } from "../kube/errors.ts";

/**
 * Returns a {@link ReadSecret} over the API: the decoded data and the labels of a Secret (callers check the
 * opt-in label), or undefined when it does not exist.
 */
export function secretReader(clients: Pick<KubeClients, "request">): ReadSecret {
  return async (namespace: string, name: string): Promise<SecretContents | undefined> => {
    try {
      const secret = await clients.request<{
        metadata?: { labels?: Record<string, string> };
        data?: Record<string, string>;
      }>({
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      });
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(secret.data ?? {}))
        data[k] = Buffer.from(v, "base64").toString("utf8");
      return { data, labels: { ...secret.metadata?.labels } };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}
