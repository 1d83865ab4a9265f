// Classifies client-node / HTTP failures into a closed set of kinds with log-safe, actionable messages.
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from "./retry-after.ts";

/** The closed set of failure kinds the controller branches on. */
export const KubeErrorKind = {
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Gone: "Gone",
  Forbidden: "Forbidden",
  Unauthorized: "Unauthorized",
  Invalid: "Invalid",
  BadRequest: "BadRequest",
  TooManyRequests: "TooManyRequests",
  ServerError: "ServerError",
  Network: "Network",
  Unknown: "Unknown",
} as const;
/** One of {@link KubeErrorKind}. */
export type KubeErrorKind = (typeof KubeErrorKind)[keyof typeof KubeErrorKind];

/** One field-level cause from a 422 Status (`details.causes[]`). */
export interface FieldCause {
  field?: string;
  reason?: string;
  message?: string;
}

/** What the caller was doing, so messages can name the verb and resource (RBAC gaps must be obvious). */
export interface RequestContext {
  verb?: string;
  /** Plural resource, optionally `plural.group` (e.g. `rollouts.vireo.dev`). */
  resource?: string;
  namespace?: string;
  name?: string;
}

/**
 * A classified Kubernetes API failure. Carries only log-safe data: the Status message, never request headers,
 * bodies or URLs with credentials. The original error is kept as `cause` (sanitize before logging it).
 */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  readonly kind: KubeErrorKind;
  /** HTTP status code, when there was a response. */
  readonly status: number | undefined;
  /** `Status.reason` from the API server (e.g. `AlreadyExists`, `Expired`). */
  readonly reason: string | undefined;
  /** `Status.message` from the API server as it wrote it (the plugin quotes it in its own sentences). */
  readonly serverMessage: string | undefined;
  readonly causes: readonly FieldCause[];
  /** Seconds from `Retry-After` / `Status.details.retryAfterSeconds`, when given. */
  readonly retryAfterSeconds: number | undefined;
  readonly context: RequestContext;

  constructor(
    kind: KubeErrorKind,
    message: string,
    extra: {
      status?: number;
      reason?: string;
      serverMessage?: string;
      causes?: FieldCause[];
      retryAfterSeconds?: number;
      context?: RequestContext;
      cause?: unknown;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.kind = kind;
    this.status = extra.status;
    this.reason = extra.reason;
    this.serverMessage = extra.serverMessage;
    this.causes = extra.causes ?? [];
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.context = extra.context ?? {};
  }

  /** A log-friendly summary without the `cause` chain. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      status: this.status,
      reason: this.reason,
      message: this.message,
      causes: this.causes.length > 0 ? this.causes : undefined,
      retryAfterSeconds: this.retryAfterSeconds,
      ...this.context,
    };
  }
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: FieldCause[];
    retryAfterSeconds?: number;
  };
}

/**
 * Error codes (Node's, undici's) saying the peer could not be reached or the connection broke before an answer:
 * worth retrying, whoever the peer is (the API server, Prometheus).
 */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

/**
 * Normalizes anything thrown by our requests (or client-node's ApiException, in tools), the watch stream or the network
 * into a {@link KubeApiError}. Idempotent: a KubeApiError is returned as-is (context filled in if missing).
 */
export function classifyError(err: unknown, context: RequestContext = {}): KubeApiError {
  if (err instanceof KubeApiError) {
    if (Object.keys(err.context).length > 0 || Object.keys(context).length === 0) return err;
    return new KubeApiError(err.kind, err.message, {
      status: err.status,
      reason: err.reason,
      serverMessage: err.serverMessage,
      causes: [...err.causes],
      retryAfterSeconds: err.retryAfterSeconds,
      context,
      cause: err.cause,
    });
  }
  const status = statusCodeOf(err);
  if (status !== undefined)
    return fromStatus(status, parseStatusBody(err), retryAfterHeader(err), context, err);
  if (isNetworkError(err)) {
    return new KubeApiError(
      KubeErrorKind.Network,
      `${describe(context)}: network error: ${networkDetail(err)}`,
      {
        context,
        cause: err,
      },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new KubeApiError(KubeErrorKind.Unknown, `${describe(context)}: ${message}`, { context, cause: err });
}

/** True for failures worth retrying unchanged soon: conflicts, throttling, 5xx and network errors. */
export function isRetryable(err: unknown): boolean {
  const kind = classifyError(err).kind;
  return (
    kind === KubeErrorKind.Conflict ||
    kind === KubeErrorKind.TooManyRequests ||
    kind === KubeErrorKind.ServerError ||
    kind === KubeErrorKind.Network
  );
}

/** True when the API server answered 404. */
export const isNotFound = (err: unknown): boolean => classifyError(err).kind === KubeErrorKind.NotFound;
/** True for a 409 optimistic-concurrency conflict (not AlreadyExists). */
export const isConflict = (err: unknown): boolean => classifyError(err).kind === KubeErrorKind.Conflict;
/** True for a 409 with reason AlreadyExists. */
export const isAlreadyExists = (err: unknown): boolean =>
  classifyError(err).kind === KubeErrorKind.AlreadyExists;

function fromStatus(
  status: number,
  body: StatusBody | undefined,
  retryAfter: number | undefined,
  context: RequestContext,
  cause: unknown,
): KubeApiError {
  const serverMessage = body?.message;
  const reason = body?.reason;
  const what = describe(context);
  const hint = body?.details?.retryAfterSeconds ?? retryAfter;
  const retryAfterSeconds = hint === undefined ? undefined : Math.min(hint, MAX_RETRY_AFTER_MS / 1000);
  const extra = { status, reason, serverMessage, retryAfterSeconds, context, cause };
  const withServer = (m: string): string => (serverMessage ? `${m}: ${serverMessage}` : m);
  switch (true) {
    case status === 404:
      return new KubeApiError(KubeErrorKind.NotFound, withServer(`${what}: not found`), extra);
    case status === 409 && reason === "AlreadyExists":
      return new KubeApiError(KubeErrorKind.AlreadyExists, withServer(`${what}: already exists`), extra);
    case status === 409:
      return new KubeApiError(
        KubeErrorKind.Conflict,
        withServer(`${what}: conflict (object changed, re-read)`),
        extra,
      );
    case status === 410:
      return new KubeApiError(KubeErrorKind.Gone, withServer(`${what}: resource version too old`), extra);
    case status === 403:
      return new KubeApiError(
        KubeErrorKind.Forbidden,
        withServer(
          `RBAC: forbidden to ${context.verb ?? "access"} ${resourceOf(context, body)}` +
            `${context.namespace ? ` in namespace ${context.namespace}` : ""}` +
            " — grant this verb on this resource to the controller's ServiceAccount",
        ),
        extra,
      );
    case status === 401:
      return new KubeApiError(
        KubeErrorKind.Unauthorized,
        `${what}: unauthorized (credentials rejected or expired)`,
        extra,
      );
    case status === 422: {
      const causes = body?.details?.causes ?? [];
      const fields = causes.map((c) => `${c.field ?? "?"}: ${c.message ?? c.reason ?? "invalid"}`).join("; ");
      return new KubeApiError(KubeErrorKind.Invalid, `${what}: invalid${fields ? ` (${fields})` : ""}`, {
        ...extra,
        causes,
      });
    }
    case status === 400:
      return new KubeApiError(KubeErrorKind.BadRequest, withServer(`${what}: bad request`), extra);
    case status === 429:
      return new KubeApiError(
        KubeErrorKind.TooManyRequests,
        withServer(`${what}: throttled by the API server`),
        extra,
      );
    case status >= 500:
      return new KubeApiError(
        KubeErrorKind.ServerError,
        withServer(`${what}: server error ${status}`),
        extra,
      );
    default:
      return new KubeApiError(KubeErrorKind.Unknown, withServer(`${what}: HTTP ${status}`), extra);
  }
}

function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; status?: unknown };
  // Watch errors carry `statusCode`; a Status object from a watch ERROR event carries a numeric `code`.
  for (const v of [e.statusCode, e.code, e.status]) {
    if (typeof v === "number" && v >= 100 && v < 600) return v;
  }
  return undefined;
}

function parseStatusBody(err: unknown): StatusBody | undefined {
  const raw = (err as { body?: unknown }).body;
  const body = raw === undefined ? (looksLikeStatus(err) ? err : undefined) : raw;
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === "object" && parsed !== null ? (parsed as StatusBody) : undefined;
    } catch {
      return undefined;
    }
  }
  if (Buffer.isBuffer(body)) return parseStatusBody({ body: body.toString("utf8") });
  return typeof body === "object" && body !== null ? (body as StatusBody) : undefined;
}

