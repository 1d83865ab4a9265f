// Public e2e harness: startCluster() gives each test file a real control plane, kwok nodes, CRDs and Prometheus.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  applyControllerRbac,
  createFakeNodes,
  waitForReadyNode,
  writeControllerKubeconfig,
} from "./bootstrap.ts";
import { registerCleanup, startReaper } from "./cleanup.ts";
import { assertRunning, type ControlPlane, startControlPlane, withLogTail } from "./controlplane.ts";
import { type Istiod, type IstiodOptions, startIstiod } from "./istiod.ts";
import { caOf, loadKubeconfig } from "./kubeconfig.ts";
import { applyKwokDeleteFence } from "./kwok-fence.ts";
import { installCrdObjects, installCrds } from "./manifests.ts";
import {
  type Binaries,
  BUILD_SCRIPT,
  EPHEMERAL_PREFIX,
  isExecutable,
  missingBinaries,
  REPO_ROOT,
  resolveBinaries,
  stateRoot,
} from "./paths.ts";
import {
  type ManagedProcess,
  processStartTime,
  readPidfiles,
  stopInOrder,
  stopProcessGroup,
} from "./process.ts";
import { type Prometheus, startPrometheus } from "./prometheus.ts";
import { upstreamCrds } from "./upstream-crds.ts";
import { PhaseTimer } from "./wait.ts";

/** Options for {@link startCluster}; every field is optional. */
export interface StartClusterOptions {
  /** Start a Prometheus scraping {@link Cluster.addScrapeTarget} targets (default true). */
  prometheus?: boolean;
  /** Overall start-up deadline in ms (default 90 000). */
  timeoutMs?: number;
  /** Number of fake kwok nodes (default 3). */
  nodes?: number;
  /** Use this dir instead of a fresh `/dev/shm/vireo-e2e-*` one (cluster:up uses a fixed dir). */
  dir?: string;
  /**
   * Keep the cluster running after this process exits (no exit hooks, no watchdog); stop it later with
   * `npm run cluster:down`. Default false.
   */
  persistent?: boolean;
  /** Stream component logs to stderr (default: VIREO_E2E_VERBOSE=1). */
  verbose?: boolean;
  /** Directories whose `*.yaml` CRDs are installed (default: repo `crds/` and `e2e/cluster/crds/`). */
  crdDirs?: string[];
  /**
   * Also install the upstream mesh CRDs (Gateway API, Istio, SMI) from the Go module cache, see
   * upstream-crds.ts (default true).
   */
  upstreamCrds?: boolean;
  /** Keep the cluster dir (logs, etcd data) after stop() for debugging (default: VIREO_E2E_KEEP=1). */
  keepDir?: boolean;
  /**
   * kwok's pod CIDR (default 10.244.0.0/16). A range routed locally (see e2e/dataplane/pod-cidr.ts) lets a pod
   * runner serve on each pod's IP, so a proxy can reach real endpoints.
   */
  podCidr?: string;
  /**
   * etcd's backend quota in bytes (default 1 GiB). Benchmarks that store gigabytes of objects raise it, and put
   * `dir` on disk rather than tmpfs.
   */
  etcdQuotaBytes?: number;
  /** Run API Priority and Fairness (with its default limits), for tests of how the controller takes 429s. */
  priorityAndFairness?: boolean;
  /** kube-controller-manager lists pod changes in EndpointSlices this much later (tests of a lagging controller). */
  endpointSliceBatchMs?: number;
  /** Audit policy text (default: metadata of the controller's writes; see components.ts). */
  auditPolicy?: string;
  /**
   * Start istiod beside the API server once the CRDs are installed (see istiod.ts); `true` for the defaults.
   * Throws naming build-istio.sh when it is not built.
   */
  istiod?: boolean | Pick<IstiodOptions, "gatewayApi" | "analysis">;
}

