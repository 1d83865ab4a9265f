// Where the API server is and how to authenticate to it: from a kubeconfig file, in-cluster, or a client-node KubeConfig.
import { readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/**
 * An API server endpoint plus credentials. `authenticate` fills TLS material and the Authorization header into
 * the options of each request (it may refresh a token, so it is called per request).
 */
export interface KubeConnection {
  /** Base URL, e.g. `https://10.0.0.1:6443`. */
  readonly server: string;
  authenticate(options: RequestOptions): void | Promise<void>;
}

/**
 * The part of client-node's `KubeConfig` we use, structurally, so tests and tools that already hold one can pass it
 * without this module importing client-node (which loads every generated model class: ~80 MB of RSS).
 */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

/** Accepts either form; a KubeConfig authenticates itself (exec plugins, OIDC and all). */
export function toConnection(source: KubeConnection | KubeConfigLike): KubeConnection {
  if ("authenticate" in source) return source;
  const cluster = source.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  return { server: cluster.server, authenticate: (o) => source.applyToHTTPSOptions(o) };
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Bound ServiceAccount tokens rotate (kubelet refreshes the file); re-read this often. */
const TOKEN_REREAD_MS = 60_000;

interface NamedEntry<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

interface ClusterEntry {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
}

interface UserEntry {
  token?: string;
  tokenFile?: string;
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  "auth-provider"?: unknown;
}

/** Thrown for a kubeconfig whose user authenticates by a plugin (exec / auth-provider): see {@link loadConnection}. */
export class NeedsPluginAuth extends Error {
  override readonly name = "NeedsPluginAuth";
}

/**
 * Loads a connection the way kubectl does: `path`, else `$KUBECONFIG` (first file), else in-cluster (ServiceAccount)
 * when running in a Pod, else `~/.kube/config`. Supports CA/client certificates (file or inline data), static and
 * file tokens and basic auth. A user with an `exec` or `auth-provider` plugin throws {@link NeedsPluginAuth}; the
 * caller may fall back to client-node for those.
 */
export async function loadConnection(
  path?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KubeConnection> {
  const file = path ?? env.KUBECONFIG?.split(delimiter).find(Boolean);
  if (!file && env.KUBERNETES_SERVICE_HOST) return inCluster(env);
  return fromKubeconfigText(readFileSync(file ?? join(homedir(), ".kube", "config"), "utf8"));
}

/**
 * Parses a kubeconfig document and returns its current context's connection. The YAML parser is loaded only for
 * a document that is not JSON: in a Pod (in-cluster config) it is never needed, and it costs ~10 MB of RSS.
 */
export async function fromKubeconfigText(text: string): Promise<KubeConnection> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = (await import("yaml")).parse(text);
  }
  const doc = (parsed ?? {}) as {
    "current-context"?: string;
    clusters?: NamedEntry<ClusterEntry>[];
    users?: NamedEntry<UserEntry>[];
    contexts?: NamedEntry<{ cluster?: string; user?: string }>[];
  };
  const ctxName = doc["current-context"];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`kubeconfig: current context ${JSON.stringify(ctxName)} not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig: cluster ${JSON.stringify(ctx.cluster)} has no server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user["auth-provider"])
    throw new NeedsPluginAuth(`kubeconfig user ${JSON.stringify(ctx.user)} authenticates with a plugin`);

  const tls: RequestOptions = {};
  const ca = material(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  if (ca) tls.ca = ca;
  const cert = material(user["client-certificate-data"], user["client-certificate"]);
  const key = material(user["client-key-data"], user["client-key"]);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (cluster["insecure-skip-tls-verify"]) tls.rejectUnauthorized = false;
  if (cluster["tls-server-name"]) tls.servername = cluster["tls-server-name"];
  const staticToken = user.token;
  const token = user.tokenFile ? fileToken(user.tokenFile) : staticToken ? () => staticToken : undefined;
  const basic =
    user.username !== undefined
      ? `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`
      : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ""),
    authenticate(o) {
      Object.assign(o, tls);
      const t = token?.();
      const auth = t ? `Bearer ${t}` : basic;
      if (auth) o.headers = { ...(o.headers as Record<string, string>), Authorization: auth };
    },
  };
}

function inCluster(env: NodeJS.ProcessEnv): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const ca = readFileSync(join(SA_DIR, "ca.crt"));
  const token = fileToken(join(SA_DIR, "token"));
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    authenticate(o) {
      o.ca = ca;
      o.headers = { ...(o.headers as Record<string, string>), Authorization: `Bearer ${token()}` };
    },
  };
}

/** A token file, re-read at most once a minute. */
function fileToken(path: string): () => string {
  let value = "";
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (Date.now() - readAt > TOKEN_REREAD_MS) {
      value = readFileSync(path, "utf8").trim();
      readAt = Date.now();
    }
    return value;
  };
}

function material(data: string | undefined, file: string | undefined): Buffer | undefined {
  if (data) return Buffer.from(data, "base64");
  return file ? readFileSync(file) : undefined;
}
