// The plugin's Kubernetes API client: the controller's request pipeline with the user's own credentials, and
// errors turned into one line that names the verb and resource.
import { createKubeClients, type RawRequest } from "../kube/clients.ts";
import { KubeApiError, KubeErrorKind } from "../kube/errors.ts";
import type { LoadedKubeconfig } from "../kube/kubeconfig/load.ts";
import { type WatchEvent, watchEvents } from "../kube/watch-events.ts";
import { ApiError, CliError, type RequestTarget } from "./errors.ts";

export type { WatchEvent } from "../kube/watch-events.ts";

/** One request: a pipeline request plus what it does, for error messages. */
export interface KubeRequest extends RawRequest {
  target: RequestTarget;
}

/** The API client the plugin and the dashboard use. */
export interface KubeClient {
  /** The kubeconfig context it talks to. */
  readonly contextName: string;
  request<T>(req: KubeRequest): Promise<T>;
  /** Streams watch events until `signal` aborts or the server ends the watch (then resolves). */
  watch<T>(req: KubeRequest, onEvent: (e: WatchEvent<T>) => void): Promise<void>;
}

/**
 * Creates a client for one loaded kubeconfig context. No client-side rate limit: one person's commands and open
 * dashboard pages are the whole load.
 */
export function createKubeClient(
  kubeconfig: Pick<LoadedKubeconfig, "connection" | "contextName">,
  userAgent = "kubectl-vireo",
): KubeClient {
  const clients = createKubeClients(kubeconfig.connection, { qps: Number.POSITIVE_INFINITY, userAgent });
  const fail = (err: unknown, req: KubeRequest): unknown => {
    if (req.signal?.aborted || !(err instanceof KubeApiError)) return err;
    if (err.status !== undefined)
      return new ApiError(err.status, err.reason ?? "", err.serverMessage ?? err.message, req.target);
    if (err.kind === KubeErrorKind.Network)
      return new CliError(`cannot reach the API server ${clients.server}: ${reasonOf(err)}`);
    return new CliError(reasonOf(err));
  };
  return {
    contextName: kubeconfig.contextName,
    async request<T>(req: KubeRequest): Promise<T> {
      try {
        return await clients.request<T>(req);
      } catch (err) {
        throw fail(err, req);
      }
    },
    async watch<T>(req: KubeRequest, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
      try {
        const body = await clients.stream({
          ...req,
          query: { ...req.query, watch: true, allowWatchBookmarks: true },
        });
        for await (const e of watchEvents<T>(body)) onEvent(e);
      } catch (err) {
        if (req.signal?.aborted) return;
        throw fail(err, req);
      }
    },
  };
}

/** The underlying failure's own words (the pipeline's message prefixes what it was doing). */
function reasonOf(err: KubeApiError): string {
  const cause = err.cause as { message?: unknown } | undefined;
  return typeof cause?.message === "string" && cause.message ? cause.message : err.message;
}
