// Flagger for the side-by-side benchmark: built from the Go module proxy, installed (CRDs, RBAC, a ServiceAccount
// kubeconfig) into the bench cluster, run as a process, and its Canaries created and tracked.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Cluster } from "../../e2e/cluster/cluster.ts";
import { caOf, writeKubeconfig } from "../../e2e/cluster/kubeconfig.ts";
import { freePort } from "../../e2e/cluster/ports.ts";
import type { KubeClients } from "../../src/kube/clients.ts";
import { isAlreadyExists } from "../../src/kube/errors.ts";
import { DETECTION_WEIGHTS } from "../detection/settings.ts";
import { type AppRef, forEachLimit } from "../scale/fixtures.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** The Flagger release compared against (the newest that builds with the pinned Go toolchain here). */
export const FLAGGER_VERSION = process.env.FLAGGER_VERSION ?? "v1.44.0";
/** Flagger's ServiceAccount in the bench cluster (its user in the audit log). */
export const FLAGGER_USER = "system:serviceaccount:flagger-system:flagger";

/** Builds (or finds cached) Flagger; returns the directory with `flagger` and `crd.yaml`. */
export async function buildFlagger(log: (l: string) => void): Promise<string> {
  const t = Date.now();
  const { stdout } = await promisify(execFile)("bash", [join(ROOT, "e2e/cluster/build-flagger.sh")], {
    env: { ...process.env, FLAGGER_VERSION },
    maxBuffer: 16 * 1024 * 1024,
  });
  const dir = stdout.trim().split("\n").at(-1) ?? "";
  log(`flagger ${FLAGGER_VERSION} ready in ${((Date.now() - t) / 1000).toFixed(0)} s (${dir})`);
  return dir;
}

/**
 * Installs Flagger's CRDs (server-side apply: the file is too large for a client-side last-applied annotation),
 * its ServiceAccount with the ClusterRole from the module's artifacts/flagger/account.yaml, and writes a kubeconfig
 * with a token of that ServiceAccount. Returns the kubeconfig path.
 */
export async function installFlagger(cluster: Cluster, dir: string): Promise<string> {
  const crd = await cluster.kubectl(["apply", "--server-side", "-f", join(dir, "crd.yaml")], {
    timeoutMs: 120_000,
  });
  if (crd.code !== 0) throw new Error(`flagger CRDs: ${crd.stderr}`);
  const account = readFileSync(join(dir, "account.yaml"), "utf8").replaceAll(
    "namespace: default",
    "namespace: flagger-system",
  );
  const ns = await cluster.kubectl(["create", "namespace", "flagger-system"]);
  if (ns.code !== 0 && !ns.stderr.includes("AlreadyExists")) throw new Error(ns.stderr);
  const rbac = await cluster.kubectl(["apply", "-f", "-"], { input: account });
  if (rbac.code !== 0) throw new Error(`flagger RBAC: ${rbac.stderr}`);
  const est = await cluster.kubectl([
    "wait",
    "--for=condition=Established",
    "crd/canaries.flagger.app",
    "--timeout=60s",
  ]);
  if (est.code !== 0) throw new Error(`flagger CRDs not Established: ${est.stderr}`);
  const token = await cluster.kubectl([
    "create",
    "token",
    "flagger",
    "-n",
    "flagger-system",
    "--duration=24h",
  ]);
  if (token.code !== 0) throw new Error(`flagger token: ${token.stderr}`);
  const path = join(cluster.dir, "flagger.kubeconfig");
  writeKubeconfig(path, {
    server: cluster.apiServerUrl,
    ca: caOf(cluster.kubeConfig()),
    user: "flagger",
    credentials: { token: token.stdout.trim() },
  });
  return path;
}

/** A running Flagger. */
export interface FlaggerProcess {
  pid: number;
  logPath: string;
  exited(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts Flagger with the Linkerd provider (SMI TrafficSplit v1alpha1), the same client QPS as Vireo, and
 * `metricsServer` as its Prometheus (without one, analysis metrics must not be configured: nothing answers there).
 */
export async function startFlagger(o: {
  dir: string;
  kubeconfig: string;
  logDir: string;
  qps: number;
  burst: number;
  metricsServer?: string;
  logName?: string;
}): Promise<FlaggerProcess> {
  const port = await freePort();
  const logPath = join(o.logDir, o.logName ?? "flagger.log");
  const log = createWriteStream(logPath);
  const child: ChildProcess = spawn(
    join(o.dir, "flagger"),
    [
      `-kubeconfig=${o.kubeconfig}`,
      "-mesh-provider=linkerd",
      `-metrics-server=${o.metricsServer ?? "http://127.0.0.1:9"}`,
      "-log-level=info",
      `-port=${port}`,
      `-kubeconfig-qps=${o.qps}`,
      `-kubeconfig-burst=${o.burst}`,
      "-enable-config-tracking=false",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once("exit", () => {
      exited = true;
      r();
    }),
  );
  if (child.pid === undefined) throw new Error("flagger did not start");
  return {
    pid: child.pid,
    logPath,
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exit;
      clearTimeout(t);
    },
  };
}

/** The analysis equal to the throughput bench's Rollout: one stage per interval, no metrics. */
export function throughputAnalysis(interval: string, weights: readonly number[]): Record<string, unknown> {
  return { interval, threshold: 1, stepWeights: [...weights], metrics: [] };
}

/**
 * The analysis equal to Vireo's detection run: the builtin Linkerd request-success-rate ≥ 99 % over `window`
 * every `interval`, rolled back after the first failed check, through the same {@link DETECTION_WEIGHTS}.
 */
export function detectionAnalysis(interval: string, window: string): Record<string, unknown> {
  return {
    interval,
    threshold: 1,
    stepWeights: [...DETECTION_WEIGHTS],
    metrics: [{ name: "request-success-rate", thresholdRange: { min: 99 }, interval: window }],
  };
}

/** A Canary for one app with the Linkerd provider (SMI TrafficSplit). */
function canary(app: AppRef, analysis: Record<string, unknown>): unknown {
  return {
    apiVersion: "flagger.app/v1beta1",
    kind: "Canary",
    metadata: { name: app.name, namespace: app.namespace },
    spec: {
      provider: "linkerd",
      targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: app.name },
      progressDeadlineSeconds: 3600,
      service: { port: 80, targetPort: 9898 },
      analysis,
    },
  };
}

/** Creates a Canary for each app (the Deployments are created by the caller). */
export async function createCanaries(
  clients: KubeClients,
  apps: readonly AppRef[],
  analysis: Record<string, unknown>,
): Promise<void> {
  await forEachLimit(apps, 32, async (app) => {
    try {
      await clients.request({
        method: "POST",
        path: `/apis/flagger.app/v1beta1/namespaces/${encodeURIComponent(app.namespace)}/canaries`,
        body: canary(app, analysis),
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  });
}

/** A Canary's phase and the weight its status says the canary gets. */
export interface CanaryState {
  phase: string;
  canaryWeight: number;
}

/** Canary states by `namespace/name`, from one list. */
export async function canaryStates(clients: KubeClients): Promise<Map<string, CanaryState>> {
  const list = await clients.request<{
    items: {
      metadata: { namespace: string; name: string };
      status?: { phase?: string; canaryWeight?: number };
    }[];
  }>({ path: "/apis/flagger.app/v1beta1/canaries" });
  return new Map(
    list.items.map((c) => [
      `${c.metadata.namespace}/${c.metadata.name}`,
      { phase: c.status?.phase ?? "", canaryWeight: c.status?.canaryWeight ?? 0 },
    ]),
  );
}
