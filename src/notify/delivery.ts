// Asynchronous, per-destination notification delivery: bounded queues, retries, 429 handling, de-duplication.
import { type Clock, sleep, systemClock } from "../kube/clock.ts";
import { FairQueue } from "../kube/fair-queue.ts";
import { sanitizeText } from "../telemetry/sanitize.ts";
import { type NotificationFilter, passesFilter } from "./filter.ts";
import type { NotificationMessage, RolloutRef } from "./message.ts";
import { DeliveryError, type Notifier } from "./notifier.ts";

/**
 * Outcome counted per attempt or message:
 * - `sent`: the destination accepted a message;
 * - `retried`: an attempt failed in a retryable way and another follows;
 * - `dropped`: a message was abandoned undelivered (queue full, attempts exhausted, shutdown);
 * - `failed`: the destination rejected a message permanently (e.g. HTTP 404, Slack `channel_is_archived`).
 */
export type DeliveryOutcome = "sent" | "retried" | "dropped" | "failed";

/** Counter hook, e.g. `vireo_notifications_total{destination,outcome}`; `destination` is the notifier's name. */
export interface DeliveryMetrics {
  inc(destination: string, outcome: DeliveryOutcome): void;
}

/** The logging this module needs (a pino logger fits). Payloads never carry URLs or tokens. */
export interface DeliveryLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link NotificationDelivery}; every field has a production default. */
export interface DeliveryOptions {
  /**
   * Messages waiting per destination; when full, the oldest waiting message of the namespace with the most waiting
   * is dropped. Default 100.
   */
  capacity?: number;
  /**
   * Messages one namespace may have waiting per destination (the default Slack is shared by every Rollout without
   * its own notifications); beyond it that namespace's own oldest is dropped. Default 20.
   */
  namespaceCapacity?: number;
  /** Attempts per message, the first included. Default 6. */
  maxAttempts?: number;
  /** First retry delay; doubled per attempt, with jitter. Default 1000 ms. */
  backoffBaseMs?: number;
  /** Cap on the retry delay (not on a 429's Retry-After). Default 60 000 ms. */
  backoffMaxMs?: number;
  /** Timeout of one request. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Overrides every notifier's minIntervalMs (tests). */
  minIntervalMs?: number;
  /** How many delivered ids are remembered for in-memory de-duplication. Default 10 000. */
  dedupeCapacity?: number;
  clock?: Clock;
  /** Random source in [0, 1) for jitter. */
  random?: () => number;
  metrics?: DeliveryMetrics;
  logger?: DeliveryLogger;
  /**
   * Whether `key` was already delivered to `destination` (a notifier's name) for `rollout`, e.g. because
   * it is in `status.notifications.delivered`: such messages are not queued again after a restart.
   */
  alreadyDelivered?: (rollout: RolloutRef, key: string, destination: string) => boolean;
  /** Called once per message and destination after the destination accepted it (record it in status). */
  onDelivered?: (rollout: RolloutRef, key: string, destination: string) => void;
  /**
   * Called once per message and destination that rejected it for good (HTTP 4xx other than 408/429, an invalid
   * URL, a permanent Slack answer), with the secret-free reason; the message is not tried again.
   */
  onFailed?: (rollout: RolloutRef, key: string, destination: string, reason: string) => void;
  /**
   * Asked before a permanent rejection is final: the destination as configured now (its URL read again from the
   * Secret), or undefined when that cannot be told. A rotated Secret's revoked URL answers 404 or `invalid_token`;
   * a different destination gets the message instead of it being marked failed.
   */
  refresh?: (rollout: RolloutRef, notifier: Notifier) => Promise<Notifier | undefined>;
}

/** What {@link NotificationDelivery.enqueue} did with a message. */
export type EnqueueResult = "queued" | "duplicate" | "already-delivered" | "filtered" | "closed";

interface Item {
  message: NotificationMessage;
  notifier: Notifier;
  dedupeId: string;
  /** Destinations this message was moved to after a permanent rejection (bounded by {@link MAX_REFRESHES}). */
  refreshes: number;
}

