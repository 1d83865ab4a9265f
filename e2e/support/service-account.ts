// A ServiceAccount's credentials as a pod would get them: a TokenRequest token, the cluster CA (PEM), its namespace.
import { readFileSync } from "node:fs";
import { CoreV1Api } from "@kubernetes/client-node";
import type { Cluster } from "../cluster/cluster.ts";

/** Mints a token for `namespace/name` with the admin kubeconfig and pairs it with the cluster's CA. */
export async function serviceAccountCredentials(
  cluster: Cluster,
  namespace: string,
  name: string,
): Promise<{ token: string; caPem: string; namespace: string }> {
  const kc = cluster.kubeConfig();
  const tr = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: [], expirationSeconds: 3600 },
    },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const c = kc.getCurrentCluster();
  const caPem = c?.caData
    ? Buffer.from(c.caData, "base64").toString("utf8")
    : c?.caFile
      ? readFileSync(c.caFile, "utf8")
      : "";
  if (!caPem) throw new Error("the admin kubeconfig names no cluster CA");
  return { token, caPem, namespace };
}
