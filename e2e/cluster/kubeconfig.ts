// Renders kubeconfig files for the cluster's identities (client-cert or bearer-token users).
import { readFileSync, writeFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";

/** How a kubeconfig user authenticates. */
export type Credentials = { certFile: string; keyFile: string } | { token: string };

/** Inputs for {@link writeKubeconfig}. */
export interface KubeconfigSpec {
  server: string;
  /** Trust anchor: a CA file, inline base64 CA data, or (external dev clusters only) no verification. */
  ca: { file: string } | { data: string } | { insecure: true };
  user: string;
  credentials: Credentials;
  /** Default namespace of the context. */
  namespace?: string;
}

/**
 * Writes a single-context kubeconfig at `path` (mode 0600). Certificates are embedded as *-data so the file stays
 * valid when copied elsewhere, e.g. into CI artefacts.
 */
export function writeKubeconfig(path: string, spec: KubeconfigSpec): void {
  const b64 = (file: string): string => readFileSync(file).toString("base64");
  const user =
    "token" in spec.credentials
      ? { token: spec.credentials.token }
      : {
          "client-certificate-data": b64(spec.credentials.certFile),
          "client-key-data": b64(spec.credentials.keyFile),
        };
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "vireo-e2e", cluster: { server: spec.server, ...caFields(spec.ca) } }],
    users: [{ name: spec.user, user }],
    contexts: [
      {
        name: spec.user,
        context: {
          cluster: "vireo-e2e",
          user: spec.user,
          ...(spec.namespace ? { namespace: spec.namespace } : {}),
        },
      },
    ],
    "current-context": spec.user,
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
}

function caFields(ca: KubeconfigSpec["ca"]): Record<string, string | boolean> {
  if ("file" in ca) return { "certificate-authority-data": readFileSync(ca.file).toString("base64") };
  if ("data" in ca) return ca.data ? { "certificate-authority-data": ca.data } : {};
  return { "insecure-skip-tls-verify": true };
}

/** The trust settings of a loaded kubeconfig's current cluster, in {@link KubeconfigSpec} form. */
export function caOf(kc: KubeConfig): KubeconfigSpec["ca"] {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  if (cluster.caData) return { data: cluster.caData };
  if (cluster.caFile) return { file: cluster.caFile };
  if (cluster.skipTLSVerify) return { insecure: true };
  // No CA configured means the system trust store; an empty data field would break that, so omit it.
  return { data: "" };
}

/** Loads a kubeconfig file into a client-node KubeConfig. */
export function loadKubeconfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