/** How often one message may move to a refreshed destination: a Secret that keeps changing cannot hold it forever. */
const MAX_REFRESHES = 3;
/** Idle lanes are forgotten once this many exist (a lane only remembers its destination's rate limit). */
const LANE_PRUNE_AT = 256;
/** A lane idle this long has no rate limit left to remember (Slack's is one message a second). */
const LANE_IDLE_MS = 60_000;

/** One destination: waiting messages (fair between namespaces) and at most one in flight. */
interface Lane {
  queue: FairQueue<Item>;
  running: boolean;
  lastRequestAt: number;
}

/**
 * Delivers notifications in the background so a slow or dead destination never delays a reconcile.
 * Each destination gets its own bounded queue and at most one request in flight; a message is retried
 * (exponential backoff with jitter, or a 429's Retry-After) before the next is sent, so each namespace's messages
 * arrive in the order they were enqueued. Namespaces sharing a destination take turns: a message of a namespace
 * with nothing waiting goes out after at most one message of each other namespace with messages waiting (plus the
 * one in flight), and a namespace holding {@link DeliveryOptions.namespaceCapacity} waiting messages drops its own
 * oldest, never another's. Messages are de-duplicated by `(destination, message.id)` in memory and by the caller's
 * {@link DeliveryOptions.alreadyDelivered} across restarts.
 */
