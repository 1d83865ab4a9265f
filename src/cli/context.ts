// Turns the global flags into an API client and a namespace, exactly as kubectl resolves them.
import type { Args } from "./args.ts";
import { createKubeClient, type KubeClient } from "./kube-client.ts";
import { kubeconfigPaths, loadConnection } from "./kubeconfig.ts";

/** The client and namespace one invocation works with. */
export interface CliContext {
  kube: KubeClient;
  /** -n, else the context's namespace. */
  namespace: string;
  /** undefined with -A (every namespace). */
  listNamespace: string | undefined;
  color: boolean;
  out: NodeJS.WriteStream;
  now: () => Date;
}

/** Builds the context from parsed flags. */
export function connect(args: Args, out: NodeJS.WriteStream = process.stdout): CliContext {
  const conn = loadConnection(kubeconfigPaths(args.kubeconfig), args.context);
  const namespace = args.namespace ?? conn.namespace;
  const color =
    args.color === "always" || (args.color === "auto" && out.isTTY === true && !process.env.NO_COLOR);
  return {
    kube: createKubeClient(conn),
    namespace,
    listNamespace: args.allNamespaces ? undefined : namespace,
    color,
    out,
    now: () => new Date(),
  };
}
