// Small bounded retry for single API writes (status patches, metadata patches): not a substitute for requeueing.
import { type Clock, jitter, sleep, systemClock } from "./clock.ts";
import { classifyError, type KubeApiError, type RequestContext } from "./errors.ts";
import { MAX_RETRY_AFTER_MS } from "./retry-after.ts";

/** Options for {@link withRetry}. */
export interface RetryOptions {
  /** Total attempts including the first (default 4). */
  attempts?: number;
  /** First backoff (default 50 ms), doubled each time, ±20 % jitter. */
  baseDelayMs?: number;
  /** Upper bound for our own backoff (default 1 s); a server's longer Retry-After is honoured in full. */
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
      const backoff = Math.min(max, jitter(base * 2 ** (attempt - 1), 0.2));
      // The server knows its load; retrying sooner than it asked only adds to it (and is refused again).
      const serverHint = Math.min(MAX_RETRY_AFTER_MS, (err.retryAfterSeconds ?? 0) * 1000);
      await sleep(clock, Math.max(backoff, serverHint));
    }
  }
}
