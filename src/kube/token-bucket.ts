// Token bucket shared by the work queue's overall retry limit and the client-side QPS/burst limit.
import type { Clock } from "./clock.ts";

/**
 * A token bucket refilled at `qps` tokens per second up to `burst`. Reservations may drive the balance
 * negative: that is how a caller learns how long to wait (golang.org/x/time/rate `Reserve` semantics).
 */
export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  /**
   * @param qps refill rate in tokens per second; `Infinity` disables limiting
   * @param burst bucket capacity (and initial balance)
   */
  constructor(qps: number, burst: number, clock: Clock) {
    if (!(qps > 0) || !(burst >= 1))
      throw new RangeError(`token bucket needs qps > 0 and burst >= 1 (got ${qps}, ${burst})`);
    this.#qps = qps;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#last = clock.now();
  }

  /** Takes one token and returns how many milliseconds the caller must wait before using it (0 = now). */
  reserve(): number {
    if (this.#qps === Number.POSITIVE_INFINITY) return 0;
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#qps) * 1000);
  }
}
