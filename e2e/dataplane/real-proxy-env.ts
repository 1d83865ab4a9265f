// Everything the real-proxy path needs beside the cluster: a local pod range, the pod runner, Traefik and a Gateway.
import { join } from "node:path";
import { type Cluster, startCluster } from "../cluster/cluster.ts";
import { REPO_ROOT } from "../cluster/paths.ts";
import { waitFor } from "../cluster/wait.ts";
import { type ControllerProcess, prometheusArgs, startController } from "../support/controller-process.ts";
import { claimLocalRange } from "./pod-cidr.ts";
import { type PodRunner, startPodRunner } from "./pod-runner.ts";
import { gatewayManifests, startTraefik, type Traefik } from "./traefik.ts";

/** The Gateway every real-proxy Rollout attaches to. */
export const GATEWAY = { namespace: "infra", name: "public", listener: "web" } as const;

/** A running real-proxy environment. */
export interface RealProxyEnv {
  cluster: Cluster;
  runner: PodRunner;
  traefik: Traefik;
  /** Stops Traefik, the pod runner and the cluster, and removes the local route. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster whose kwok pods get locally routed IPs and upstream Gateway API CRDs, the pod runner, Traefik
 * scraped by the cluster's Prometheus (job traefik), and Gateway infra/public with listener web on Traefik's entry
 * point; resolves once Traefik has programmed the Gateway.
 */
export async function startRealProxyEnv(): Promise<RealProxyEnv> {
  const range = claimLocalRange();
  let cluster: Cluster | undefined;
  let runner: PodRunner | undefined;
  let traefik: Traefik | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await traefik?.stop().catch(() => {});
    await runner?.stop().catch(() => {});
    await cluster?.stop().catch(() => {});
    range.release();
  };
  try {
    cluster = await startCluster({
      podCidr: range.cidr,
      // The upstream CRDs (Gateway API's standard channel among them) are installed by default.
      crdDirs: [join(REPO_ROOT, "crds")],
    });
    const kc = cluster.kubeConfig();
    runner = await startPodRunner({ kc, podCidr: range.cidr });
    traefik = await startTraefik({ kubeconfigPath: cluster.kubeconfigPath, dir: cluster.dir });
    await cluster.addScrapeTarget(traefik.metricsUrl, { job: "traefik" });
    const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: GATEWAY.namespace } };
    const docs = [
      ns,
      ...gatewayManifests({ namespace: GATEWAY.namespace, gateway: GATEWAY.name, port: traefik.webPort }),
    ];
    const applied = await cluster.kubectl(["apply", "-f", "-"], {
      input: docs.map((d) => JSON.stringify(d)).join("\n---\n"),
    });
    if (applied.code !== 0) throw new Error(`kubectl apply (Gateway) failed: ${applied.stderr}`);
    const c = cluster;
    await waitFor(
      async () => {
        const r = await c.kubectl(["get", "gateway", GATEWAY.name, "-n", GATEWAY.namespace, "-o", "json"]);
        const g = JSON.parse(r.stdout || "{}") as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return g.status?.conditions?.some((x) => x.type === "Programmed" && x.status === "True");
      },
      { what: "Gateway programmed by Traefik", timeoutMs: 60_000, intervalMs: 250 },
    );
    return { cluster, runner, traefik, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The controller for a real-proxy environment, reading Traefik's metrics. The shared Gateway is in another namespace:
 * the operator allows it, and the test hostnames, to every namespace (docs/multi-tenancy.md); the Gateway's own
 * allowedRoutes and listeners still decide.
 */
export function startProxyController(cluster: Cluster): Promise<ControllerProcess> {
  return startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    args: [
      ...prometheusArgs(cluster.prometheusUrl, "traefik"),
      `--allowed-gateways=${GATEWAY.namespace}/${GATEWAY.name}`,
      "--allowed-hosts=*.example.test",
    ],
  });
}
