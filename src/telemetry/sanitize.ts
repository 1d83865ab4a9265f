// Strips credentials from URLs and errors before they reach a log line (axios errors embed webhook URLs).

// Network URLs only: `file://` and `node:` frames in stack traces stay readable.
const URL_IN_TEXT = /\b(?:https?|wss?|ftp):\/\/[^\s"'<>]+/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const REDACTED = "[REDACTED]";

/**
 * Returns `url` without userinfo, query, fragment, and with path segments that look like secrets replaced.
 * A segment is treated as secret when it is long (≥ 20 chars) or mixes letters and digits over ≥ 8 chars —
 * which covers Slack/Teams webhook paths (`/services/T0…/B0…/xyz…`) while keeping `/api/v1/query` readable.
 * Unparseable input is fully redacted.
 */
export function sanitizeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return REDACTED;
  }
  const path = u.pathname
    .split("/")
    .map((seg) => (looksSecret(decodeSafe(seg)) ? "***" : seg))
    .join("/");
  return `${u.protocol}//${u.host}${path}`;
}

/** Replaces every URL and bearer/basic credential inside free text. */
export function sanitizeText(text: string): string {
  return text
    .replace(URL_IN_TEXT, (m) => sanitizeUrl(m))
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

/** A log-safe, plain-object view of an error. */
export interface SanitizedError {
  type: string;
  message: string;
  stack?: string;
  code?: string | number;
  status?: number;
  method?: string;
  url?: string;
  [extra: string]: unknown;
}

/**
 * Converts any thrown value into a log-safe object: keeps type, message, stack, code and HTTP status; for axios
 * errors keeps the method and a sanitized URL but drops `config`, `request`, `response` (headers, bodies, auth);
 * for Kubernetes errors keeps kind/reason/causes; recurses into `cause` (depth-limited). Every string is passed
 * through {@link sanitizeText}.
 */
export function sanitizeError(err: unknown, depth = 0): SanitizedError {
  if (alreadySanitized.has(err as object)) return err as SanitizedError;
  const out = sanitizeErrorUncached(err, depth);
  alreadySanitized.add(out);
  return out;
}

// Outputs of sanitizeError, so a second pass (formatter, then serializer) returns them unchanged.
const alreadySanitized = new WeakSet<object>();

function sanitizeErrorUncached(err: unknown, depth: number): SanitizedError {
  if (!(err instanceof Error) && (typeof err !== "object" || err === null)) {
    return { type: typeof err, message: sanitizeText(String(err)) };
  }
  const e = err as Error & Record<string, unknown>;
  const out: SanitizedError = {
    type: e.constructor?.name && e.constructor.name !== "Object" ? e.constructor.name : (e.name ?? "Error"),
    message: sanitizeText(typeof e.message === "string" ? e.message : String(e.message ?? "")),
  };
  if (typeof e.stack === "string") out.stack = sanitizeText(e.stack);
  if (typeof e.code === "string" || typeof e.code === "number") out.code = e.code;

  if (e.isAxiosError === true) {
    const config = e.config as { method?: string; url?: string; baseURL?: string } | undefined;
    const response = e.response as { status?: number } | undefined;
    if (config?.method) out.method = config.method.toUpperCase();
    if (config?.url)
      out.url = sanitizeUrl(config.baseURL ? new URL(config.url, config.baseURL).href : config.url);
    const status = response?.status ?? (typeof e.status === "number" ? e.status : undefined);
    if (status !== undefined) out.status = status;
  } else {
    // Kubernetes errors (KubeApiError) and other structured errors: copy a small allow-list of scalar fields.
    for (const k of ["kind", "reason", "statusCode", "retryAfterSeconds"] as const) {
      const v = e[k];
      if (typeof v === "string" || typeof v === "number")
        out[k] = typeof v === "string" ? sanitizeText(v) : v;
    }
    if (typeof e.status === "number") out.status = e.status;
    if (Array.isArray(e.causes) && e.causes.length > 0) out.causes = e.causes;
    if (typeof e.context === "object" && e.context !== null) out.context = e.context;
  }
  if (e.cause !== undefined && depth < 3) out.cause = sanitizeError(e.cause, depth + 1);
  // AggregateError (e.g. undici's happy-eyeballs connect failures) keeps its members in `errors`.
  const errors = e.errors;
  if (Array.isArray(errors) && depth < 3)
    out.errors = errors.slice(0, 5).map((x) => sanitizeError(x, depth + 1));
  return out;
}

/**
 * Deep-copies a log payload, replacing every Error found (up to `maxDepth` levels) with {@link sanitizeError},
 * so an axios error nested anywhere in a log object cannot leak its config.
 */
export function sanitizeErrorsDeep(value: unknown, maxDepth = 4): unknown {
  if (value instanceof Error) return sanitizeError(value);
  if (maxDepth <= 0 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => sanitizeErrorsDeep(v, maxDepth - 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const s = sanitizeErrorsDeep(v, maxDepth - 1);
    if (s !== v) changed = true;
    out[k] = s;
  }
  return changed ? out : value;
}

function looksSecret(seg: string): boolean {
  if (seg.length >= 20) return true;
  return seg.length >= 8 && /[a-z]/i.test(seg) && /\d/.test(seg);
}

function decodeSafe(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}
