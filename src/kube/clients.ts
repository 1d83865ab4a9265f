// One counted, client-side rate-limited, write-fenced HTTP pipeline to the API server (node:http/https, keep-alive).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { Readable } from "node:stream";
import { BackoffGate, type GateOutcome } from "./backoff-gate.ts";
import { type Clock, sleep, systemClock } from "./clock.ts";
import { classifyError } from "./errors.ts";
import { toConnection } from "./kubeconfig/client-node.ts";
import type { KubeConfigLike, KubeConnection } from "./kubeconfig/connection.ts";
import { parseResourcePath, VERBS, type Verb, verbFor } from "./request-verb.ts";
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "./retry-after.ts";
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
  /**
   * Called when the API server asks the client to back off (429, or 5xx with `Retry-After`), with the wait the
   * pipeline now imposes on every request (e.g. `metrics.recordThrottle`).
   */
  onRetryAfter?: (seconds: number) => void;
  /**
   * Called with every answer's `Date` header and the local times (`clock.now()`) the request was sent and its
   * headers arrived: the API server's clock, for a {@link ServerClock}.
   */
  onServerDate?: (date: string, sentAt: number, receivedAt: number) => void;
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

/** Requests to the API server plus their accounting. All share one pipeline, rate limiter and counters. */
export interface KubeClients {
  /** The API server's base URL. */
  readonly server: string;
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
   * Aborts every request in flight except watches and Lease requests (whatever signal its caller passed); later
   * requests go out as usual. For a leader whose Lease is in doubt: what it sent under the old Lease must not land.
   */
  abortInFlight(reason: string): void;
  /**
   * Leadership is gone: {@link abortInFlight}, and refuse every later write. Irreversible: the process is expected
   * to exit.
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
 * Creates the clients for a connection (or a client-node KubeConfig's current context). Every request — JSON and
 * watches — waits for a rate-limiter token, is checked against the write fence, counted by verb and (unless it is a
 * watch) bounded by a timeout. Ordinary requests share one keep-alive Agent; it is replaced whenever a request
 * times out or fails at the network level, so a silently dead connection cannot stall every later request.
 * Watches get a connection of their own: a long-lived stream must not share fate with short requests, and a
 * watchdog restart must get a genuinely new connection. A 401 is retried once when the connection says fresh
 * credentials may help (an exec plugin's token expired early, a rotated token file).
 *
 * Built on node:http(s) rather than client-node's generated clients: those load every model class and
 * undici at start (≈110 MB of RSS) to serve the handful of paths a controller uses.
 */
export function createKubeClients(
  source: KubeConnection | KubeConfigLike,
  options: KubeClientOptions = {},
): KubeClients {
  const conn = toConnection(source);
  const base = new URL(conn.server);
  const secure = base.protocol === "https:";
  const prefix = base.pathname.replace(/\/+$/, "");
  const clock = options.clock ?? systemClock;
  const bucket = new TokenBucket(options.qps ?? 20, options.burst ?? 30, clock);
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const counts = zeroCounts();
  const newAgent = () => (secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true }));
  let shared = newAgent();
  let mayWrite: (() => boolean) | undefined;
  let revoked: string | undefined;
  /** Replaced on every {@link KubeClients.abortInFlight}: each request holds the one current when it was sent. */
  let revocation = new AbortController();
  /**
   * The API server's `Retry-After`, shared by every request, so one 429 holds back the whole controller — status
   * writers, informers and the work queue alike — instead of each caller retrying on its own schedule. Lease
   * requests do not wait at it: the elector's renewals are one every 2 s, and holding them back would hand
   * leadership away during an overload they do not cause.
   */
  const gate = new BackoffGate(clock);

  /** Sends once; on a 401 whose credentials the connection can replace, once more with the new ones. */
  async function send(req: RawRequest, stream: boolean): Promise<IncomingMessage> {
    const first = await sendOnce(req, stream);
    if (first.res.statusCode !== 401 || !(await conn.rejected?.(first.options))) return first.res;
    first.res.resume();
    return (await sendOnce(req, stream)).res;
  }

  /** One attempt through the shared back-off gate. */
  async function sendOnce(
    req: RawRequest,
    stream: boolean,
  ): Promise<{ res: IncomingMessage; options: RequestOptions }> {
    const method = req.method ?? "GET";
    const url = new URL(prefix + req.path, base);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const lease = isLeasePath(url.pathname);
    const settle = lease ? (o: GateOutcome) => gate.record(o) : await gate.admit(req.signal);
    let outcome: GateOutcome = "failed";
    try {
      const sent = await dispatch(req, stream, method, url, lease);
      outcome = throttle(sent.res) ?? "answered";
      return sent;
    } finally {
      settle(outcome);
    }
  }

  /** Rate-limits, fences, counts and sends one request; resolves with the answer's headers and what was sent. */
  async function dispatch(
    req: RawRequest,
    stream: boolean,
    method: string,
    url: URL,
    lease: boolean,
  ): Promise<{ res: IncomingMessage; options: RequestOptions }> {
    const wait = bucket.reserve();
    if (wait > 0) await sleep(clock, wait);
    // Checked as late as possible, after the rate limiter's wait: the lease may have run out meanwhile.
    if (WRITE_METHODS.has(method) && !lease) {
      if (revoked !== undefined) throw new WriteFencedError(`write refused: ${revoked}`);
      if (mayWrite && !mayWrite()) throw new WriteFencedError("write refused: the leader lease is not held");
    }
    const verb = verbFor(method, url.toString());
    counts[verb]++;
    options.onRequest?.(verb);
    const headers: Record<string, string | number> = { Accept: "application/json" };
    if (options.userAgent) headers["User-Agent"] = options.userAgent;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) {
      headers["Content-Type"] = req.contentType ?? "application/json";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const o: RequestOptions = {
      method,
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[|\]$/g, ""),
      port: base.port || (secure ? 443 : 80),
      path: url.pathname + url.search,
      headers,
    };
    await conn.authenticate(o);
    const signals: AbortSignal[] = req.signal ? [req.signal] : [];
    const timeout = stream ? undefined : AbortSignal.timeout(timeoutMs);
    if (timeout) signals.push(timeout);
    if (!stream && !lease) signals.push(revocation.signal);
    if (signals.length > 0) o.signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    // An agent the connection chose (client-node's: a proxy's tunnel, say) is kept; replacing it would dial the
    // server directly. client-node's agents keep no idle connections, so there is nothing of theirs to reset.
    const agent = o.agent ?? (stream ? false : shared);
    o.agent = agent;
    const sentAt = clock.now();
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const r = (secure ? httpsRequest : httpRequest)(o, resolve);
        r.once("error", reject);
        r.end(body);
      });
      const date = res.headers.date;
      if (date && options.onServerDate) options.onServerDate(date, sentAt, clock.now());
      return { res, options: o };
    } catch (err) {
      const callerAborted = req.signal?.aborted === true && !timeout?.aborted;
      if (!callerAborted && agent && agent === shared && isConnectionFailure(err, timeout)) {
        shared = newAgent();
        agent.destroy();
      }
      throw err;
    }
  }

  function abortInFlight(reason: string): void {
    const current = revocation;
    revocation = new AbortController();
    current.abort(new WriteFencedError(`request aborted: ${reason}`));
  }

  /** The back-off an answer asks for: a 429, or a 5xx with `Retry-After` (a 429 without one: 1 s). */
  function throttle(res: IncomingMessage): GateOutcome | undefined {
    const code = res.statusCode ?? 0;
    if (code !== 429 && code < 500) return undefined;
    const ms =
      parseRetryAfter(res.headers["retry-after"], Date.now(), MAX_RETRY_AFTER_MS) ??
      (code === 429 ? 1000 : undefined);
    if (ms === undefined) return undefined;
    options.onRetryAfter?.(ms / 1000);
    return { retryAfterMs: ms };
  }

  const contextOf = (req: RawRequest) => ({
    verb: verbFor(req.method ?? "GET", `${req.path}?${new URLSearchParams(stringQuery(req.query))}`),
    resource: req.path,
    ...parseResourcePath(req.path),
  });

  return {
    server: conn.server,
    async request<T>(req: RawRequest): Promise<T> {
      let res: IncomingMessage;
      let text: string;
      try {
        res = await send(req, false);
        text = await readText(res);
      } catch (err) {
        throw classifyError(err, contextOf(req));
      }
      const code = res.statusCode ?? 0;
      if (code < 200 || code > 299)
        throw classifyError({ code, body: text, headers: res.headers }, contextOf(req));
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stream(req: RawRequest): Promise<ReadableStream<Uint8Array>> {
      let res: IncomingMessage;
      try {
        res = await send(req, true);
      } catch (err) {
        throw classifyError(err, contextOf(req));
      }
      if (res.statusCode !== 200) {
        const text = await readText(res).catch(() => "");
        throw classifyError({ code: res.statusCode, body: text, headers: res.headers }, contextOf(req));
      }
      return Readable.toWeb(res) as ReadableStream<Uint8Array>;
    },
    requestCounts: () => ({ ...counts }),
    resetRequestCounts: () => {
      for (const v of VERBS) counts[v] = 0;
    },
    fenceWrites: (fn) => {
      mayWrite = fn;
    },
    abortInFlight,
    revokeWrites: (reason) => {
      revoked ??= reason;
      abortInFlight(reason);
    },
    resetConnections: () => {
      const old = shared;
      shared = newAgent();
      old.destroy();
    },
  };
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A timeout or transport error (not an HTTP error status): the connection may be dead. */
function isConnectionFailure(err: unknown, timeout: AbortSignal | undefined): boolean {
  return timeout?.aborted === true || classifyError(err).kind === "Network";
}

function zeroCounts(): Record<Verb, number> {
  return Object.fromEntries(VERBS.map((v) => [v, 0])) as Record<Verb, number>;
}

function stringQuery(q: RawRequest["query"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined) out[k] = String(v);
  return out;
}