/** Result of {@link Cluster.kubectl}. */
export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A running e2e cluster. */
export interface Cluster {
  /** Admin (system:masters) kubeconfig. */
  kubeconfigPath: string;
  /** Kubeconfig of ServiceAccount vireo-system/vireo: exactly the shipped RBAC, for running the controller. */
  controllerKubeconfigPath: string;
  apiServerUrl: string;
  /** The istiod started with the `istiod` option. */
  istiod: Istiod | undefined;
  /** Base URL of Prometheus, or undefined when started with `prometheus: false`. */
  prometheusUrl: string | undefined;
  /** Cluster state dir (logs/, pids/, pki/, etcd/, prometheus/). */
  dir: string;
  /** Directory of the Kubernetes binaries (kubectl etc.). */
  binDir: string;
  /** True when VIREO_KUBECONFIG pointed us at an existing cluster (no local control plane). */
  external: boolean;
  /** Start-up timing: total and per phase (phases may overlap). */
  startup: { totalMs: number; phases: { name: string; ms: number }[] };
  /** A fresh admin KubeConfig for @kubernetes/client-node. */
  kubeConfig(): KubeConfig;
  /** Runs the matching kubectl (1.36) with the admin kubeconfig; never rejects on a non-zero exit. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** Makes Prometheus scrape `url` (a full metrics URL) every second; resolves after the config reload. */
  addScrapeTarget(url: string, labels?: Record<string, string>): Promise<void>;
  /** Stops Prometheus (its data and targets are kept); throws when started with `prometheus: false`. */
  stopPrometheus(): Promise<void>;
  /** Starts Prometheus again on the same URL with the same targets and data; resolves once it is ready. */
  restartPrometheus(): Promise<void>;
  /** Installs (server-side applies) every CRD in `dir/*.yaml` and waits until Established. */
  installCrdsFrom(dir: string): Promise<string[]>;
  /** Stops kube-apiserver, keeps it down `downMs`, starts it again on the same port; throws for an external cluster. */
  restartApiServer(downMs: number): Promise<void>;
  /** Process-group leaders this cluster started (for RSS measurement and leak checks). */
  processes(): { name: string; pid: number }[];
  /** Stops every process (SIGTERM, then SIGKILL after a grace period) and removes the dir. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_CRD_DIRS = [join(REPO_ROOT, "crds"), join(REPO_ROOT, "e2e", "cluster", "crds")];

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on random loopback ports, creates
 * fake nodes, installs CRDs and the controller's RBAC, and (by default) Prometheus. With VIREO_KUBECONFIG set, it
 * reuses that cluster instead of starting a control plane. On failure everything started so far is stopped and
 * the error carries the failing component's last log lines.
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  const remaining = (): number => Math.max(1000, deadline - Date.now());
  const verbose = opts.verbose ?? process.env.VIREO_E2E_VERBOSE === "1";
  const keepDir = opts.keepDir ?? process.env.VIREO_E2E_KEEP === "1";
  const withPrometheus = opts.prometheus ?? true;
  const externalKubeconfig = process.env.VIREO_KUBECONFIG || undefined;
  const bins = resolveBinaries();

  const missing = missingBinaries(bins, !externalKubeconfig, withPrometheus);
  if (missing.length > 0) {
    throw new Error(`missing binaries: ${missing.join(", ")}; run: bash ${BUILD_SCRIPT}`);
  }

  const dir = prepareDir(opts.dir);
  const timer = new PhaseTimer();
  const processes: ManagedProcess[] = [];
  const onSpawn = (p: ManagedProcess): void => {
    // A restarted component (Prometheus) replaces its exited predecessor, so stop() never signals a stale pid.
    const i = processes.findIndex((q) => q.name === p.name && q.hasExited());
    if (i >= 0) processes[i] = p;
    else processes.push(p);
  };
  let unregister = (): void => {};
  let reaperPid: number | undefined;
  if (!opts.persistent) {
    unregister = registerCleanup({ dir, pids: () => processes.map((p) => p.pid), removeDir: !keepDir });
    writeFileSync(join(dir, "owner.pid"), `${process.pid} ${processStartTime(process.pid) ?? ""}\n`);
    reaperPid = startReaper(dir, keepDir);
  }

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (reaperPid !== undefined) await stopProcessGroup(reaperPid, 1000);
    await stopInOrder(processes, 5000);
    unregister();
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const promPromise = withPrometheus
      ? timer.time("prometheus", () =>
          startPrometheus(bins.prometheus, dir, { verbose, timeoutMs: remaining(), onSpawn }),
        )
      : Promise.resolve(undefined);
    // Do not leave the promise unobserved if the control plane fails first.
    promPromise.catch(() => {});

    let cp: ControlPlane | undefined;
    let adminKubeconfig: string;
    if (externalKubeconfig) {
      adminKubeconfig = externalKubeconfig;
    } else {
      cp = await startControlPlane({
        bins,
        dir,
        timer,
        deadline,
        verbose,
        onSpawn,
        podCidr: opts.podCidr,
        ...(opts.etcdQuotaBytes ? { etcdQuotaBytes: opts.etcdQuotaBytes } : {}),
        ...(opts.priorityAndFairness ? { priorityAndFairness: true } : {}),
        ...(opts.endpointSliceBatchMs ? { endpointSliceBatchMs: opts.endpointSliceBatchMs } : {}),
        ...(opts.auditPolicy ? { auditPolicy: opts.auditPolicy } : {}),
      });
      adminKubeconfig = cp.adminKubeconfig;
    }
    const kc = loadKubeconfig(adminKubeconfig);
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error(`${adminKubeconfig} has no current cluster`);
    const abortIfDead = (): void => {
      for (const p of processes) assertRunning(p);
    };

    const controllerKubeconfigPath = join(dir, "controller.kubeconfig");
    const crdDirs = opts.crdDirs ?? DEFAULT_CRD_DIRS;
    await Promise.all([
      cp
        ? timer.time("nodes", async () => {
            await Promise.all([createFakeNodes(kc, opts.nodes ?? 3), applyKwokDeleteFence(kc)]);
            const ready = waitForReadyNode(kc, remaining(), abortIfDead);
            const kwok = processes.find((p) => p.name === "kwok");
            await (kwok ? withLogTail(kwok, ready) : ready);
          })
        : undefined,
      timer.time("crds", async () => {
        const upstream =
          opts.upstreamCrds === false
            ? []
            : upstreamCrds({ allIstio: Boolean(opts.istiod) }).map((u) => u.crd);
        await Promise.all([
          installCrdObjects(kc, upstream, remaining()),
          ...crdDirs.map((d) => installCrds(kc, d, remaining())),
        ]);
      }),
      timer.time("controller-identity", async () => {
        await applyControllerRbac(kc);
        await writeControllerKubeconfig(kc, controllerKubeconfigPath, server, caOf(kc));
      }),
    ]);
    const prom: Prometheus | undefined = await promPromise;
    const istiod = opts.istiod
      ? await timer.time("istiod", () =>
          startIstiod({
            ...(typeof opts.istiod === "object" ? opts.istiod : {}),
            kubeconfigPath: adminKubeconfig,
            kc,
            dir,
            verbose,
            onSpawn,
          }),
        )
      : undefined;

    const kubectlBin = isExecutable(bins.kubectl) ? bins.kubectl : "kubectl";
    const cluster: Cluster = {
      kubeconfigPath: adminKubeconfig,
      controllerKubeconfigPath,
      istiod,
      apiServerUrl: server,
      prometheusUrl: prom?.url,
      dir,
      binDir: dirname(bins.kubectl),
      external: Boolean(externalKubeconfig),
      startup: { totalMs: timer.elapsedMs(), phases: timer.phases },
      kubeConfig: () => loadKubeconfig(adminKubeconfig),
      kubectl: (args, o) => runKubectl(kubectlBin, adminKubeconfig, args, o),
      addScrapeTarget: async (url, labels) => {
        if (!prom) throw new Error("cluster was started with prometheus: false");
        await prom.addScrapeTarget(url, labels);
      },
      stopPrometheus: async () => {
        if (!prom) throw new Error("cluster was started with prometheus: false");
        await prom.stop();
      },
      restartPrometheus: async () => {
        if (!prom) throw new Error("cluster was started with prometheus: false");
        await prom.restart();
      },
      installCrdsFrom: (d) => installCrds(loadKubeconfig(adminKubeconfig), d, 30_000),
      restartApiServer: async (downMs) => {
        if (!cp) throw new Error("cannot restart the API server of an external cluster");
        await cp.restartApiServer(downMs);
      },
      processes: () => processes.map((p) => ({ name: p.name, pid: p.pid })),
      stop,
    };
    writeFileSync(join(dir, "state.json"), JSON.stringify(describe(cluster, bins), null, 2));
    console.error(`[vireo-e2e] cluster ready in ${dir}: ${timer.summary()}`);
    return cluster;
  } catch (err) {
    await stop();
    if (err instanceof Error && !keepDir)
      err.message += "\n(the cluster dir was removed; set VIREO_E2E_KEEP=1 to keep its logs)";
    throw err;
  }
}

/** Re-exported so tests can install extra CRDs into any cluster given its admin kubeconfig. */
export async function installCrdsFrom(dir: string, kubeconfig: string | KubeConfig): Promise<string[]> {
  const kc = typeof kubeconfig === "string" ? loadKubeconfig(kubeconfig) : kubeconfig;
  return installCrds(kc, dir);
}

/** Creates the cluster dir, refusing to reuse one whose processes still run. */
function prepareDir(requested: string | undefined): string {
  if (!requested) return mkdtempSync(join(stateRoot(), EPHEMERAL_PREFIX));
  if (existsSync(requested)) {
    const live = readPidfiles(requested);
    if (live.length > 0) {
      throw new Error(
        `${requested} already has running processes (${live.map((r) => r.name).join(", ")}); run npm run cluster:down`,
      );
    }
    rmSync(requested, { recursive: true, force: true });
  }
  mkdirSync(requested, { recursive: true, mode: 0o700 });
  return requested;
}

/** JSON summary written to `<dir>/state.json` for cluster:up, cluster:down and measure. */
function describe(c: Cluster, bins: Binaries): Record<string, unknown> {
  return {
    kubeconfigPath: c.kubeconfigPath,
    controllerKubeconfigPath: c.controllerKubeconfigPath,
    apiServerUrl: c.apiServerUrl,
    prometheusUrl: c.prometheusUrl,
    binDir: c.binDir,
    kubectl: bins.kubectl,
    external: c.external,
    startup: c.startup,
    processes: c.processes(),
  };
}

function runKubectl(
  bin: string,
  kubeconfig: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [`--kubeconfig=${kubeconfig}`, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: opts.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (signal ? `\nkubectl killed by ${signal}` : ""),
        code: code ?? 1,
      }),
    );
    // kubectl may exit before it reads its stdin (a `get` never does): the EPIPE that follows is no failure of its
    // own, and its exit code and stderr say what happened.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Reads `<dir>/state.json` written by a started cluster (undefined if absent). */
export function readClusterState(dir: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
