// Runs the kubectl-vireo plugin as a user would (bin/kubectl-vireo), and mints a read-only user's kubeconfig.
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import type { Cluster } from "../cluster/cluster.ts";
import { caOf, loadKubeconfig, writeKubeconfig } from "../cluster/kubeconfig.ts";

const PLUGIN = resolve(import.meta.dirname, "../../bin/kubectl-vireo");

/** Result of one plugin run. */
export interface PluginResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `kubectl-vireo ARGS` with `kubeconfig`; never rejects on a non-zero exit. */
export function runPlugin(
  kubeconfig: string,
  args: string[],
  opts: { input?: string } = {},
): Promise<PluginResult> {
  const started = performance.now();
  return new Promise((res, rej) => {
    const child = spawn(PLUGIN, [`--kubeconfig=${kubeconfig}`, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", rej);
    child.once("exit", (code) => res({ code, stdout, stderr, ms: performance.now() - started }));
    child.stdin.end(opts.input ?? "");
  });
}

/** A long-running plugin process (get --watch, dashboard) whose output is collected. */
export interface PluginProcess {
  output(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGINT, then waits for the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the plugin in the background. */
export function startPlugin(kubeconfig: string, args: string[]): PluginProcess {
  const child = spawn(PLUGIN, [`--kubeconfig=${kubeconfig}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  let exited = false;
  void exit.then(() => (exited = true));
  const kill = () => {
    if (!exited) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  return {
    output: () => stdout,
    stderr: () => stderr,
    async waitFor(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = stdout.match(re);
        if (m) return m;
        if (exited || Date.now() > deadline)
          throw new Error(
            `plugin output never matched ${re}; stdout: ${stdout.slice(-2000)} stderr: ${stderr}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (!exited) child.kill("SIGINT");
      const timer = setTimeout(kill, 10_000);
      const code = await exit;
      clearTimeout(timer);
      process.removeListener("exit", kill);
      return code;
    },
  };
}

/**
 * Creates ServiceAccount `name` in `namespace` bound to a ClusterRole that may only read Rollouts, their Events
 * and Deployments, and writes a kubeconfig for it: a user who can look but not steer.
 */
export async function readOnlyKubeconfig(cluster: Cluster, namespace: string, name: string): Promise<string> {
  const objects = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: `${namespace}-${name}` },
      rules: [
        { apiGroups: ["vireo.dev"], resources: ["rollouts"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["events"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: `${namespace}-${name}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${namespace}-${name}` },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
  return serviceAccountKubeconfig(cluster, namespace, name, objects);
}

/**
 * Applies `objects` (a ServiceAccount `namespace/name` and its RBAC) and writes a kubeconfig for that
 * ServiceAccount (a TokenRequest token, the cluster's CA), its namespace the context's default.
 */
export async function serviceAccountKubeconfig(
  cluster: Cluster,
  namespace: string,
  name: string,
  objects: object[],
): Promise<string> {
  const applied = await cluster.kubectl(["apply", "-f", "-"], {
    input: objects.map((o) => JSON.stringify(o)).join("\n---\n"),
  });
  if (applied.code !== 0) throw new Error(`creating ${name}: ${applied.stderr}`);
  const token = await cluster.kubectl(["create", "token", name, "-n", namespace, "--duration=24h"]);
  if (token.code !== 0) throw new Error(`token for ${name}: ${token.stderr}`);
  const path = join(cluster.dir, `${name}.kubeconfig`);
  writeKubeconfig(path, {
    server: cluster.apiServerUrl,
    ca: caOf(loadKubeconfig(cluster.kubeconfigPath)),
    user: name,
    credentials: { token: token.stdout.trim() },
    namespace,
  });
  return path;
}
