// Starts the local control plane (etcd → kube-apiserver → KCM, scheduler, kwok) and waits until it serves.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatePki } from "./certs.ts";
import {
  AUDIT_POLICY,
  apiserverArgs,
  controllerManagerArgs,
  etcdArgs,
  KWOK_USER,
  kwokArgs,
  type Layout,
  schedulerArgs,
} from "./components.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import type { Binaries } from "./paths.ts";
import { freePorts } from "./ports.ts";
import { type ManagedProcess, startProcess, stopProcessGroup, tailFile } from "./process.ts";
import { httpGet, type PhaseTimer, waitFor, waitForHttpOk } from "./wait.ts";

/** A running local control plane. */
export interface ControlPlane {
  apiServerUrl: string;
  adminKubeconfig: string;
  caCert: string;
  processes: ManagedProcess[];
  /**
   * Stops kube-apiserver (SIGTERM), keeps it down for `downMs`, starts it again on the same port with the same
   * flags and data, and resolves once it is ready: an API server restart as clients see it.
   */
  restartApiServer(downMs: number): Promise<void>;
}

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  bins: Binaries;
  dir: string;
  timer: PhaseTimer;
  /** Absolute deadline (epoch ms) for the whole start-up. */
  deadline: number;
  verbose: boolean;
  /** Called for each process as soon as it is spawned, so teardown knows it even if start-up fails. */
  onSpawn: (p: ManagedProcess) => void;
  /** kwok's pod CIDR (default components.ts POD_CIDR). */
  podCidr?: string;
  /** etcd's backend quota (default 1 GiB). */
  etcdQuotaBytes?: number;
  /** API Priority and Fairness on, with its default limits. */
  priorityAndFairness?: boolean;
  /** Delay the EndpointSlice controller batches pod changes by (`--endpointslice-updates-batch-period`; default 0). */
  endpointSliceBatchMs?: number;
  /** Audit policy text (default: the controller's writes only). */
  auditPolicy?: string;
}

/**
 * Brings up etcd and kube-apiserver (waiting for /readyz), then starts kube-controller-manager, kube-scheduler
 * and kwok without waiting for them: callers wait for their effects (e.g. a Ready node) instead.
 */
