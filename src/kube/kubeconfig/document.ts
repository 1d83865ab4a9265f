// Reads kubeconfig files and picks one context the way kubectl does: files merged first-wins, relative paths
// resolved against the folder of the file that holds them.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";

/** A kubeconfig that cannot be used as written; the message names the file, entry and key. */
export class KubeconfigError extends Error {
  override readonly name = "KubeconfigError";
}

/** One named cluster, user or context entry, with the file it came from. */
export interface Entry {
  name: string;
  /** The entry's fields as written, with relative file paths made absolute against `file`'s folder. */
  fields: Readonly<Record<string, unknown>>;
  /** The file that defined it (first wins), for error messages. */
  file: string;
}

/** The context a connection is made for: its cluster and user entries, resolved. */
export interface KubeconfigContext {
  contextName: string;
  /** The context's namespace, when it sets one. */
  namespace: string | undefined;
  context: Entry;
  cluster: Entry;
  /** The context's user; an anonymous one (no fields) when the context names none. */
  user: Entry;
}

/** Where to look: `--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`. */
export interface KubeconfigFiles {
  /** `--kubeconfig`: this one file, alone (kubectl does not merge it with $KUBECONFIG). */
  path?: string | undefined;
  /** `$KUBECONFIG`: a list separated by `path.delimiter`, merged. */
  list?: string | undefined;
  /** Home directory for `~/.kube/config` (default `os.homedir()`). */
  home?: string | undefined;
}

/** The files to read in precedence order, and whether they must exist (an explicit `--kubeconfig` must). */
export function kubeconfigFiles(where: KubeconfigFiles): { files: string[]; explicit: boolean } {
  if (where.path) return { files: [where.path], explicit: true };
  const list = (where.list ?? "").split(delimiter).filter(Boolean);
  if (list.length > 0) return { files: list, explicit: false };
  return { files: [join(where.home ?? homedir(), ".kube", "config")], explicit: false };
}

/** Keys whose value is a file path, per entry kind; kubectl resolves them against the kubeconfig's folder. */
const PATH_KEYS: Record<"cluster" | "user", readonly string[]> = {
  cluster: ["certificate-authority"],
  // `token-file` is client-node's spelling; resolved too, so it does not read it relative to the cwd.
  user: ["client-certificate", "client-key", "tokenFile", "token-file"],
};

interface Merged {
  current: string | undefined;
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
  read: string[];
}

/**
 * Reads and merges `files` as kubectl does: the first file that sets `current-context` or defines a name wins, later
 * duplicates are ignored (not an error), and a missing file in a `$KUBECONFIG` list is skipped. YAML is parsed by
 * the `yaml` package, loaded only for a file that is not JSON.
 */
export async function mergeKubeconfigs(files: string[], explicit: boolean): Promise<Merged> {
  const merged: Merged = {
    current: undefined,
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    read: [],
  };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if (!explicit && (err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new KubeconfigError(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    merged.read.push(file);
    const doc = (await parseDocument(text, file)) as {
      "current-context"?: unknown;
      clusters?: unknown;
      users?: unknown;
      contexts?: unknown;
    };
    if (typeof doc["current-context"] === "string" && doc["current-context"])
      merged.current ??= doc["current-context"];
    addEntries(merged.clusters, doc.clusters, "cluster", file);
    addEntries(merged.users, doc.users, "user", file);
    addEntries(merged.contexts, doc.contexts, "context", file);
  }
  if (merged.read.length === 0)
    throw new KubeconfigError(`no kubeconfig found (looked at ${files.join(", ")})`);
  return merged;
}

async function parseDocument(text: string, file: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    try {
      parsed = (await import("yaml")).parse(text);
    } catch (err) {
      throw new KubeconfigError(`kubeconfig ${file} is neither JSON nor YAML: ${(err as Error).message}`);
    }
  }
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

function addEntries(
  into: Map<string, Entry>,
  list: unknown,
  kind: "cluster" | "user" | "context",
  file: string,
) {
  if (!Array.isArray(list)) return;
  for (const item of list as { name?: unknown; [k: string]: unknown }[]) {
    const name = typeof item?.name === "string" ? item.name : "";
    if (!name || into.has(name)) continue;
    const raw = item[kind];
    const fields = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
    into.set(name, { name, fields: kind === "context" ? fields : absolutePaths(fields, kind, file), file });
  }
}

function absolutePaths(fields: Record<string, unknown>, kind: "cluster" | "user", file: string) {
  const base = dirname(file);
  const out: Record<string, unknown> = { ...fields };
  for (const key of PATH_KEYS[kind]) {
    const v = out[key];
    if (typeof v === "string" && v && !isAbsolute(v)) out[key] = join(base, v);
  }
  // client-go resolves an exec command that names a path (has a separator); a bare name is looked up on PATH.
  const exec = out.exec as { command?: unknown } | undefined;
  if (
    kind === "user" &&
    typeof exec?.command === "string" &&
    exec.command.includes("/") &&
    !isAbsolute(exec.command)
  )
    out.exec = { ...exec, command: join(base, exec.command) };
  return out;
}

/** Picks `context` (default: the merged current-context) and its cluster and user. */
export function selectContext(merged: Merged, context?: string): KubeconfigContext {
  const contextName = context || merged.current;
  if (!contextName)
    throw new KubeconfigError(
      `kubeconfig has no current-context (read ${merged.read.join(", ")}); pass --context`,
    );
  const ctx = merged.contexts.get(contextName);
  if (!ctx)
    throw new KubeconfigError(
      `context "${contextName}" not found in kubeconfig (read ${merged.read.join(", ")})`,
    );
  const clusterName = typeof ctx.fields.cluster === "string" ? ctx.fields.cluster : "";
  const cluster = merged.clusters.get(clusterName);
  if (!cluster)
    throw new KubeconfigError(`cluster "${clusterName}" of context "${contextName}" not found in kubeconfig`);
  const userName = typeof ctx.fields.user === "string" ? ctx.fields.user : "";
  const user = userName ? merged.users.get(userName) : { name: "", fields: {}, file: ctx.file };
  if (!user)
    throw new KubeconfigError(`user "${userName}" of context "${contextName}" not found in kubeconfig`);
  const namespace =
    typeof ctx.fields.namespace === "string" && ctx.fields.namespace ? ctx.fields.namespace : undefined;
  return { contextName, namespace, context: ctx, cluster, user };
}
