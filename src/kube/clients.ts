// Builds the client-node API clients over one counted, client-side rate-limited HTTP pipeline.
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  EventsV1Api,
  type HttpLibrary,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  type KubeConfig,
  KubernetesObjectApi,
  RequestContext,
  type ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { type Clock, sleep, systemClock } from "./clock.ts";
import { classifyError } from "./errors.ts";
import { parseResourcePath, VERBS, type Verb, verbFor } from "./request-verb.ts";
import { TokenBucket } from "./token-bucket.ts";

export type { Verb } from "./request-verb.ts";

/** Options for {@link createKubeClients}. */
export interface KubeClientOptions {
  /** Sustained client-side request rate (default 20/s, as controller-runtime). `Infinity` disables the limit. */
  qps?: number;
  /** Burst above `qps` (default 30). */
  burst?: number;
  /** Per-request timeout for non-streaming requests (default 30 s); watches are exempt. */
  requestTimeoutMs?: number;
  /** Called once per request with its verb (e.g. `metrics.recordKubeRequest`). */
  onRequest?: (verb: Verb) => void;
  userAgent?: string;
  clock?: Clock;
}

/** A raw request through the counted pipeline, for paths the generated clients don't cover. */
export interface RawRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. `/api/v1/namespaces/a/configmaps`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON-serializable body. */
  body?: unknown;
  /** Defaults to `application/json` (use a `PatchStrategy` for PATCH). */
  contentType?: string;
  signal?: AbortSignal;
}

/** The API clients plus request accounting. All share one HTTP pipeline, rate limiter and counters. */
export interface KubeClients {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly customObjects: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  readonly events: EventsV1Api;
  /** Generic apply-style client keyed by apiVersion/kind. */
  readonly objects: KubernetesObjectApi;
  /** JSON request; throws a classified {@link KubeApiError} on a non-2xx answer or network failure. */
  request<T>(req: RawRequest): Promise<T>;
  /**
   * Opens a streaming GET (watch). Resolves with the body once headers arrive with 200; throws a classified
   * error otherwise. Abort `req.signal` to close it.
   */
  stream(req: RawRequest): Promise<ReadableStream<Uint8Array>>;
  /** Requests sent so far, by verb (for metrics and benchmarks). */
  requestCounts(): Record<Verb, number>;
  /** Resets {@link requestCounts} to zero. */
  resetRequestCounts(): void;
  /**
   * Drops the shared connection so the next request dials anew. Called when a caller has evidence the
   * connection is dead that the pipeline cannot see itself (e.g. the informer watchdog found a silent watch).
   */
  resetConnections(): void;
  /**
   * Fences writes to leadership: from now on every write (except to Leases, which the elector itself needs) is
   * refused before it is sent unless `mayWrite()` says yes at that moment.
   */
  fenceWrites(mayWrite: () => boolean): void;
  /**
   * Leadership is gone: aborts every request in flight (reads and writes, whatever signal its caller passed) and
   * refuses every later write. Irreversible: the process is expected to exit.
   */
  revokeWrites(reason: string): void;
}

