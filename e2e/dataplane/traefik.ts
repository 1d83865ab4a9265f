// Runs Traefik (built by e2e/cluster/build-traefik.sh) as a local process: the cluster's Gateway API data plane.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../cluster/paths.ts";
import { freePorts } from "../cluster/ports.ts";
import { type ManagedProcess, startProcess, stopProcessGroup } from "../cluster/process.ts";
import { waitForHttpOk } from "../cluster/wait.ts";

/** Traefik release built by e2e/cluster/build-traefik.sh (its Gateway API provider implements v1.4). */
export const TRAEFIK_VERSION = "v3.6.12";
/** The controllerName Traefik's kubernetesGateway provider claims GatewayClasses by. */
export const TRAEFIK_CONTROLLER_NAME = "traefik.io/gateway-controller";
/** Traefik's provider-name suffix of every router and service its Gateway provider builds. */
export const TRAEFIK_GATEWAY_PROVIDER = "kubernetesgateway";

/** The cached binary; throws naming the build script when it is missing. */
export function traefikBinary(): string {
  const bin = join(cacheDir(), `traefik-${TRAEFIK_VERSION}`, "traefik");
  if (!existsSync(bin)) throw new Error(`missing ${bin}; run: bash e2e/cluster/build-traefik.sh`);
  return bin;
}

/** Options of {@link startTraefik}. */
export interface TraefikOptions {
  /** Admin kubeconfig: the provider watches Gateways, routes, Services and EndpointSlices and writes route status. */
  kubeconfigPath: string;
  /** Cluster dir: Traefik's log and pidfile go under it, so the cluster's reaper also stops it. */
  dir: string;
  /** Stream Traefik's log to stderr. */
  verbose?: boolean;
}

/** A running Traefik. */
export interface Traefik {
  /** Port of the `web` entry point on 127.0.0.1; a Gateway listener on this port is served by it. */
  webPort: number;
  /** Base URL of the web entry point. */
  webUrl: string;
  /** Full URL of Traefik's Prometheus metrics (a separate entry point). */
  metricsUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts Traefik with the kubernetesGateway provider, one HTTP entry point and a metrics entry point, both on free
 * loopback ports, and waits for its ping endpoint. The provider throttle stays at Traefik's default (2 s), so the
 * measured delay between a route write and the traffic change is what users of a default install get.
 */
export async function startTraefik(o: TraefikOptions): Promise<Traefik> {
  const [webPort, metricsPort] = (await freePorts(2)) as [number, number];
  const args = [
    `--entryPoints.web.address=127.0.0.1:${webPort}`,
    `--entryPoints.metrics.address=127.0.0.1:${metricsPort}`,
    "--providers.kubernetesGateway=true",
    // Gateways report a loopback address in status (no LoadBalancer Service here).
    "--providers.kubernetesGateway.statusAddress.ip=127.0.0.1",
    "--metrics.prometheus=true",
    "--metrics.prometheus.entryPoint=metrics",
    "--metrics.prometheus.addServicesLabels=true",
    "--metrics.prometheus.addRoutersLabels=true",
    "--ping=true",
    "--ping.entryPoint=metrics",
    "--global.checkNewVersion=false",
    "--global.sendAnonymousUsage=false",
    "--log.level=INFO",
  ];
  const process_ = startProcess("traefik", traefikBinary(), args, {
    dir: o.dir,
    stream: o.verbose ?? false,
    // KUBECONFIG makes Traefik's Kubernetes client use that file (cluster-external mode).
    env: { PATH: process.env.PATH ?? "", HOME: o.dir, KUBECONFIG: o.kubeconfigPath },
  });
  const stop = async () => {
    await stopProcessGroup(process_.pid, 5000);
    await process_.exited;
  };
  try {
    await waitForHttpOk(`http://127.0.0.1:${metricsPort}/ping`, {
      what: "traefik /ping",
      timeoutMs: 30_000,
      abortIf: () => {
        if (process_.hasExited()) throw new Error(`traefik exited during start-up; see ${process_.logFile}`);
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    webPort,
    webUrl: `http://127.0.0.1:${webPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    process: process_,
    stop,
  };
}

/** GatewayClass `traefik` and a Gateway whose HTTP listener `web` is Traefik's web entry point. */
export function gatewayManifests(o: {
  namespace: string;
  gateway: string;
  port: number;
  hostname?: string;
}): object[] {
  return [
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: "traefik" },
      spec: { controllerName: TRAEFIK_CONTROLLER_NAME },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: o.gateway, namespace: o.namespace },
      spec: {
        gatewayClassName: "traefik",
        listeners: [
          {
            name: "web",
            protocol: "HTTP",
            port: o.port,
            ...(o.hostname ? { hostname: o.hostname } : {}),
            allowedRoutes: { namespaces: { from: "All" } },
          },
        ],
      },
    },
  ];
}
