// Parses an HTTP `Retry-After` header (RFC 9110 §10.2.3), shared by the API-server pipeline and webhook delivery.

/**
 * Longest back-off an API server's `Retry-After` may impose. API Priority and Fairness doubles its hint up to 32 s;
 * a larger value (a proxy's, a misconfiguration) is capped so one answer cannot silence the controller for hours.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * `Retry-After` — delta-seconds or an HTTP date — as milliseconds from `now`, at most `maxMs`.
 * @returns undefined when the header is absent or unparsable
 */
export function parseRetryAfter(
  value: string | undefined,
  now = Date.now(),
  maxMs = Number.POSITIVE_INFINITY,
): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.min(Number(v) * 1000, maxMs);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), maxMs);
}
