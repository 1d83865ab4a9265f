// The API server's clock, estimated from the `Date` header of its answers: the time base every instance shares.
//
// Why the engine runs on the API server's time rather than this process's: everything the engine measures time
// against was written by *some* instance — `stepStartedAt`, `pausedAt`, the progress deadline's start — and after a
// failover the next leader reads it with its own clock. A leader whose clock is 40 s ahead would end a 60 s pause
// after 20 s and fire a progress deadline 40 s early (a spurious rollback). Every instance talks to the same API
// server, so its clock is the one reference they can all agree on, whatever NTP does on their nodes.
//
// Why a full correction rather than a skew check with a bounded one: the error we must remove is exactly the skew.
// A bound would leave the residue in precisely the case that matters (a badly skewed node), and a condition alone
// tells the user about a rollback after it happened. The correction is an offset, so durations measured on this
// process (timers, the lease) are unaffected; the offset is exported (`vireo_clock_skew_seconds`) and logged when
// it exceeds a second, so a skewed node is still visible.

/** One answer: the server's `Date` (second resolution) was taken somewhere between `sentAt` and `receivedAt`. */
interface Bounds {
  /** Lowest possible offset (server − local), ms. */
  lo: number;
  /** Highest possible offset, ms. */
  hi: number;
  /** Local time of the answer, ms (samples older than the window are forgotten, so drift cannot pile up). */
  at: number;
}

/** Options for {@link ServerClock}. */
export interface ServerClockOptions {
  /** This process's clock (default `Date.now`); the estimate is an offset against it. */
  localNow?: () => number;
  /** Samples older than this are forgotten (default 10 min): clocks drift, and a stepped clock must be re-learned. */
  windowMs?: number;
  /** Most samples kept (default 64). */
  maxSamples?: number;
}

/**
 * Estimates the API server's clock from answers' `Date` headers. A header has one-second resolution, but each
 * answer bounds the offset (server − local) to an interval: the server stamped a time in `[D, D + 1 s)` at a local
 * time in `[sentAt, receivedAt]`. Intersecting the intervals of recent answers narrows it to a few milliseconds
 * once answers have landed on both sides of a second boundary; the estimate is the midpoint. When the intervals no
 * longer intersect (a clock was stepped), the older ones are dropped. Before any answer the offset is 0.
 */
export class ServerClock {
  readonly #localNow: () => number;
  readonly #windowMs: number;
  readonly #maxSamples: number;
  #samples: Bounds[] = [];
  #lo = Number.NEGATIVE_INFINITY;
  #hi = Number.POSITIVE_INFINITY;

  constructor(options: ServerClockOptions = {}) {
    this.#localNow = options.localNow ?? Date.now;
    this.#windowMs = options.windowMs ?? 10 * 60_000;
    this.#maxSamples = options.maxSamples ?? 64;
  }

  /**
   * Records one answer (wire to `createKubeClients({ onServerDate })`).
   * @param date the answer's `Date` header (RFC 9110 IMF-fixdate); unparsable values are ignored
   * @param sentAt local time the request was sent
   * @param receivedAt local time the answer's headers arrived
   */
  observe(date: string, sentAt: number, receivedAt: number): void {
    const server = Date.parse(date);
    if (!Number.isFinite(server) || receivedAt < sentAt) return;
    const sample = { lo: server - receivedAt, hi: server + 1000 - sentAt, at: receivedAt };
    const oldest = receivedAt - this.#windowMs;
    this.#samples = [...this.#samples.filter((s) => s.at >= oldest), sample].slice(-this.#maxSamples);
    // Newest first: keep every sample that still agrees with the newer ones, drop the rest (a stepped clock).
    let lo = Number.NEGATIVE_INFINITY;
    let hi = Number.POSITIVE_INFINITY;
    const kept: Bounds[] = [];
    for (let i = this.#samples.length - 1; i >= 0; i--) {
      const s = this.#samples[i] as Bounds;
      const nlo = Math.max(lo, s.lo);
      const nhi = Math.min(hi, s.hi);
      if (nlo > nhi) break;
      lo = nlo;
      hi = nhi;
      kept.unshift(s);
    }
    this.#samples = kept;
    this.#lo = lo;
    this.#hi = hi;
  }

  /** Whether any answer has been seen (until then {@link offsetMs} is 0). */
  known(): boolean {
    return this.#samples.length > 0;
  }

  /** The API server's clock minus ours, ms (positive: the server is ahead). */
  offsetMs(): number {
    return this.known() ? Math.round((this.#lo + this.#hi) / 2) : 0;
  }

  /** Half the width of the interval the offset is known to lie in, ms (500 after a single answer). */
  uncertaintyMs(): number {
    return this.known() ? Math.round((this.#hi - this.#lo) / 2) : Number.POSITIVE_INFINITY;
  }

  /** The API server's current time, ms since the epoch. */
  now(): number {
    return this.#localNow() + this.offsetMs();
  }
}
