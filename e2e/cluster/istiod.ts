// Runs istiod (built by e2e/cluster/build-istio.sh) as a local process beside the e2e API server: Istio's real
// control plane, without certificates, CA or webhooks; its pushes are observed with xdsprobe (same build script).
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { KubeApiError, kubeRequest } from "./kube-request.ts";
import { cacheDir, REPO_ROOT } from "./paths.ts";
import { freePorts } from "./ports.ts";
import { type ManagedProcess, startProcess, stopProcessGroup } from "./process.ts";
import { waitForHttpOk } from "./wait.ts";

/** The istio.io/istio build-istio.sh pins (a 1.31-dev master snapshot: the only one the module proxy serves). */
export const ISTIO_VERSION = "v0.0.0-20260827124520-eed52ebb66ad";
/** The script that builds istiod and xdsprobe. */
export const ISTIO_BUILD_SCRIPT = join(REPO_ROOT, "e2e", "cluster", "build-istio.sh");
/** Namespace istiod runs in (its mesh root namespace). */
export const ISTIO_SYSTEM = "istio-system";
/**
 * Set to 1 where istiod cannot be built (no module proxy): the Istio tests then skip, naming the reason. Anywhere
 * else — CI among them — a missing binary fails them.
 */
export const ALLOW_MISSING_ENV = "VIREO_E2E_ALLOW_MISSING_ISTIOD";

const XDSBIN = join(REPO_ROOT, "e2e", "cluster", "xdsbin");

/** The cached istiod binary path, whether or not it exists. */
export function istiodPath(): string {
  return join(cacheDir(), `istiod-${ISTIO_VERSION}`, "pilot-discovery");
}

/** The cached xdsprobe path for the current sources (the same hash build-istio.sh computes). */
export function xdsprobePath(): string {
  const files = readdirSync(XDSBIN)
    .filter((f) => f.endsWith(".go"))
    .sort()
    .concat("go.mod", "go.sum");
  const hash = createHash("sha256");
  for (const f of files) hash.update(readFileSync(join(XDSBIN, f)));
  return join(cacheDir(), `xdsprobe-${hash.digest("hex").slice(0, 12)}`, "xdsprobe");
}

/**
 * Why the Istio tests cannot run, or undefined when both binaries are built. Callers skip with this reason only
 * when {@link ALLOW_MISSING_ENV} is set, and fail with it otherwise.
 */
export function istioMissing(): string | undefined {
  const missing = [istiodPath(), xdsprobePath()].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  return `missing ${missing.join(" and ")}; run: bash ${ISTIO_BUILD_SCRIPT}`;
}

/** Options of {@link startIstiod}. */
export interface IstiodOptions {
  /** Admin kubeconfig (istiod watches every Service, pod, EndpointSlice and Istio resource). */
  kubeconfigPath: string;
  kc: KubeConfig;
  /** Cluster dir: log, pidfile and mesh config go under it, so the cluster's reaper also stops istiod. */
  dir: string;
  /** Serve Gateway API routes (HTTPRoute with a Service parent, for ambient mode); default false. */
  gatewayApi?: boolean;
  /** Run Istio's analyzers in-process and write their messages to resources' status (1 s interval); default false. */
  analysis?: boolean;
  verbose?: boolean;
  onSpawn?: (p: ManagedProcess) => void;
}

/** A running istiod. */
export interface Istiod {
  /** Plaintext xDS (gRPC) address, host:port: what ADS clients and proxyless gRPC connect to. */
  xdsAddress: string;
  /** Base URL of its HTTP port (/ready, /debug/*). */
  httpUrl: string;
  /** Base URL of its monitoring port (/metrics). */
  monitoringUrl: string;
  process: ManagedProcess;
  /** GET `/debug/<what>` as JSON (syncz, configz, authorizationz, config_dump?proxyID=…). */
  debug<T>(what: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts istiod against the cluster: `istio-system` is created, then pilot-discovery runs with the environment a
 * local run needs (no CA, no injection, no validation webhook) and a 10 ms push debounce, and is ready once its
 * /ready answers (it has synced every informer).
 */
export async function startIstiod(o: IstiodOptions): Promise<Istiod> {
  const missing = istioMissing();
  if (missing) throw new Error(missing);
  await ensureNamespace(o.kc, ISTIO_SYSTEM);
  const [grpcPort, httpPort, monitoringPort] = (await freePorts(3)) as [number, number, number];
  const xdsAddress = `127.0.0.1:${grpcPort}`;
  const meshFile = join(o.dir, "istio-mesh.yaml");
  const networksFile = join(o.dir, "istio-mesh-networks.yaml");
  writeFileSync(
    meshFile,
    stringify({
      rootNamespace: ISTIO_SYSTEM,
      trustDomain: "cluster.local",
      // Clients get mTLS only where a DestinationRule asks (proxyless gRPC ignores auto mTLS anyway).
      enableAutoMtls: false,
      defaultConfig: { discoveryAddress: xdsAddress },
    }),
  );
  writeFileSync(networksFile, "{}\n");
  const args = [
    "discovery",
    "--kubeconfig",
    o.kubeconfigPath,
    "--meshConfig",
    meshFile,
    "--networksConfig",
    networksFile,
    "--registries",
    "Kubernetes",
    "--clusterID",
    "Kubernetes",
    "--domain",
    "cluster.local",
    "--grpcAddr",
    xdsAddress,
    "--secureGRPCAddr",
    "",
    "--httpsAddr",
    "",
    "--httpAddr",
    `127.0.0.1:${httpPort}`,
    "--monitoringAddr",
    `127.0.0.1:${monitoringPort}`,
    "--log_output_level",
    "default:info",
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "",
    HOME: o.dir,
    POD_NAMESPACE: ISTIO_SYSTEM,
    POD_NAME: "istiod-local",
    REVISION: "default",
    PILOT_CERT_PROVIDER: "none",
    ENABLE_CA_SERVER: "false",
    INJECT_ENABLED: "false",
    VALIDATION_WEBHOOK_CONFIG_NAME: "",
    PILOT_ENABLE_GATEWAY_API: String(o.gatewayApi ?? false),
    // Istio's default is 100 ms; 10 ms makes the measured write → push delay mostly istiod's own work.
    PILOT_DEBOUNCE_AFTER: "10ms",
    PILOT_DEBOUNCE_MAX: "1s",
    ...(o.analysis ? { PILOT_ENABLE_ANALYSIS: "true", PILOT_ANALYSIS_INTERVAL: "1s" } : {}),
  };
  const proc = startProcess("istiod", istiodPath(), args, { dir: o.dir, env, stream: o.verbose ?? false });
  o.onSpawn?.(proc);
  const stop = async () => {
    await stopProcessGroup(proc.pid, 5000);
    await proc.exited;
  };
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForHttpOk(`${httpUrl}/ready`, {
      what: "istiod /ready",
      timeoutMs: 60_000,
      intervalMs: 100,
      abortIf: () => {
        if (proc.hasExited()) throw new Error(`istiod exited during start-up; see ${proc.logFile}`);
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    xdsAddress,
    httpUrl,
    monitoringUrl: `http://127.0.0.1:${monitoringPort}`,
    process: proc,
    async debug<T>(what: string): Promise<T> {
      const res = await fetch(`${httpUrl}/debug/${what}`);
      if (!res.ok) throw new Error(`istiod /debug/${what}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    stop,
  };
}

async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kubeRequest(kc, "POST", "/api/v1/namespaces", { metadata: { name } });
  } catch (err) {
    if (!(err instanceof KubeApiError && err.status === 409)) throw err;
  }
}
