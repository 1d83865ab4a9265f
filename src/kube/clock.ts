// Injectable time source and timers, so queues, electors and informers run on virtual time in tests.

/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = object;

/** Wall-clock time plus one-shot timers; the only way kube/ code observes time. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer created by {@link Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The longest delay a Node timer keeps (2^31 − 1 ms, about 24.8 days); Node runs a longer one after 1 ms, so a
 * work queue re-arming for a 30-day pause would spin.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock backed by `Date.now` and Node timers. A timer longer than {@link MAX_TIMER_MS} fires at that limit,
 * early: its caller checks the time and re-arms (the work queue does), which beats firing after 1 ms.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Resolves after `ms` on `clock`, or rejects with the signal's reason when `signal` aborts first.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `ms` scaled by a random factor in [1 - fraction, 1 + fraction], so replicas do not act in lockstep. */
export function jitter(ms: number, fraction: number, random: () => number = Math.random): number {
  return ms * (1 - fraction + 2 * fraction * random());
}
