// Rate-limited delaying work queue of string keys, modelled on client-go's workqueue (dirty/processing sets), fair
// between namespaces.
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import { FairQueue } from "./fair-queue.ts";
import { MinHeap } from "./min-heap.ts";
import { TokenBucket } from "./token-bucket.ts";

/** Observation hooks; wire them to Prometheus (see telemetry/metrics.ts) or leave them out. */
export interface WorkQueueMetrics {
  /** Number of keys waiting to be handed to a worker (called on every change). */
  depth(n: number): void;
  /** A key entered the queue (de-duplicated adds are not counted). */
  added(): void;
  /** A key was re-queued through {@link WorkQueue.addRateLimited}. */
  retried(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  queueLatency(seconds: number): void;
  /** Seconds between {@link WorkQueue.get} and {@link WorkQueue.done} for a key. */
  workDuration(seconds: number): void;
}

/** Tuning for {@link WorkQueue}; defaults match controller-runtime's default rate limiter. */
export interface WorkQueueOptions {
  clock?: Clock;
  /** First per-key retry delay (default 5 ms), doubled on each consecutive failure. */
  baseDelayMs?: number;
  /** Cap for the per-key retry delay (default 5 min). */
  maxDelayMs?: number;
  /** Overall retry rate across all keys (default 10/s)… */
  qps?: number;
  /** …with this burst (default 100). */
  burst?: number;
  metrics?: WorkQueueMetrics;
}

interface Delayed {
  at: number;
  seq: number;
  key: string;
}

/**
 * A work queue with client-go semantics:
 * - a key is queued at most once however often it is added (the dirty set de-duplicates);
 * - a key handed to a worker is never handed to another until {@link done}; re-adds wait and are queued then;
 * - keys come out fair between namespaces (the part of `namespace/name` before the slash): the namespaces with
 *   ready keys take turns, each namespace's keys in the order of their (first pending) add. A namespace that floods
 *   the queue (a tenant annotating its Rollouts in a loop) delays another namespace's next key by at most one of its
 *   own keys, however many it queues: a key whose namespace had none ready waits for at most one key per other
 *   namespace with ready keys (then one reconcile each, on the workers);
 * - {@link addAfter} keeps the earliest pending deadline per key, with a single timer for the whole queue;
 * - {@link addRateLimited} backs off per key exponentially, bounded overall by a token bucket.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #metrics: WorkQueueMetrics | undefined;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #bucket: TokenBucket;

  /** Ready keys, one FIFO per namespace, served round-robin. */
  readonly #ready = new FairQueue<string>();
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #enqueuedAt = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];

  readonly #delayed = new MinHeap<Delayed>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  readonly #deadline = new Map<string, number>();
  #seq = 0;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  readonly #failures = new Map<string, number>();
  #shuttingDown = false;
  #drained: (() => void) | undefined;

  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics;
    this.#baseDelayMs = options.baseDelayMs ?? 5;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.#bucket = new TokenBucket(options.qps ?? 10, options.burst ?? 100, this.#clock);
  }

  /** Queues `key` now unless it is already queued; a key being processed is queued again at {@link done}. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#metrics?.added();
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Queues `key` after `delayMs`; if the key is already waiting with an earlier deadline, that one stands. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + delayMs;
    const existing = this.#deadline.get(key);
    if (existing !== undefined && existing <= at) return;
    this.#deadline.set(key, at);
    this.#delayed.push({ at, seq: this.#seq++, key });
    if (at < this.#timerAt) this.#arm(at);
  }

  /**
   * Queues `key` after its per-key exponential backoff, the overall token-bucket delay, or `notBeforeMs` (the
   * API server's `Retry-After` for the failure), whichever is longest.
   */
  addRateLimited(key: string, notBeforeMs = 0): void {
    if (this.#shuttingDown) return;
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const perKey = Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs);
    this.#metrics?.retried();
    this.addAfter(key, Math.max(perKey, this.#bucket.reserve(), notBeforeMs));
  }

  /** Resets the backoff of `key` (call after a successful reconcile). Does not remove a queued key. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** How many consecutive rate-limited re-adds `key` has had since the last {@link forget}. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /**
   * Waits for the next key and marks it as processing; the caller must call {@link done} with it.
   * Resolves `undefined` once the queue is shut down (keys still queued are then abandoned).
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `key` as finished; if it was re-added meanwhile it is queued again now. */
  done(key: string): void {
    if (!this.#processing.delete(key)) return;
    const started = this.#startedAt.get(key);
    this.#startedAt.delete(key);
    if (started !== undefined) this.#metrics?.workDuration((this.#clock.now() - started) / 1000);
    if (this.#shuttingDown) {
      if (this.#processing.size === 0) this.#drained?.();
      return;
    }
    if (this.#dirty.has(key)) this.#enqueue(key);
  }

  /** Number of keys ready to be handed out (not counting delayed or in-process keys). */
  len(): number {
    return this.#ready.size;
  }

  /** Number of keys currently held by workers. */
  processingCount(): number {
    return this.#processing.size;
  }

  /** Whether {@link shutDown} has been called. */
  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Stops the queue: waiting and future {@link get} calls resolve `undefined`, adds are ignored. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#delayed.clear();
    this.#deadline.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  /** Like {@link shutDown}, then resolves once every key handed out has been marked {@link done}. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#drained;
      this.#drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  #enqueue(key: string): void {
    this.#ready.push(namespaceOf(key), key);
    this.#enqueuedAt.set(key, this.#clock.now());
    const waiter = this.#waiters.shift();
    if (waiter) {
      // Hand over synchronously so the key is "processing" before any later add() runs.
      waiter(this.#take());
    } else {
      this.#metrics?.depth(this.len());
    }
  }

  #take(): string | undefined {
    const key = this.#ready.shift();
    if (key === undefined) return undefined;
    this.#dirty.delete(key);
    this.#processing.add(key);
    const now = this.#clock.now();
    const enqueued = this.#enqueuedAt.get(key);
    this.#enqueuedAt.delete(key);
    if (enqueued !== undefined) this.#metrics?.queueLatency((now - enqueued) / 1000);
    this.#startedAt.set(key, now);
    this.#metrics?.depth(this.len());
    return key;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (let top = this.#delayed.peek(); top !== undefined; top = this.#delayed.peek()) {
      // Entries superseded by an earlier deadline for the same key are stale; drop them lazily.
      if (this.#deadline.get(top.key) !== top.at) {
        this.#delayed.pop();
        continue;
      }
      if (top.at > now) {
        this.#arm(top.at);
        return;
      }
      this.#delayed.pop();
      this.#deadline.delete(top.key);
      this.add(top.key);
    }
  }
}

/** The namespace of a `namespace/name` key ("" for keys without one). */
function namespaceOf(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}
