// The kubeconfig keys each path understands, as data: the built-in loader's allow-list, what client-node reads, and
// the keys that mean nothing to a connection. Kept here, beside the loader, rather than in src/api: they are
// kubectl's file format, not Vireo's API.

/** Keys of one `clusters[].cluster`, `users[].user` or `contexts[].context` entry. */
export type EntryKind = "cluster" | "user" | "context";

/**
 * The keys the built-in loader fully handles (Node built-ins only; it never loads client-node). A context whose
 * cluster and user use nothing else is served by it: in a Pod, on a laptop with a certificate or token.
 */
export const BUILTIN_KEYS = {
  cluster: [
    "server",
    "certificate-authority",
    "certificate-authority-data",
    "insecure-skip-tls-verify",
    "tls-server-name",
  ],
  user: [
    "token",
    "tokenFile",
    "client-certificate",
    "client-certificate-data",
    "client-key",
    "client-key-data",
    "username",
    "password",
  ],
  context: ["cluster", "user", "namespace"],
} as const satisfies Record<EntryKind, readonly string[]>;

/**
 * What `@kubernetes/client-node` 2.0.x reads from an entry (`config_types.js` `newClusters`/`newUsers`, its
 * authenticators, `applyHTTPSOptions`): the built-in keys except kubectl's `tokenFile`, plus the ones below. Any key
 * outside {@link BUILTIN_KEYS} hands the context to client-node, so it must be one of these; client-node silently
 * ignores the rest (`as-groups`, `as-uid`, `as-user-extra`, `tokenFile`, typos), which is why the loader refuses
 * them instead.
 */
export const CLIENT_NODE_KEYS = {
  cluster: [...BUILTIN_KEYS.cluster, "proxy-url"],
  user: [...BUILTIN_KEYS.user.filter((k) => k !== "tokenFile"), "token-file", "exec", "auth-provider", "as"],
  context: BUILTIN_KEYS.context,
} as const satisfies Record<EntryKind, readonly string[]>;

/**
 * Keys that carry nothing a connection uses, so both paths may skip them without losing meaning; the reason says
 * why each is safe to skip.
 */
export const INERT_KEYS: Readonly<Record<string, string>> = {
  extensions:
    "kubectl's own definition: extra data for tools (minikube writes its version here), never read for a connection",
  "disable-compression":
    "neither client asks for compressed responses (no Accept-Encoding), so compression is off already",
};

/** The user keys that get fresh credentials from somewhere else, so a 401 is worth a retry with new ones. */
export const REFRESHABLE_USER_KEYS: readonly string[] = ["exec", "auth-provider"];

/** `exec` keys client-node passes on (command, args, env) or the loader honours by setting the plugin's env. */
export const EXEC_KEYS: readonly string[] = [
  "command",
  "args",
  "env",
  "apiVersion",
  "provideClusterInfo",
  "interactiveMode",
  "installHint",
];