export class NotificationDelivery {
  readonly #o: Required<
    Omit<
      DeliveryOptions,
      "minIntervalMs" | "metrics" | "logger" | "alreadyDelivered" | "onDelivered" | "onFailed" | "refresh"
    >
  > &
    Pick<
      DeliveryOptions,
      "minIntervalMs" | "metrics" | "logger" | "alreadyDelivered" | "onDelivered" | "onFailed" | "refresh"
    >;
  readonly #lanes = new Map<string, Lane>();
  /** Ids queued, in flight or delivered (insertion-ordered for eviction). */
  readonly #seen = new Map<string, true>();
  readonly #stop = new AbortController();
  #closing = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: DeliveryOptions = {}) {
    this.#o = {
      ...options,
      capacity: options.capacity ?? 100,
      namespaceCapacity: options.namespaceCapacity ?? 20,
      maxAttempts: options.maxAttempts ?? 6,
      backoffBaseMs: options.backoffBaseMs ?? 1000,
      backoffMaxMs: options.backoffMaxMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      dedupeCapacity: options.dedupeCapacity ?? 10_000,
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
    };
  }

  /**
   * Queues `message` for `notifier` and returns at once (never waits for the network). Messages filtered out
   * by `filter`, already delivered, or already queued for the same destination are not queued.
   */
  enqueue(notifier: Notifier, message: NotificationMessage, filter?: NotificationFilter): EnqueueResult {
    if (this.#closing) return "closed";
    if (!passesFilter(message, filter)) return "filtered";
    const dedupeId = `${notifier.destination}|${message.id}`;
    if (this.#seen.has(dedupeId)) return "duplicate";
    if (this.#o.alreadyDelivered?.(message.rollout, message.key, notifier.name)) return "already-delivered";
    this.#queue({ message, notifier, dedupeId, refreshes: 0 });
    return "queued";
  }

  /** Puts `item` on its destination's lane (made when missing), dropping the oldest waiting one when full. */
  #queue(item: Item): void {
    this.#remember(item.dedupeId);
    const destination = item.notifier.destination;
    let lane = this.#lanes.get(destination);
    if (!lane) {
      if (this.#lanes.size >= LANE_PRUNE_AT) this.#pruneLanes();
      lane = { queue: new FairQueue<Item>(), running: false, lastRequestAt: Number.NEGATIVE_INFINITY };
      this.#lanes.set(destination, lane);
    }
    const namespace = item.message.rollout.namespace;
    const full =
      lane.queue.sizeOf(namespace) >= this.#o.namespaceCapacity
        ? namespace
        : lane.queue.size >= this.#o.capacity
          ? heaviest(lane.queue)
          : undefined;
    if (full !== undefined) {
      const oldest = lane.queue.shiftFrom(full) as Item;
      this.#abandon(oldest, "dropped", `queue full: dropped the oldest waiting message of namespace ${full}`);
    }
    lane.queue.push(namespace, item);
    if (!lane.running) void this.#run(destination, lane);
  }

  /** Forgets idle lanes whose rate limit has long passed: rotated URLs must not pile up lanes forever. */
  #pruneLanes(): void {
    const now = this.#o.clock.now();
    for (const [destination, lane] of this.#lanes) {
      if (!lane.running && lane.queue.size === 0 && now - lane.lastRequestAt > LANE_IDLE_MS)
        this.#lanes.delete(destination);
    }
  }

  /** Messages waiting or in flight, over all destinations. */
  pending(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.queue.size + (lane.running ? 1 : 0);
    return n;
  }

  /**
   * Stops accepting messages and waits up to `timeoutMs` for queued ones to go out; then aborts in-flight
   * requests and drops what is left (counted). Resolves with the number of messages left undelivered.
   */
  async drain(timeoutMs: number): Promise<{ undelivered: number }> {
    this.#closing = true;
    if (this.pending() > 0) {
      const timeout = new AbortController();
      await Promise.race([this.#idle(), sleep(this.#o.clock, timeoutMs, timeout.signal).catch(() => {})]);
      timeout.abort();
    }
    const undelivered = this.pending();
    if (undelivered > 0) {
      this.#stop.abort(new Error("shutting down"));
      for (const lane of this.#lanes.values()) {
        for (const item of lane.queue.clear()) this.#abandon(item, "dropped", "shutdown before delivery");
      }
      await this.#idle();
    }
    return { undelivered };
  }

  async #run(destination: string, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      for (let item = lane.queue.shift(); item; item = lane.queue.shift()) {
        await this.#deliver(lane, item);
      }
    } catch (err) {
      // #deliver handles its own errors; this is a bug guard so a lane can never stay "running" forever.
      this.#o.logger?.warn({ error: sanitizeText(String(err)) }, "notification lane failed");
    } finally {
      lane.running = false;
      // Lanes are kept when idle: they remember when the destination was last called (its rate limit).
      if (lane.queue.size > 0 && !this.#stop.signal.aborted) void this.#run(destination, lane);
      if (this.pending() === 0) for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  /** Sends one message until it is accepted, rejected for good, out of attempts, or shut down. */
  async #deliver(lane: Lane, item: Item): Promise<void> {
    const { clock } = this.#o;
    const minInterval = this.#o.minIntervalMs ?? item.notifier.minIntervalMs ?? 0;
    for (let attempt = 1; ; attempt++) {
      if (this.#stop.signal.aborted)
        return this.#abandon(item, "dropped", "shutdown before delivery", attempt - 1);
      try {
        const wait = lane.lastRequestAt + minInterval - clock.now();
        if (wait > 0) await sleep(clock, wait, this.#stop.signal);
        lane.lastRequestAt = clock.now();
        await this.#attempt(item);
      } catch (err) {
        if (this.#stop.signal.aborted)
          return this.#abandon(item, "dropped", "shutdown before delivery", attempt);
        const e = err instanceof DeliveryError ? err : new DeliveryError(describe(err), { retryable: true });
        if (!e.retryable) {
          if (await this.#moved(item)) return;
          return this.#abandon(item, "failed", e.message, attempt, e.detail);
        }
        if (attempt >= this.#o.maxAttempts)
          return this.#abandon(item, "dropped", e.message, attempt, e.detail);
        this.#o.metrics?.inc(item.notifier.name, "retried");
        const delay = e.retryAfterMs ?? this.#backoff(attempt);
        try {
          await sleep(clock, delay, this.#stop.signal);
        } catch {
          return this.#abandon(item, "dropped", "shutdown before delivery", attempt);
        }
        continue;
      }
      this.#o.metrics?.inc(item.notifier.name, "sent");
      try {
        this.#o.onDelivered?.(item.message.rollout, item.message.key, item.notifier.name);
      } catch (err) {
        this.#o.logger?.warn({ error: sanitizeText(describe(err)) }, "onDelivered callback failed");
      }
      return;
    }
  }

  /**
   * Before a permanent rejection is final: asks for the destination again and, when it changed (a rotated Secret),
   * queues the message for the new one. True when the message moved.
   */
  async #moved(item: Item): Promise<boolean> {
    if (!this.#o.refresh || item.refreshes >= MAX_REFRESHES || this.#closing) return false;
    let fresh: Notifier | undefined;
    try {
      fresh = await this.#o.refresh(item.message.rollout, item.notifier);
    } catch (err) {
      this.#o.logger?.warn({ error: sanitizeText(describe(err)) }, "notification destination refresh failed");
      return false;
    }
    if (!fresh || fresh.destination === item.notifier.destination || this.#stop.signal.aborted) return false;
    this.#o.metrics?.inc(item.notifier.name, "retried");
    this.#o.logger?.info(
      {
        destination: item.notifier.name,
        rollout: `${item.message.rollout.namespace}/${item.message.rollout.name}`,
        key: item.message.key,
      },
      "destination rejected the notification but its Secret changed: sending to the new URL",
    );
    const dedupeId = `${fresh.destination}|${item.message.id}`;
    // Already queued for (or delivered to) the new URL by a later submit: that copy settles the message.
    if (!this.#seen.has(dedupeId))
      this.#queue({ message: item.message, notifier: fresh, dedupeId, refreshes: item.refreshes + 1 });
    return true;
  }

  /** One request, bounded by the request timeout even if the notifier ignores its signal. */
  async #attempt(item: Item): Promise<void> {
    const { clock, requestTimeoutMs } = this.#o;
    const ac = new AbortController();
    const timeoutError = new DeliveryError(`${item.notifier.name}: timeout`, {
      retryable: true,
      detail: `no answer within ${requestTimeoutMs} ms`,
    });
    let rejectOnAbort: (e: unknown) => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      rejectOnAbort = reject;
    });
    const onStop = () => ac.abort(this.#stop.signal.reason);
    const onAbort = () => rejectOnAbort(ac.signal.reason);
    ac.signal.addEventListener("abort", onAbort, { once: true });
    this.#stop.signal.addEventListener("abort", onStop, { once: true });
    const timer = clock.setTimeout(() => ac.abort(timeoutError), requestTimeoutMs);
    try {
      await Promise.race([item.notifier.send(item.message, ac.signal), aborted]);
    } catch (err) {
      // A timeout surfaces as our timeout error, whatever the notifier turned the abort into.
      throw ac.signal.aborted && ac.signal.reason === timeoutError ? timeoutError : err;
    } finally {
      clock.clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", onStop);
      ac.signal.removeEventListener("abort", onAbort);
    }
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so retries of many messages spread. */
  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#o.backoffMaxMs, this.#o.backoffBaseMs * 2 ** (attempt - 1));
    return ceiling / 2 + (ceiling / 2) * this.#o.random();
  }

  /**
   * Gives a message up. `reason` (`<destination>: <outcome class>`) is what the tenant may read, through onFailed;
   * `detail` (status code, the policy's reason) goes only into the controller's log.
   */
  #abandon(item: Item, outcome: "dropped" | "failed", reason: string, attempts = 0, detail?: string): void {
    this.#o.metrics?.inc(item.notifier.name, outcome);
    // A transient give-up may be retried by a later enqueue (the next reconcile); a permanent rejection may not.
    if (outcome === "dropped") this.#seen.delete(item.dedupeId);
    this.#o.logger?.warn(
      {
        destination: item.notifier.name,
        rollout: `${item.message.rollout.namespace}/${item.message.rollout.name}`,
        key: item.message.key,
        attempts,
        error: sanitizeText(reason),
        ...(detail ? { detail: sanitizeText(detail) } : {}),
      },
      outcome === "failed" ? "notification rejected by destination" : "notification dropped",
    );
    if (outcome !== "failed") return;
    try {
      this.#o.onFailed?.(item.message.rollout, item.message.key, item.notifier.name, sanitizeText(reason));
    } catch (err) {
      this.#o.logger?.warn({ error: sanitizeText(describe(err)) }, "onFailed callback failed");
    }
  }

  #remember(id: string): void {
    this.#seen.set(id, true);
    while (this.#seen.size > this.#o.dedupeCapacity) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
    }
  }

  #idle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The namespace with the most messages waiting in a lane (the one to lose a message when the lane is full). */
function heaviest(queue: FairQueue<Item>): string {
  let most = "";
  for (const ns of queue.groups()) if (queue.sizeOf(ns) > queue.sizeOf(most)) most = ns;
  return most;
}
