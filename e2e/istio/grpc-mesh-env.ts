// Everything the proxyless-gRPC traffic tests need beside the cluster: istiod, locally routed pod IPs, gRPC pods
// that take mTLS and RBAC from istiod, and mesh certificates for them and for the clients.
import { join } from "node:path";
import { type Cluster, type StartClusterOptions, startCluster } from "../cluster/cluster.ts";
import { REPO_ROOT, resolveBinaries } from "../cluster/paths.ts";
import { type GrpcPodHost, grpcPodHost } from "../dataplane/grpc-pods.ts";
import { claimLocalRange } from "../dataplane/pod-cidr.ts";
import { type PodRunner, startPodRunner } from "../dataplane/pod-runner.ts";
import { type GrpcLoad, startGrpcLoad } from "./grpc-load.ts";
import { type MeshCerts, meshCerts } from "./mesh-certs.ts";

/** A running proxyless-gRPC mesh environment. */
export interface GrpcMeshEnv {
  cluster: Cluster;
  runner: PodRunner;
  pods: GrpcPodHost;
  certs: MeshCerts;
  /** Starts a client of `target` with the mesh identity `serviceAccount` of namespace `namespace`. */
  client(o: {
    namespace: string;
    serviceAccount: string;
    target: string;
    rps?: number;
    /** Request metadata (headers) sent on every RPC. */
    metadata?: Record<string, string>;
  }): Promise<GrpcLoad>;
  /** Requires mTLS for every workload of `namespace` and makes clients use it for its Services (Istio's config). */
  requireMtls(namespace: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a cluster with istiod and a local pod range, the pod runner with its gRPC pod host, and a mesh CA. */
export async function startGrpcMeshEnv(
  o: Pick<StartClusterOptions, "endpointSliceBatchMs"> = {},
): Promise<GrpcMeshEnv> {
  const range = claimLocalRange();
  let cluster: Cluster | undefined;
  let runner: PodRunner | undefined;
  let pods: GrpcPodHost | undefined;
  const loads: GrpcLoad[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const l of loads) await l.stop().catch(() => {});
    await runner?.stop().catch(() => {});
    await pods?.stopAll().catch(() => {});
    await cluster?.stop().catch(() => {});
    range.release();
  };
  try {
    cluster = await startCluster({
      podCidr: range.cidr,
      istiod: true,
      crdDirs: [join(REPO_ROOT, "crds")],
      ...o,
    });
    const c = cluster;
    const istiod = c.istiod!;
    const certs = await meshCerts(resolveBinaries().openssl, c.dir);
    pods = grpcPodHost({
      kc: c.kubeConfig(),
      istiod,
      dir: c.dir,
      certs,
      scrape: (url) => c.addScrapeTarget(url),
    });
    runner = await startPodRunner({ kc: c.kubeConfig(), podCidr: range.cidr, grpc: pods });
    return {
      cluster: c,
      runner,
      pods,
      certs,
      async client(o) {
        const certDir = await certs.dirOf(o.namespace, o.serviceAccount);
        const load = await startGrpcLoad({
          istiod,
          dir: c.dir,
          node: { pod: o.serviceAccount, namespace: o.namespace, certDir },
          target: o.target,
          ...(o.rps ? { rps: o.rps } : {}),
          ...(o.metadata ? { metadata: o.metadata } : {}),
        });
        loads.push(load);
        return load;
      },
      async requireMtls(namespace) {
        const docs = [
          {
            apiVersion: "security.istio.io/v1",
            kind: "PeerAuthentication",
            metadata: { name: "default", namespace },
            spec: { mtls: { mode: "STRICT" } },
          },
          {
            apiVersion: "networking.istio.io/v1",
            kind: "DestinationRule",
            metadata: { name: "mtls", namespace },
            spec: {
              host: `*.${namespace}.svc.cluster.local`,
              trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } },
            },
          },
        ];
        const r = await c.kubectl(["apply", "-f", "-"], {
          input: docs.map((d) => JSON.stringify(d)).join("\n---\n"),
        });
        if (r.code !== 0) throw new Error(`kubectl apply (mTLS) failed: ${r.stderr}`);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