export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const { bins, dir, timer } = o;
  const [etcdClientPort, etcdPeerPort, apiPort, kwokServerPort] = await freePorts(4);
  const pkiDir = join(dir, "pki");
  const l: Layout = {
    dir,
    etcdDataDir: join(dir, "etcd"),
    etcdClientPort: etcdClientPort!,
    etcdPeerPort: etcdPeerPort!,
    apiPort: apiPort!,
    caCert: join(pkiDir, "ca.crt"),
    caKey: join(pkiDir, "ca.key"),
    servingCert: join(pkiDir, "apiserver.crt"),
    servingKey: join(pkiDir, "apiserver.key"),
    saKey: join(pkiDir, "sa.key"),
    saPub: join(pkiDir, "sa.pub"),
    kcmKubeconfig: join(dir, "kube-controller-manager.kubeconfig"),
    schedulerKubeconfig: join(dir, "kube-scheduler.kubeconfig"),
    kwokKubeconfig: join(dir, "kwok.kubeconfig"),
    kwokServerPort: kwokServerPort!,
    ...(o.podCidr ? { podCidr: o.podCidr } : {}),
    ...(o.etcdQuotaBytes ? { etcdQuotaBytes: o.etcdQuotaBytes } : {}),
    ...(o.priorityAndFairness ? { priorityAndFairness: true } : {}),
    ...(o.endpointSliceBatchMs ? { endpointSliceBatchMs: o.endpointSliceBatchMs } : {}),
  };
  mkdirSync(l.etcdDataDir, { recursive: true, mode: 0o700 });
  const spawn = (name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess => {
    const p = startProcess(name, bin, args, { dir, stream: o.verbose, ...(env ? { env } : {}) });
    o.onSpawn(p);
    return p;
  };
  const remaining = (): number => Math.max(1000, o.deadline - Date.now());

  // etcd needs no certificates, so it boots while openssl works.
  const etcd = spawn("etcd", bins.etcd, etcdArgs(l));
  const pkiPromise = timer.time("pki", () =>
    generatePki(bins.openssl, pkiDir, [
      { name: "admin", user: "vireo-e2e-admin", groups: ["system:masters"] },
      // Bootstrap RBAC already binds these users; KCM then acts through per-controller service accounts.
      { name: "kube-controller-manager", user: "system:kube-controller-manager", groups: [] },
      { name: "kube-scheduler", user: "system:kube-scheduler", groups: [] },
      // kwok writes status for every node and pod; system:masters keeps it out of RBAC's way.
      { name: "kwok", user: KWOK_USER, groups: ["system:masters"] },
    ]),
  );
  await timer.time("etcd", () =>
    withLogTail(
      etcd,
      waitForHttpOk(`http://127.0.0.1:${l.etcdClientPort}/health`, {
        what: "etcd /health",
        timeoutMs: remaining(),
        abortIf: () => assertRunning(etcd),
      }),
    ),
  );
  const pki = await pkiPromise;

  const server = `https://127.0.0.1:${l.apiPort}`;
  const adminKubeconfig = join(dir, "admin.kubeconfig");
  const kc = (path: string, name: string): void =>
    writeKubeconfig(path, {
      server,
      ca: { file: pki.ca.cert },
      user: name,
      credentials: { certFile: pki.clients[name]!.cert, keyFile: pki.clients[name]!.key },
    });
  kc(adminKubeconfig, "admin");
  kc(l.kcmKubeconfig, "kube-controller-manager");
  kc(l.schedulerKubeconfig, "kube-scheduler");
  kc(l.kwokKubeconfig, "kwok");

  // A benchmark may audit more users (VIREO_E2E_AUDIT_POLICY: the policy text); tests rely on the default.
  writeFileSync(
    join(dir, "audit-policy.yaml"),
    o.auditPolicy ?? process.env.VIREO_E2E_AUDIT_POLICY ?? AUDIT_POLICY,
  );
  let apiserver = spawn("kube-apiserver", bins.kubeApiserver, apiserverArgs(l));
  const ca = readFileSync(pki.ca.cert);
  const apiserverReady = (timeoutMs: number) =>
    withLogTail(
      apiserver,
      waitFor(
        async () => {
          const res = await httpGet(`${server}/readyz`, { ca, timeoutMs: 2000 });
          return res.status === 200 && res.body.trim() === "ok";
        },
        {
          what: "kube-apiserver /readyz",
          timeoutMs,
          intervalMs: 100,
          abortIf: () => {
            assertRunning(etcd);
            assertRunning(apiserver);
          },
        },
      ),
    );
  await timer.time("kube-apiserver", () => apiserverReady(remaining()));

  const controllers = [
    spawn("kube-controller-manager", bins.kubeControllerManager, controllerManagerArgs(l)),
    spawn("kube-scheduler", bins.kubeScheduler, schedulerArgs(l)),
    // HOME=dir: kwok silently loads ~/.kwok/kwok.yaml when present; a developer's config must not leak in.
    spawn("kwok", bins.kwok, kwokArgs(l), { ...process.env, HOME: dir }),
  ];
  return {
    apiServerUrl: server,
    adminKubeconfig,
    caCert: pki.ca.cert,
    processes: [etcd, apiserver, ...controllers],
    restartApiServer: async (downMs) => {
      await stopProcessGroup(apiserver.pid, 5000);
      await new Promise((r) => setTimeout(r, downMs));
      apiserver = spawn("kube-apiserver", bins.kubeApiserver, apiserverArgs(l));
      await apiserverReady(60_000);
    },
  };
}

/** Appends the component's log tail to a start-up timeout, where the reason is usually in its log. */
export async function withLogTail<T>(p: ManagedProcess, wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    if (err instanceof Error && !err.message.includes("last log lines")) {
      err.message += `\nlast log lines of ${p.name} (${p.logFile}):\n${tailFile(p.logFile, 40)}`;
    }
    throw err;
  }
}

/** Throws with the component's log tail if it has exited; used to fail fast instead of timing out. */
export function assertRunning(p: ManagedProcess): void {
  if (p.hasExited()) {
    throw new Error(
      `${p.name} exited during start-up; last log lines (${p.logFile}):\n${tailFile(p.logFile, 40)}`,
    );
  }
}
