// The built-in path, Node built-ins only: a connection from the allow-listed kubeconfig keys, and in-cluster.
import { existsSync, readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import type { KubeConnection } from "./connection.ts";
import { type Entry, type KubeconfigContext, KubeconfigError } from "./document.ts";

/** Where a Pod's ServiceAccount token, CA and namespace are mounted. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Bound ServiceAccount tokens rotate (the kubelet rewrites the file); client-go re-reads token files this often. */
const TOKEN_REREAD_MS = 60_000;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/**
 * A connection for a context whose cluster and user use only {@link BUILTIN_KEYS}. Where kubectl and client-node
 * disagree it follows kubectl (client-go): inline `*-data` wins over a file, `tokenFile` wins over `token` and is
 * re-read every minute, trimmed.
 */
export function builtinConnection(ctx: KubeconfigContext): KubeConnection {
  const cluster = ctx.cluster.fields;
  const user = ctx.user.fields;
  const server = str(cluster.server);
  if (!server) throw new KubeconfigError(`cluster "${ctx.cluster.name}" (${ctx.cluster.file}) has no server`);
  const tls: RequestOptions = {};
  const ca = material(ctx.cluster, "certificate-authority");
  const cert = material(ctx.user, "client-certificate");
  const key = material(ctx.user, "client-key");
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (cluster["insecure-skip-tls-verify"] === true) tls.rejectUnauthorized = false;
  const serverName = str(cluster["tls-server-name"]);
  if (serverName) tls.servername = serverName;
  const tokenFile = str(user.tokenFile);
  const staticToken = str(user.token);
  const file = tokenFile ? fileToken(tokenFile) : undefined;
  const username = str(user.username);
  const basic =
    username !== undefined
      ? `Basic ${Buffer.from(`${username}:${str(user.password) ?? ""}`).toString("base64")}`
      : undefined;
  return {
    server: server.replace(/\/+$/, ""),
    authenticate(o) {
      Object.assign(o, tls);
      const token = file ? file.current() : staticToken;
      const auth = token ? `Bearer ${token}` : basic;
      if (auth) setAuthorization(o, auth);
    },
    rejected: (o) => (file ? file.reread(o) : false),
  };
}

/**
 * The API server's URL in a Pod from KUBERNETES_SERVICE_HOST/PORT. Always https, as client-go's InClusterConfig
 * (client-node picks http for ports 80, 8001 and 8080).
 */
export function inClusterServer(host: string, port: string | undefined): string {
  return `https://${isIPv6(host) ? `[${host}]` : host}:${port || "443"}`;
}

/** In a Pod: the API server from KUBERNETES_SERVICE_HOST/PORT, the mounted CA, token and namespace. */
export function inClusterConnection(
  host: string,
  port: string | undefined,
  dir: string = SERVICE_ACCOUNT_DIR,
): { connection: KubeConnection; namespace: string | undefined } {
  const ca = readFileSync(join(dir, "ca.crt"));
  const token = fileToken(join(dir, "token"));
  const nsFile = join(dir, "namespace");
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, "utf8").trim() || undefined : undefined;
  return {
    connection: {
      server: inClusterServer(host, port),
      authenticate(o) {
        o.ca = ca;
        setAuthorization(o, `Bearer ${token.current()}`);
      },
      rejected: (o) => token.reread(o),
    },
    namespace,
  };
}

function setAuthorization(o: RequestOptions, value: string): void {
  o.headers = { ...(o.headers as Record<string, string> | undefined), Authorization: value };
}

/**
 * A token file, re-read at most once a minute and trimmed (client-go's cached file token source). On a 401,
 * `reread` reads it at once: if it changed since the rejected request, a retry may succeed.
 */
function fileToken(path: string): { current(): string; reread(o: RequestOptions): boolean } {
  let value = "";
  let readAt = Number.NEGATIVE_INFINITY;
  const read = () => {
    try {
      value = readFileSync(path, "utf8").trim();
    } catch (err) {
      // A file being rewritten may vanish for a moment; keep the last token rather than send none.
      if (!value) throw new KubeconfigError(`cannot read token file ${path}: ${(err as Error).message}`);
    }
    readAt = Date.now();
  };
  return {
    current() {
      if (Date.now() - readAt > TOKEN_REREAD_MS) read();
      return value;
    },
    reread(o) {
      read();
      const sent = (o.headers as Record<string, string> | undefined)?.Authorization;
      return sent !== `Bearer ${value}`;
    },
  };
}

/** `KEY-data` (base64) if set, as client-go prefers it, else the file `KEY` names. */
function material(entry: Entry, key: string): Buffer | undefined {
  const inline = str(entry.fields[`${key}-data`]);
  if (inline) return Buffer.from(inline, "base64");
  const path = str(entry.fields[key]);
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeconfigError(
      `"${entry.name}" (${entry.file}): cannot read ${key} ${path}: ${(err as Error).message}`,
    );
  }
}
