// Turns the global flags into an API client and a namespace, exactly as kubectl resolves them.
import { KubeconfigError } from "../kube/kubeconfig/document.ts";
import { loadKubeconfig } from "../kube/kubeconfig/load.ts";
import type { Args } from "./args.ts";
import { CliError } from "./errors.ts";
import { createKubeClient, type KubeClient } from "./kube-client.ts";

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

/** Builds the context from parsed flags and the environment, in kubectl's order of precedence. */
export async function connect(args: Args, out: NodeJS.WriteStream = process.stdout): Promise<CliContext> {
  const env = process.env;
  const kubeconfig = await loadKubeconfig({
    path: args.kubeconfig,
    list: env.KUBECONFIG,
    context: args.context,
    inCluster: { host: env.KUBERNETES_SERVICE_HOST, port: env.KUBERNETES_SERVICE_PORT },
  }).catch((err: unknown) => {
    throw err instanceof KubeconfigError ? new CliError(err.message) : err;
  });
  const namespace = args.namespace ?? kubeconfig.namespace;
  const color = args.color === "always" || (args.color === "auto" && out.isTTY === true && !env.NO_COLOR);
  return {
    kube: createKubeClient(kubeconfig),
    namespace,
    listNamespace: args.allNamespaces ? undefined : namespace,
    color,
    out,
    now: () => new Date(),
  };
}
