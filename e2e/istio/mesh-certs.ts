// Istio workload identities without istiod's CA: a mesh root and SPIFFE certificates in the files Istio's agent
// writes (cert-chain.pem, key.pem, root-cert.pem), for proxyless gRPC's file_watcher certificate provider.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type CertPair, issueCert } from "../cluster/certs.ts";

/** Issues per-identity certificate dirs under one mesh root. */
export interface MeshCerts {
  /** The dir holding the identity's certificate files (issued on first use). */
  dirOf(namespace: string, serviceAccount: string): Promise<string>;
}

/** The mesh's SPIFFE id of a ServiceAccount (trust domain cluster.local, as the e2e mesh config says). */
export const spiffeId = (namespace: string, serviceAccount: string) =>
  `spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`;

/** A mesh root CA in `<dir>/mesh-ca` and workload certificates below it. */
export async function meshCerts(openssl: string, dir: string): Promise<MeshCerts> {
  const caDir = join(dir, "mesh-ca");
  const root: CertPair = await issueCert(openssl, caDir, "root", "vireo-e2e-mesh-root", [
    "basicConstraints = critical,CA:TRUE",
    "keyUsage = critical,keyCertSign,cRLSign,digitalSignature",
    "subjectKeyIdentifier = hash",
  ]);
  const issued = new Map<string, Promise<string>>();
  return {
    dirOf(namespace, serviceAccount) {
      const key = `${namespace}/${serviceAccount}`;
      let dirPromise = issued.get(key);
      if (!dirPromise) {
        dirPromise = (async () => {
          const out = join(dir, "mesh-certs", `${namespace}.${serviceAccount}`);
          mkdirSync(out, { recursive: true });
          // Istio's workload certificates: empty subject, the SPIFFE id as the only SAN, usable both ways.
          const leaf = await issueCert(
            openssl,
            out,
            "leaf",
            serviceAccount,
            [
              "basicConstraints = critical,CA:FALSE",
              "keyUsage = critical,digitalSignature,keyEncipherment",
              "extendedKeyUsage = serverAuth,clientAuth",
              `subjectAltName = critical,URI:${spiffeId(namespace, serviceAccount)}`,
            ],
            root,
          );
          copyFileSync(leaf.cert, join(out, "cert-chain.pem"));
          copyFileSync(leaf.key, join(out, "key.pem"));
          copyFileSync(root.cert, join(out, "root-cert.pem"));
          return out;
        })();
        issued.set(key, dirPromise);
      }
      return dirPromise;
    },
  };
}
