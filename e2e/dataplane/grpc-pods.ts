// Runs each gRPC pod's app as its own process (xdsprobe server) on the pod's IP: a proxyless gRPC server that takes
// its listener, mTLS mode and RBAC from istiod, and exports the istio_requests_total series of its requests.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Istiod } from "../cluster/istiod.ts";
import { kubeRequest } from "../cluster/kube-request.ts";
import type { MeshCerts } from "../istio/mesh-certs.ts";
import { nodeArgs, type Probe, startProbe } from "../istio/xdsprobe.ts";
import type { PodBehaviour, PodLike } from "./pod-behaviour.ts";
import type { PodHost } from "./pod-runner.ts";

/** Port of each pod's Prometheus endpoint (Istio's merged-metrics port), path /stats/prometheus. */
export const POD_METRICS_PORT = 15020;
/**
 * Readiness gate of a pod whose app must serve before it is Ready: kwok leaves such a pod not Ready (see
 * kwok-stages.yaml) and the host marks it Ready once the app serves, as a kubelet's readiness probe would.
 */
export const SERVING_GATE = "vireo.dev/serving";

/** A pod host for gRPC pods, with what it saw. */
export interface GrpcPodHost extends PodHost {
  /** Start-up failures (a pod whose server never came up); a healthy run has none. */
  errors(): string[];
  /** Stops every server. */
  stopAll(): Promise<void>;
}

/**
 * The workload Istio reports for a pod: its controller's name, less the ReplicaSet's pod-template-hash suffix
 * (a Deployment's pods), else the pod name.
 */
export function workloadOf(pod: PodLike): string {
  const owner = pod.metadata?.ownerReferences?.[0];
  const hash = pod.metadata?.labels?.["pod-template-hash"];
  if (owner?.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`))
    return owner.name.slice(0, -hash.length - 1);
  return owner?.name ?? pod.metadata?.name ?? "";
}

/**
 * Serves gRPC pods with xDS-managed servers: each registers with istiod as its pod (node id with the pod IP) and
 * presents its ServiceAccount's mesh certificate. `scrape` is told every pod's metrics URL (Prometheus target).
 */
export function grpcPodHost(o: {
  kc: KubeConfig;
  istiod: Istiod;
  dir: string;
  certs: MeshCerts;
  scrape: (url: string) => Promise<void>;
}): GrpcPodHost {
  const errors: string[] = [];
  const start = async (ip: string, pod: PodLike, b: PodBehaviour): Promise<Probe | undefined> => {
    const namespace = pod.metadata?.namespace ?? "";
    const labels = pod.metadata?.labels ?? {};
    const port = b.ports[0];
    try {
      if (port === undefined) throw new Error("no containerPort");
      const certDir = await o.certs.dirOf(namespace, pod.spec?.serviceAccountName ?? "default");
      const probe = await startProbe({
        command: "server",
        args: [
          ...nodeArgs(o.istiod, { ip, pod: pod.metadata?.name ?? "", namespace, labels, certDir }),
          `--addr=${ip}:${port}`,
          `--workload=${workloadOf(pod)}`,
          `--app=${labels.app ?? "unknown"}`,
          `--version=${labels.version ?? "unknown"}`,
          `--error-rate=${b.errorRate}`,
          `--latency-ms=${b.latencyMs}`,
          "--xds-managed",
        ],
        dir: o.dir,
        listenFlag: "--metrics",
        listen: `${ip}:${POD_METRICS_PORT}`,
        // An xDS-managed server serves once istiod sent its inbound listener (mTLS, RBAC).
        readyPath: "/ready",
      });
      await o.scrape(`${probe.url}/stats/prometheus`);
      if (pod.spec?.readinessGates?.some((g) => g.conditionType === SERVING_GATE)) await markReady(o.kc, pod);
      return probe;
    } catch (err) {
      if (errors.length < 100) errors.push(`${ip} (${pod.metadata?.name}): ${(err as Error).message}`);
      return undefined;
    }
  };
  /** Per IP, the last start or stop: a new pod on a reused IP starts only once the old one's server is gone. */
  const chains = new Map<string, Promise<Probe | undefined>>();
  const chain = (ip: string, next: (p: Probe | undefined) => Promise<Probe | undefined>) => {
    const p = (chains.get(ip) ?? Promise.resolve(undefined)).then(next);
    chains.set(ip, p);
    return p;
  };
  const stop = (ip: string) =>
    chain(ip, async (probe) => {
      await probe?.stop();
      return undefined;
    });
  return {
    start(ip, pod, b) {
      void chain(ip, () => start(ip, pod, b));
    },
    stop(ip) {
      void stop(ip);
    },
    errors: () => [...errors],
    async stopAll() {
      await Promise.all([...chains.keys()].map(stop));
    },
  };
}

/** Sets the pod's Ready condition and serving gate, as the kubelet does once a readiness probe passes. */
async function markReady(kc: KubeConfig, pod: PodLike): Promise<void> {
  const now = new Date().toISOString();
  const conditions = ["Ready", SERVING_GATE].map((type) => ({
    type,
    status: "True",
    lastTransitionTime: now,
  }));
  await kubeRequest(
    kc,
    "PATCH",
    `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}/status`,
    { status: { conditions } },
    "application/strategic-merge-patch+json",
  );
}
