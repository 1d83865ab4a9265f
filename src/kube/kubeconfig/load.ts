// The one kubeconfig loader of the controller and the plugin: finds the config, picks the context, and serves it
// with the built-in path when every key is on its allow-list, else with client-node; refuses what neither reads.
import { existsSync } from "node:fs";
import { builtinConnection, inClusterConnection } from "./builtin.ts";
import { clientNodeConnection } from "./client-node.ts";
import type { KubeConnection } from "./connection.ts";
import {
  type Entry,
  type KubeconfigContext,
  KubeconfigError,
  type KubeconfigFiles,
  kubeconfigFiles,
  mergeKubeconfigs,
  selectContext,
} from "./document.ts";
import { BUILTIN_KEYS, CLIENT_NODE_KEYS, type EntryKind, EXEC_KEYS, INERT_KEYS } from "./keys.ts";

/** Where the configuration comes from: flags and environment, as the caller read them. */
export interface KubeconfigSource extends KubeconfigFiles {
  /** `--context`: used instead of the current-context. */
  context?: string | undefined;
  /** KUBERNETES_SERVICE_HOST / _PORT: set in every Pod. */
  inCluster?: { host?: string | undefined; port?: string | undefined } | undefined;
  /**
   * In a Pod without --kubeconfig or $KUBECONFIG, use the ServiceAccount before `~/.kube/config` (controller-runtime's
   * order, for the controller); default false: kubectl's order, for the plugin.
   */
  preferInCluster?: boolean | undefined;
  /** Where the ServiceAccount is mounted (tests point it at a fake one). */
  serviceAccountDir?: string | undefined;
}

/** A loaded connection and the context it came from. */
export interface LoadedKubeconfig {
  connection: KubeConnection;
  contextName: string;
  /** The context's namespace, else the ServiceAccount's in a Pod, else "default". */
  namespace: string;
  /** Which path serves it: Node built-ins (a kubeconfig or in-cluster), or client-node. */
  via: "built-in" | "in-cluster" | "client-node";
}

/**
 * Loads the connection kubectl would use: `--kubeconfig`, else `$KUBECONFIG` (merged, first wins), else
 * `~/.kube/config`, else in-cluster (or in-cluster first with `preferInCluster`). A context whose keys are all on
 * {@link BUILTIN_KEYS} never loads client-node; any other key hands it to client-node; a key client-node ignores too
 * is refused with an error naming it.
 */
export async function loadKubeconfig(source: KubeconfigSource): Promise<LoadedKubeconfig> {
  const host = source.inCluster?.host;
  const { files, explicit } = kubeconfigFiles(source);
  const named = Boolean(source.path || source.list);
  if (host && !named && (source.preferInCluster || !existsSync(files[0] ?? ""))) {
    const { connection, namespace } = inClusterConnection(
      host,
      source.inCluster?.port,
      source.serviceAccountDir,
    );
    return { connection, contextName: "in-cluster", namespace: namespace ?? "default", via: "in-cluster" };
  }
  const ctx = selectContext(await mergeKubeconfigs(files, explicit), source.context);
  const namespace = ctx.namespace ?? "default";
  if (beyondBuiltin(ctx).length === 0)
    return { connection: builtinConnection(ctx), contextName: ctx.contextName, namespace, via: "built-in" };
  assertClientNodeReads(ctx);
  return {
    connection: await clientNodeConnection(ctx),
    contextName: ctx.contextName,
    namespace,
    via: "client-node",
  };
}

/** Keys of the context's entries that the built-in path does not handle (inert keys aside). */
export function beyondBuiltin(ctx: KubeconfigContext): string[] {
  return KINDS.flatMap((kind) =>
    keysOf(ctx[kind]).filter((k) => !(BUILTIN_KEYS[kind] as readonly string[]).includes(k)),
  );
}

const KINDS: readonly EntryKind[] = ["cluster", "user", "context"];
const keysOf = (e: Entry): string[] => Object.keys(e.fields).filter((k) => !(k in INERT_KEYS));

/** Throws, naming the key, when the context uses a key client-node would silently ignore. */
function assertClientNodeReads(ctx: KubeconfigContext): void {
  const why = beyondBuiltin(ctx).join(", ");
  for (const kind of KINDS) {
    const entry = ctx[kind];
    for (const key of keysOf(entry)) {
      if ((CLIENT_NODE_KEYS[kind] as readonly string[]).includes(key)) continue;
      const where = `${kind} "${entry.name}" (${entry.file})`;
      if ((BUILTIN_KEYS[kind] as readonly string[]).includes(key))
        throw new KubeconfigError(
          `${where}: "${key}" cannot be combined with ${why}: those are read by @kubernetes/client-node, which ignores "${key}"`,
        );
      throw new KubeconfigError(
        `${where}: "${key}" is not supported: Vireo's loader does not handle it and @kubernetes/client-node ignores it`,
      );
    }
  }
  const exec = ctx.user.fields.exec;
  if (exec === undefined) return;
  const where = `user "${ctx.user.name}" (${ctx.user.file})`;
  if (typeof exec !== "object" || exec === null)
    throw new KubeconfigError(`${where}: "exec" must be a mapping`);
  for (const key of Object.keys(exec))
    if (!EXEC_KEYS.includes(key)) throw new KubeconfigError(`${where}: "exec.${key}" is not supported`);
  if ((exec as { interactiveMode?: unknown }).interactiveMode === "Always")
    throw new KubeconfigError(
      `${where}: exec plugin wants interactiveMode "Always", but requests run without a terminal (client-go refuses too)`,
    );
}
