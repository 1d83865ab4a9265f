// Emits events.k8s.io/v1 Events, folding repeats of the same event into the existing Event's `series`.
import { type Clock, systemClock } from "./clock.ts";
import { classifyError, KubeErrorKind } from "./errors.ts";
import { type EventsApi, microTime } from "./kube-apis.ts";
import { type KubeLogger, silentLogger } from "./logger-port.ts";
import { LruMap } from "./lru.ts";

/** The object an Event is about (a Rollout, usually). */
export interface EventRegarding {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** What happened. */
export interface EventSpec {
  type: "Normal" | "Warning";
  /** Short UpperCamelCase reason that tooling can switch on (e.g. `CanaryWeightIncreased`). */
  reason: string;
  /** Machine-readable action taken or failed (e.g. `SetWeight`). */
  action: string;
  /** Human-readable description; truncated to 1 KiB. */
  note: string;
}

/**
 * An Event that is the record of one thing that happened once (a milestone already kept in status): it is created
 * under `name`, and only once. Recording it again is a no-op here and an `AlreadyExists` at the API server, so a
 * successor, or a later reconcile after a failed write, can record it again without a second Event.
 */
export interface EventIdentity {
  /** The Event's name, derived from what it records. */
  name: string;
  /** When it happened (ms since the epoch), for `eventTime`; default now. */
  at?: number;
}

/** Options for {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Event calls ({@link eventsApi} over the clients). */
  events: EventsApi;
  /** `reportingInstance`: this controller replica (the leader-election identity). */
  identity: string;
  /** `reportingController` (default `vireo.dev/controller`). */
  controller?: string;
  /** Repeats within this window update the existing Event's series (default 10 min). */
  seriesWindowMs?: number;
  /** Remembered distinct events (default 4096). */
  cacheSize?: number;
  clock?: Clock;
  logger?: KubeLogger;
}

interface Seen {
  eventName: string;
  namespace: string;
  count: number;
  firstSeen: number;
}

const MAX_NOTE_BYTES = 1024;
const MAX_FIELD = 128;

/**
 * Best-effort Event recorder. {@link record} never rejects: failures are logged, because an Event must never
 * fail a reconcile. Identical events (same object, type, reason, note) within the series window become one
 * Event with `series.count`/`series.lastObservedTime`, like client-go's events/v1 broadcaster. Named Events
 * ({@link EventIdentity}) are created once each instead, so their caller can record them again until one lands.
 */
export class EventRecorder {
  readonly #api: EventsApi;
  readonly #identity: string;
  readonly #controller: string;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #log: KubeLogger;
  readonly #seen: LruMap<string, Seen>;
  /** Named Events known to exist (created here, or refused as already there), by namespace/name. */
  readonly #named: LruMap<string, true>;
  // Serializes writes per event key so two quick repeats cannot both create a new Event.
  readonly #inflight = new Map<string, Promise<void>>();
  #lastEventMicros = 0;

  constructor(options: EventRecorderOptions) {
    this.#api = options.events;
    this.#identity = truncate(options.identity, MAX_FIELD);
    this.#controller = options.controller ?? "vireo.dev/controller";
    this.#windowMs = options.seriesWindowMs ?? 10 * 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#seen = new LruMap(options.cacheSize ?? 4096);
    this.#named = new LruMap(options.cacheSize ?? 4096);
  }

  /**
   * Records an Event about `regarding`; resolves when written (or when the failure has been logged). With
   * `identity`, the Event is created once under its name and never folded into another's series (see
   * {@link EventIdentity}); a failed write is forgotten, so the next call tries again.
   */
  record(regarding: EventRegarding, spec: EventSpec, identity?: EventIdentity): Promise<void> {
    const note = truncateBytes(spec.note, MAX_NOTE_BYTES);
    const key = identity
      ? `name\u0000${identity.name}`
      : [regarding.uid ?? "", regarding.namespace, regarding.name, spec.type, spec.reason, note].join(
          "\u0000",
        );
    const previous = this.#inflight.get(key) ?? Promise.resolve();
    const next = previous
      .then(() =>
        identity
          ? this.#writeOnce(identity, regarding, { ...spec, note })
          : this.#write(key, regarding, { ...spec, note }),
      )
      .catch((err: unknown) => {
        this.#log.warn(
          {
            err: classifyError(err),
            reason: spec.reason,
            object: `${regarding.namespace}/${regarding.name}`,
          },
          "failed to record event",
        );
      })
      .finally(() => {
        if (this.#inflight.get(key) === next) this.#inflight.delete(key);
      });
    this.#inflight.set(key, next);
    return next;
  }

  async #write(key: string, regarding: EventRegarding, spec: EventSpec): Promise<void> {
    const now = this.#clock.now();
    const seen = this.#seen.get(key);
    if (seen && now - seen.firstSeen < this.#windowMs) {
      const count = seen.count + 1;
      try {
        await this.#api.patchNamespacedEvent({
          name: seen.eventName,
          namespace: seen.namespace,
          body: { series: { count, lastObservedTime: microTime(now) } },
        });
        seen.count = count;
        return;
      } catch (err) {
        // The Event expired (event TTL) or was deleted: start a fresh one below.
        if (classifyError(err).kind !== KubeErrorKind.NotFound) throw err;
      }
    }
    const namespace = regarding.namespace || "default";
    const eventName = `${truncate(regarding.name, 200)}.${now.toString(16)}${Math.floor(
      Math.random() * 0xffff,
    )
      .toString(16)
      .padStart(4, "0")}`;
    await this.#create(eventName, namespace, this.#eventTime(now), regarding, spec);
    this.#seen.set(key, { eventName, namespace, count: 1, firstSeen: now });
  }

  /** Creates the Event named by `identity` unless this recorder or the API server already has it. */
  async #writeOnce(identity: EventIdentity, regarding: EventRegarding, spec: EventSpec): Promise<void> {
    const namespace = regarding.namespace || "default";
    const known = `${namespace}/${identity.name}`;
    if (this.#named.get(known)) return;
    const eventTime = identity.at === undefined ? this.#eventTime(this.#clock.now()) : microTime(identity.at);
    try {
      await this.#create(identity.name, namespace, eventTime, regarding, spec);
    } catch (err) {
      // Recorded before: by this recorder's earlier attempt whose answer was lost, or by another replica.
      if (classifyError(err).kind !== KubeErrorKind.AlreadyExists) throw err;
    }
    this.#named.set(known, true);
  }

  async #create(
    name: string,
    namespace: string,
    eventTime: string,
    regarding: EventRegarding,
    spec: EventSpec,
  ): Promise<void> {
    const body = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name, namespace },
      eventTime,
      type: spec.type,
      reason: truncate(spec.reason, MAX_FIELD),
      action: truncate(spec.action, MAX_FIELD),
      note: spec.note,
      regarding: { ...regarding },
      reportingController: this.#controller,
      reportingInstance: this.#identity,
    };
    await this.#api.createNamespacedEvent({ namespace, body });
  }

  /**
   * `now`, but strictly after the previous new Event's time: the Events of one decision are recorded in the same
   * millisecond, in the order decided, and a reader sorting by eventTime should see them in that order.
   */
  #eventTime(now: number): string {
    const micros = Math.max(now * 1000, this.#lastEventMicros + 1);
    this.#lastEventMicros = micros;
    return microTime(Math.floor(micros / 1000), micros % 1000);
  }
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

/** Truncates to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateBytes(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, "utf8");
  if (buf.length <= maxBytes) return s;
  const marker = "…";
  let end = maxBytes - Buffer.byteLength(marker);
  // Step back over UTF-8 continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8") + marker;
}
