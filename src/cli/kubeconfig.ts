// Reads the user's kubeconfig (KUBECONFIG list, --kubeconfig, --context) into what one HTTPS client needs.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { CliError } from "./errors.ts";

/** The connection settings of one kubeconfig context. */
export interface Connection {
  contextName: string;
  server: string;
  /** Default namespace of the context ("default" when unset). */
  namespace: string;
  ca?: Buffer;
  insecure: boolean;
  cert?: Buffer;
  key?: Buffer;
  /** Returns the bearer token to send, if any (static, file-backed or from an exec credential plugin). */
  token?: () => string | undefined;
  /** Basic auth, for old clusters. */
  basic?: { username: string; password: string };
  /** TLS server name override (`tls-server-name`). */
  serverName?: string;
}

interface Named<T> {
  name: string;
  [key: string]: unknown;
  value: T;
}

interface RawConfig {
  "current-context"?: string;
  clusters?: { name: string; cluster?: Record<string, unknown> }[];
  users?: { name: string; user?: Record<string, unknown> }[];
  contexts?: { name: string; context?: Record<string, unknown> }[];
}

/** The kubeconfig files to read, in precedence order: --kubeconfig, then $KUBECONFIG, then ~/.kube/config. */
export function kubeconfigPaths(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (flag) return [flag];
  const list = (env.KUBECONFIG ?? "").split(":").filter(Boolean);
  return list.length > 0 ? list : [join(homedir(), ".kube", "config")];
}

/** Merges kubeconfig files the way kubectl does: the first file that defines a name or current-context wins. */
function merge(paths: string[]): {
  current?: string;
  clusters: Map<string, Named<Record<string, unknown>>>;
  users: Map<string, Named<Record<string, unknown>>>;
  contexts: Map<string, Record<string, unknown>>;
} {
  const clusters = new Map<string, Named<Record<string, unknown>>>();
  const users = new Map<string, Named<Record<string, unknown>>>();
  const contexts = new Map<string, Record<string, unknown>>();
  let current: string | undefined;
  let read = 0;
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    read++;
    const raw = (parse(text) ?? {}) as RawConfig;
    const base = dirname(path);
    current ??= raw["current-context"] || undefined;
    for (const c of raw.clusters ?? [])
      if (!clusters.has(c.name)) clusters.set(c.name, { name: c.name, base, value: c.cluster ?? {} });
    for (const u of raw.users ?? [])
      if (!users.has(u.name)) users.set(u.name, { name: u.name, base, value: u.user ?? {} });
    for (const c of raw.contexts ?? []) if (!contexts.has(c.name)) contexts.set(c.name, c.context ?? {});
  }
  if (read === 0) throw new CliError(`no kubeconfig found (looked at ${paths.join(", ")})`);
  return { current, clusters, users, contexts };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function fileOrData(
  entry: Named<Record<string, unknown>>,
  fileKey: string,
  dataKey: string,
): Buffer | undefined {
  const data = str(entry.value[dataKey]);
  if (data) return Buffer.from(data, "base64");
  const file = str(entry.value[fileKey]);
  if (!file) return undefined;
  return readFileSync(isAbsolute(file) ? file : join(String(entry.base), file));
}

interface ExecCredential {
  status?: { token?: string; clientCertificateData?: string; clientKeyData?: string };
}

/** Runs a client-go exec credential plugin once (e.g. a cloud login helper) and returns its credential. */
function runExec(exec: Record<string, unknown>): ExecCredential["status"] {
  const command = str(exec.command);
  if (!command) throw new CliError("kubeconfig user has an exec section without a command");
  const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
  const env = { ...process.env };
  for (const e of (exec.env as { name: string; value: string }[] | undefined) ?? []) env[e.name] = e.value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: str(exec.apiVersion) ?? "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    spec: { interactive: false },
  });
  try {
    const out = execFileSync(command, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    return (JSON.parse(out) as ExecCredential).status ?? {};
  } catch (err) {
    throw new CliError(`exec credential plugin ${command} failed: ${(err as Error).message}`);
  }
}

/** Loads the connection for `context` (or the current context) from the given kubeconfig files. */
export function loadConnection(paths: string[], context?: string): Connection {
  const cfg = merge(paths);
  const contextName = context ?? cfg.current;
  if (!contextName) throw new CliError("kubeconfig has no current-context; pass --context");
  const ctx = cfg.contexts.get(contextName);
  if (!ctx) throw new CliError(`context "${contextName}" not found in kubeconfig`);
  const cluster = cfg.clusters.get(String(ctx.cluster ?? ""));
  if (!cluster) throw new CliError(`cluster "${String(ctx.cluster)}" of context "${contextName}" not found`);
  const server = str(cluster.value.server);
  if (!server) throw new CliError(`cluster "${cluster.name}" has no server`);
  const user = cfg.users.get(String(ctx.user ?? "")) ?? { name: "", base: "", value: {} };

  const conn: Connection = {
    contextName,
    server: server.replace(/\/+$/, ""),
    namespace: str(ctx.namespace) ?? "default",
    insecure: cluster.value["insecure-skip-tls-verify"] === true,
    ca: fileOrData(cluster, "certificate-authority", "certificate-authority-data"),
    cert: fileOrData(user, "client-certificate", "client-certificate-data"),
    key: fileOrData(user, "client-key", "client-key-data"),
    serverName: str(cluster.value["tls-server-name"]),
  };
  const token = str(user.value.token);
  const tokenFile = str(user.value.tokenFile);
  const exec = user.value.exec as Record<string, unknown> | undefined;
  if (token) conn.token = () => token;
  else if (tokenFile) conn.token = () => readFileSync(tokenFile, "utf8").trim();
  else if (exec) {
    let cached: ExecCredential["status"] | undefined;
    const cred = () => {
      cached ??= runExec(exec);
      return cached;
    };
    if (!conn.cert) {
      const c = cred();
      if (c?.clientCertificateData && c.clientKeyData) {
        conn.cert = Buffer.from(c.clientCertificateData);
        conn.key = Buffer.from(c.clientKeyData);
      }
    }
    conn.token = () => cred()?.token;
  }
  const username = str(user.value.username);
  const password = str(user.value.password);
  if (username && password) conn.basic = { username, password };
  return conn;
}
