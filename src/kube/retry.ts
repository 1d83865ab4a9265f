// Small bounded retry for single API writes (status patches, metadata patches): not a substitute for requeueing.
import { type Clock, jitter, sleep, systemClock } from "./clock.ts";
import { classifyError, type KubeApiError, type RequestContext } from "./errors.ts";

/** Options for {@link withRetry}. */
export interface RetryOptions {
  /** Total attempts including the first (default 4). */
  attempts?: number;
  /** First backoff (default 50 ms), doubled each time, ±20 % jitter. */
  baseDelayMs?: number;
  /** Upper bound for any single wait, including a server's Retry-After (default 1 s). */
  maxDelayMs?: number;
  /** Which classified errors to retry (default: {@link isRetryable} semantics). */
  retryOn?: (err: KubeApiError) => boolean;
  clock?: Clock;
  context?: RequestContext;
}

const DEFAULT_RETRY_ON = (e: KubeApiError): boolean =>
  e.kind === "Conflict" || e.kind === "TooManyRequests" || e.kind === "ServerError" || e.kind === "Network";

/**
 * Runs `fn`, retrying classified retryable failures a few times with short exponential backoff. Throws the
 * last error, classified. Kept short on purpose: the work queue's rate limiter handles longer outages.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 50;
  const max = options.maxDelayMs ?? 1000;
  const clock = options.clock ?? systemClock;
  const retryOn = options.retryOn ?? DEFAULT_RETRY_ON;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (raw) {
      const err = classifyError(raw, options.context);
      if (attempt >= attempts || !retryOn(err)) throw err;
      const backoff = jitter(base * 2 ** (attempt - 1), 0.2);
      const serverHint = err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : 0;
      await sleep(clock, Math.min(max, Math.max(backoff, serverHint)));
    }
  }
}