function looksLikeStatus(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "Status";
}

function retryAfterHeader(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, unknown> }).headers;
  const v = headers?.["retry-after"] ?? headers?.["Retry-After"];
  const ms = typeof v === "string" ? parseRetryAfter(v) : undefined;
  return ms === undefined ? undefined : ms / 1000;
}

function isNetworkError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const name = (err as { name?: unknown }).name;
  if (name === "AbortError" || name === "TimeoutError") return true;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if ((e as { message?: unknown }).message === "fetch failed") return true;
  }
  return false;
}

function networkDetail(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const name = (e as { name?: unknown }).name;
    parts.push(typeof code === "string" ? code : typeof name === "string" ? name : "error");
  }
  return [...new Set(parts)].join(" <- ");
}

function describe(context: RequestContext): string {
  const target = context.name
    ? `${context.namespace ? `${context.namespace}/` : ""}${context.name}`
    : context.namespace
      ? `in ${context.namespace}`
      : "";
  const head = [context.verb, context.resource, target].filter(Boolean).join(" ");
  return head || "kubernetes request";
}

function resourceOf(context: RequestContext, body: StatusBody | undefined): string {
  if (context.resource) return context.resource;
  const kind = body?.details?.kind;
  const group = body?.details?.group;
  return kind ? `${kind}${group ? `.${group}` : ""}` : "the resource";
}

/** GETs `path`; undefined when the object does not exist (404), every other error thrown. */
export async function getOrUndefined<T>(
  client: { request<R>(options: { path: string }): Promise<R> },
  path: string,
): Promise<T | undefined> {
  try {
    return await client.request<T>({ path });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