/** A write refused by the leadership fence; never sent to the API server. */
export class WriteFencedError extends Error {
  override readonly name = "WriteFencedError";
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const isLeasePath = (url: string) => url.includes("/apis/coordination.k8s.io/");

/**
 * Creates the clients for `kubeConfig`'s current context. Every request — generated clients, raw requests and
 * watches — passes through one HttpLibrary that waits for a rate-limiter token, counts the verb and applies a
 * default timeout. The counting sits in the HttpLibrary rather than a middleware because per-call options
 * (e.g. `setHeaderOptions`) may replace the middleware list but never the HttpLibrary.
 */
export function createKubeClients(kubeConfig: KubeConfig, options: KubeClientOptions = {}): KubeClients {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const clock = options.clock ?? systemClock;
  const bucket = new TokenBucket(options.qps ?? 20, options.burst ?? 30, clock);
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const counts = zeroCounts();
  const inner = new IsomorphicFetchHttpLibrary();
  // client-node builds a new undici Agent for every request: no connection reuse, a TLS handshake each time.
  // We reuse one Agent for ordinary requests (undici 8 negotiates HTTP/2, so they multiplex on one
  // connection, like client-go). A silently dead connection would then stall every request, so the shared
  // Agent is replaced whenever a request times out or fails at the network level. Watches keep their own
  // Agent (see `streaming`): a long-lived stream must not share fate with short requests, and a watchdog
  // restart must get a genuinely new connection.
  let shared: Dispatcher | undefined;
  const streaming = new WeakSet<RequestContext>();
  let mayWrite: (() => boolean) | undefined;
  let revoked: string | undefined;
  const revocation = new AbortController();

  const httpApi: HttpLibrary = wrapHttpLibrary({
    async send(ctx: RequestContext): Promise<ResponseContext> {
      const wait = bucket.reserve();
      if (wait > 0) await sleep(clock, wait);
      // Checked as late as possible, after the rate limiter's wait: the lease may have run out meanwhile.
      if (WRITE_METHODS.has(ctx.getHttpMethod()) && !isLeasePath(ctx.getUrl())) {
        if (revoked !== undefined) throw new WriteFencedError(`write refused: ${revoked}`);
        if (mayWrite && !mayWrite())
          throw new WriteFencedError("write refused: the leader lease is not held");
      }
      const verb = verbFor(ctx.getHttpMethod(), ctx.getUrl());
      counts[verb]++;
      options.onRequest?.(verb);
      if (options.userAgent) ctx.setHeaderParam("User-Agent", options.userAgent);
      if (streaming.has(ctx)) return inner.send(ctx).toPromise();

      const own = ctx.getDispatcher();
      if (own !== undefined) {
        shared ??= own;
        ctx.setDispatcher(shared);
      }
      const used = ctx.getDispatcher();
      const callerSignal = ctx.getSignal();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signals = [timeout, ...(callerSignal ? [callerSignal] : [])];
      if (!isLeasePath(ctx.getUrl())) signals.push(revocation.signal);
      ctx.setSignal(AbortSignal.any(signals));
      try {
        return await inner.send(ctx).toPromise();
      } catch (err) {
        const callerAborted = callerSignal?.aborted === true && !timeout.aborted;
        if (!callerAborted && used !== undefined && used === shared && isConnectionFailure(err, timeout)) {
          shared = undefined;
          void (used as Dispatcher).destroy().catch(() => {});
        }
        throw err;
      }
    },
  });

  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    httpApi,
  });

  async function send(
    req: RawRequest,
    signal: AbortSignal | undefined,
    stream: boolean,
  ): Promise<ResponseContext> {
    const url = new URL(cluster?.server + req.path);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod[req.method ?? "GET"]);
    ctx.setHeaderParam("Accept", "application/json");
    if (req.body !== undefined) {
      ctx.setHeaderParam("Content-Type", req.contentType ?? "application/json");
      ctx.setBody(JSON.stringify(req.body));
    }
    if (signal) ctx.setSignal(signal);
    await kubeConfig.applySecurityAuthentication(ctx);
    if (stream) streaming.add(ctx);
    return httpApi.send(ctx).toPromise();
  }

  const contextOf = (req: RawRequest) => ({
    verb: verbFor(req.method ?? "GET", `${req.path}?${new URLSearchParams(stringQuery(req.query))}`),
    resource: req.path,
    ...parseResourcePath(req.path),
  });

  return {
    kubeConfig,
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    customObjects: new CustomObjectsApi(configuration),
    coordination: new CoordinationV1Api(configuration),
    events: new EventsV1Api(configuration),
    objects: new KubernetesObjectApi(configuration),
    async request<T>(req: RawRequest): Promise<T> {
      let res: ResponseContext;
      let text: string;
      try {
        res = await send(req, req.signal, false);
        text = await res.body.text();
      } catch (err) {
        throw classifyError(err, contextOf(req));
      }
      if (res.httpStatusCode < 200 || res.httpStatusCode > 299) {
        throw classifyError(
          new ApiException(res.httpStatusCode, "request failed", text, res.headers),
          contextOf(req),
        );
      }
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stream(req: RawRequest): Promise<ReadableStream<Uint8Array>> {
      let res: ResponseContext;
      try {
        res = await send(req, req.signal, true);
      } catch (err) {
        throw classifyError(err, contextOf(req));
      }
      if (res.httpStatusCode !== 200) {
        const text = await res.body.text().catch(() => "");
        throw classifyError(
          new ApiException(res.httpStatusCode, "watch failed", text, res.headers),
          contextOf(req),
        );
      }
      const body = res.body.stream();
      if (!body) throw classifyError(new Error("watch response has no body"), contextOf(req));
      return body;
    },
    requestCounts: () => ({ ...counts }),
    resetRequestCounts: () => {
      for (const v of VERBS) counts[v] = 0;
    },
    fenceWrites: (fn) => {
      mayWrite = fn;
    },
    revokeWrites: (reason) => {
      revoked ??= reason;
      revocation.abort(new WriteFencedError(`request aborted: ${reason}`));
    },
    resetConnections: () => {
      const old = shared;
      shared = undefined;
      void old?.destroy().catch(() => {});
    },
  };
}

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/** A timeout or transport error (not an HTTP error status): the connection may be dead. */
function isConnectionFailure(err: unknown, timeout: AbortSignal): boolean {
  return timeout.aborted || classifyError(err).kind === "Network";
}

function zeroCounts(): Record<Verb, number> {
  return Object.fromEntries(VERBS.map((v) => [v, 0])) as Record<Verb, number>;
}

function stringQuery(q: RawRequest["query"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined) out[k] = String(v);
  return out;
}
