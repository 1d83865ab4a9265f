// The client-node path: a context using any key beyond the built-in allow-list is handed, as a one-context
// document, to @kubernetes/client-node's KubeConfig (imported only then), whose reading of it is authoritative.
import { readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import type { KubeConfigLike, KubeConnection } from "./connection.ts";
import type { KubeconfigContext } from "./document.ts";
import { REFRESHABLE_USER_KEYS } from "./keys.ts";

/**
 * Loads client-node and builds a connection from `ctx` (already merged kubectl's way, paths absolute). A user
 * whose credentials come from a plugin (exec, auth-provider) gets a fresh KubeConfig after a 401, which drops
 * client-node's cached credential so the plugin runs again.
 */
export async function clientNodeConnection(ctx: KubeconfigContext): Promise<KubeConnection> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const text = JSON.stringify(oneContextDocument(ctx));
  const load = () => {
    const kc = new KubeConfig();
    kc.loadFromString(text);
    return kc;
  };
  const refreshable = REFRESHABLE_USER_KEYS.some((k) => ctx.user.fields[k] !== undefined);
  return kubeConfigConnection(load(), refreshable ? load : undefined);
}

/** Accepts either form; a KubeConfig authenticates itself (exec plugins, OIDC, proxies and all). */
export function toConnection(source: KubeConnection | KubeConfigLike): KubeConnection {
  return "authenticate" in source ? source : kubeConfigConnection(source);
}

/**
 * A connection over a client-node KubeConfig. Requests authenticate one at a time: client-node's ExecAuth (2.0.x)
 * runs the plugin asynchronously (spawn, so the event loop never blocks) and caches the credential until its
 * `expirationTimestamp`, but while the cache is empty every concurrent request would start a plugin of its own.
 * Queued, the first request runs it and the rest find the cached credential. ExecAuth never drops a credential the
 * server refused, so `rejected` replaces the whole KubeConfig (via `reload`) when the refused credential is still
 * the current one.
 */
export function kubeConfigConnection(kc: KubeConfigLike, reload?: () => KubeConfigLike): KubeConnection {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  let current = kc;
  let generation = 0;
  const issuedIn = new WeakMap<RequestOptions, number>();
  let queue: Promise<unknown> = Promise.resolve();
  return {
    server: cluster.server.replace(/\/+$/, ""),
    authenticate(o) {
      const run = queue.then(async () => {
        await current.applyToHTTPSOptions(o);
        issuedIn.set(o, generation);
      });
      queue = run.catch(() => undefined);
      return run;
    },
    rejected(o) {
      if (!reload) return false;
      if (issuedIn.get(o) === generation) {
        current = reload();
        generation++;
      }
      return true;
    },
  };
}

/** The selected context alone, as a kubeconfig document: kubectl's merge is done, so client-node merges nothing. */
function oneContextDocument(ctx: KubeconfigContext): Record<string, unknown> {
  const user = { ...ctx.user.fields };
  if (user.exec) user.exec = withExecInfo(user.exec as Record<string, unknown>, ctx.cluster.fields);
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: ctx.cluster.name, cluster: ctx.cluster.fields }],
    users: ctx.user.name ? [{ name: ctx.user.name, user }] : [],
    contexts: [{ name: ctx.contextName, context: ctx.context.fields }],
    "current-context": ctx.contextName,
  };
}

/**
 * client-node runs an exec plugin with `exec.env` but never sets KUBERNETES_EXEC_INFO, which client-go always sets
 * and plugins may read: the apiVersion to answer in, that no terminal is attached, and the cluster when
 * `provideClusterInfo` asks for it. Added to `exec.env`, client-node's own runner passes it on.
 */
function withExecInfo(exec: Record<string, unknown>, cluster: Readonly<Record<string, unknown>>) {
  const caFile = cluster["certificate-authority"];
  const caData =
    cluster["certificate-authority-data"] ??
    (typeof caFile === "string" && caFile ? readFileSync(caFile).toString("base64") : undefined);
  const info = {
    apiVersion: exec.apiVersion ?? "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo === true
        ? {
            cluster: {
              server: cluster.server,
              "tls-server-name": cluster["tls-server-name"],
              "insecure-skip-tls-verify": cluster["insecure-skip-tls-verify"],
              "certificate-authority-data": caData,
              "proxy-url": cluster["proxy-url"],
            },
          }
        : {}),
    },
  };
  const env = Array.isArray(exec.env) ? exec.env : [];
  return { ...exec, env: [...env, { name: "KUBERNETES_EXEC_INFO", value: JSON.stringify(info) }] };
}
