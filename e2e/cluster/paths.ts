// Where the e2e control plane's binaries, caches and state live; the single place that knows the pinned versions.
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Kubernetes release built from e2e/cluster/kubebin (must match its go.mod). */
export const K8S_VERSION = "v1.36.3";
/** kwok release installed with `go install`; v0.8.0 is the newest that builds with Go 1.26. */
export const KWOK_VERSION = "v0.8.0";

/** Repository root (two levels above this file). */
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");
/** The build script that produces every binary below (build.sh runs it too, and builds the test-only tools). */
export const BUILD_SCRIPT = join(REPO_ROOT, "e2e", "cluster", "build-control-plane.sh");

/** Per-user cache for built binaries; overridable so CI can point it at a persisted volume. */
export function cacheDir(): string {
  return process.env.VIREO_CACHE ?? join(homedir(), ".cache", "vireo");
}

/**
 * RAM-backed root for cluster state: etcd and Prometheus fsync a lot, and tmpfs makes that free.
 * Falls back to the OS temp dir where /dev/shm does not exist.
 */
export function stateRoot(): string {
  return isWritableDir("/dev/shm") ? "/dev/shm" : (process.env.TMPDIR ?? "/tmp");
}

/** Fixed directory of the long-lived cluster started by `npm run cluster:up`. */
export function persistentClusterDir(): string {
  return join(stateRoot(), "vireo-cluster");
}

/** Name prefix of per-test-file cluster dirs, so `cluster:down` can find leftovers. */
export const EPHEMERAL_PREFIX = "vireo-e2e-";

/** Absolute paths of every executable the control plane runs. */
export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  kwok: string;
  prometheus: string;
  openssl: string;
}

/**
 * Resolves binaries: KUBEBUILDER_ASSETS (envtest convention) wins for the Kubernetes ones, then the build
 * cache. etcd comes from KUBEBUILDER_ASSETS, then a cache-built etcd, then Debian's /usr/bin/etcd.
 */
export function resolveBinaries(): Binaries {
  const cache = cacheDir();
  const kubeDir = process.env.KUBEBUILDER_ASSETS || join(cache, `kubebin-${K8S_VERSION}`);
  const etcdCandidates = [
    process.env.KUBEBUILDER_ASSETS ? join(process.env.KUBEBUILDER_ASSETS, "etcd") : "",
    join(cache, "etcd-v3.6.16", "etcd"),
    "/usr/bin/etcd",
  ].filter(Boolean);
  return {
    etcd: etcdCandidates.find(isExecutable) ?? "/usr/bin/etcd",
    kubeApiserver: join(kubeDir, "kube-apiserver"),
    kubeControllerManager: join(kubeDir, "kube-controller-manager"),
    kubeScheduler: join(kubeDir, "kube-scheduler"),
    kubectl: join(kubeDir, "kubectl"),
    kwok: join(cache, `kwok-${KWOK_VERSION}`, "kwok"),
    prometheus: "/usr/bin/prometheus",
    openssl: "/usr/bin/openssl",
  };
}

/** Names of required binaries that are missing or not executable (empty when the machine is ready). */
export function missingBinaries(
  bins: Binaries,
  needControlPlane: boolean,
  needPrometheus: boolean,
): string[] {
  const required: (keyof Binaries)[] = ["openssl"];
  if (needControlPlane)
    required.push("etcd", "kubeApiserver", "kubeControllerManager", "kubeScheduler", "kubectl", "kwok");
  if (needPrometheus) required.push("prometheus");
  return required.filter((k) => !isExecutable(bins[k])).map((k) => bins[k]);
}

/** True when `path` exists and is executable by us. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isWritableDir(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
