// The API server's `Retry-After`, enforced for every request of a client: wait it out, then probe with one request.
import { type Clock, sleep } from "./clock.ts";

/** What a request's answer said about the server's load; see {@link BackoffGate.admit}. */
export type GateOutcome =
  /** The server asked for this back-off (429, or 5xx with `Retry-After`), in ms. */
  | { retryAfterMs: number }
  /** The server answered without asking for one. */
  | "answered"
  /** No answer (network error, timeout, abort): says nothing about the server's load. */
  | "failed";

/**
 * A shared gate in front of every request to one API server. After an answer with `Retry-After` nothing is sent
 * until that time has passed — whoever sends it (status writer, informer, elector's reads, a retry loop) — and
 * then a single request goes first, as a probe: the others wait for its answer. Another rejection closes the gate
 * again; any other answer opens it for all. So a server shedding load (API Priority and Fairness rejects with
 * 429 and a `Retry-After` it doubles, up to 32 s, while it keeps dropping) gets one request per window from us
 * instead of every caller's retry, and a controller with many workers does not answer a 429 with a burst.
 */
export class BackoffGate {
  readonly #clock: Clock;
  #until = 0;
  #throttled = false;
  #probe: Promise<void> | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Milliseconds until the gate opens (0 when open or only a probe is pending). */
  closedFor(): number {
    return Math.max(0, this.#until - this.#clock.now());
  }

  /**
   * Waits until a request may be sent, then returns the function to call with its outcome (exactly once).
   * @throws the signal's reason when `signal` aborts while waiting
   */
  async admit(signal?: AbortSignal): Promise<(outcome: GateOutcome) => void> {
    for (;;) {
      const ms = this.#until - this.#clock.now();
      if (ms > 0) {
        await sleep(this.#clock, ms, signal);
        continue;
      }
      if (!this.#throttled) return (outcome) => this.record(outcome);
      if (this.#probe) {
        await untilSettled(this.#probe, signal);
        continue;
      }
      let release = () => {};
      const probe = new Promise<void>((resolve) => {
        release = resolve;
      });
      this.#probe = probe;
      return (outcome) => {
        if (this.#probe === probe) this.#probe = undefined;
        this.record(outcome);
        release();
      };
    }
  }

  /** Records the outcome of a request that did not pass the gate (Lease renewals): a 429 still closes it. */
  record(outcome: GateOutcome): void {
    if (outcome === "failed") return;
    if (outcome === "answered") {
      this.#throttled = false;
      return;
    }
    this.#throttled = true;
    this.#until = Math.max(this.#until, this.#clock.now() + outcome.retryAfterMs);
  }
}

/** Resolves when `p` settles, or rejects with the signal's reason when `signal` aborts first. */
function untilSettled(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
