// Supervised list+watch informer with an in-memory cache, restart backoff, a silence watchdog and resync.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiVersionOf } from "../api/object-meta.ts";
import type { KubeClients } from "./clients.ts";
import { type Clock, jitter, sleep, systemClock, type TimerHandle } from "./clock.ts";
import { classifyError, KubeApiError, KubeErrorKind } from "./errors.ts";
import { type KubeLogger, silentLogger } from "./logger-port.ts";
import { collectionPath, objectKey, type ResourceRef, resourceName } from "./resource.ts";
import { type WatchEvent, watchEvents } from "./watch-events.ts";

export type { ResourceRef } from "./resource.ts";

/** Options for {@link Informer}. */
export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  clients: Pick<KubeClients, "request" | "stream"> & Partial<Pick<KubeClients, "resetConnections">>;
  resource: ResourceRef;
  /** Watch one namespace only (default: all namespaces). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-emit every cached object as an update this often (default 10 min, ±10 % jitter; 0 disables). */
  resyncPeriodMs?: number;
  /**
   * Relist when a watch has received nothing (no event, bookmark, close or reconnect) for this long. Default: the
   * longest server-side watch timeout + {@link SILENCE_GRACE_MS} (35 s). Every healthy watch ends (and is renewed)
   * within `watchTimeoutSeconds`, so silence beyond it means a dead connection.
   */
  silenceLimitMs?: number;
  /** Server-side watch timeout; default random in [25, 30) s so replicas don't reconnect in lockstep. */
  watchTimeoutSeconds?: number;
  /** First restart delay after a failure (default 1 s), doubled per consecutive failure… */
  backoffBaseMs?: number;
  /** …up to this cap (default 30 s). */
  backoffMaxMs?: number;
  /** List page size (default 500). */
  pageSize?: number;
  /**
   * What the cache keeps of each object, applied as it arrives (each list page, each watch event), so the object as
   * the API server sent it is garbage at once. Handlers and readers see only the projection. Default
   * {@link slim}: everything but `metadata.managedFields` and kubectl's last-applied copy.
   */
  project?: (obj: T) => T;
  clock?: Clock;
  logger?: KubeLogger;
}

/** Counters describing the informer's life, for tests, logs and health. */
export interface InformerStats {
  lists: number;
  watches: number;
  /** Restarts after a failure (error, abrupt disconnect, 410 Gone). */
  failures: number;
  /** Restarts forced by the silence watchdog. */
  watchdogRestarts: number;
  resyncs: number;
  resourceVersion: string;
  lastActivityAt: number;
}

type AddHandler<T> = (obj: T) => void;
type UpdateHandler<T> = (oldObj: T, newObj: T) => void;
type DeleteHandler<T> = (obj: T) => void;

/** What a watch event carries: an object, or a Status (with `code`) in an ERROR event. */
type Watched = KubernetesObject & { code?: number };

/**
 * Server-side watch timeouts. Short on purpose: they are the liveness signal. The API server sends a bookmark
 * about once a minute per watcher, and only when the resource's revision has moved past what the watcher has
 * (measured on 1.36 with bench/watch-bookmarks.ts: every 59–60 s on a busy resource; the first only after ~120 s on
 * a quiet one), so bookmarks alone cannot bound a dead connection's silence to seconds. A watch the server ends
 * every ≤ 30 s can: re-watching from the last resourceVersion costs one request per informer per ~27 s, served
 * from the API server's watch cache.
 */
const MIN_WATCH_TIMEOUT_S = 25;
const MAX_WATCH_TIMEOUT_S = 30;
/** How far past the longest watch timeout silence is tolerated (the server's close can be late under load). */
const SILENCE_GRACE_MS = 5000;
/** Liveness (`health()`) fails only after this much total silence: an API-server outage must not restart us. */
const MIN_HEALTH_LIMIT_MS = 5 * 60_000;

class WatchdogTimeout extends Error {
  override readonly name = "WatchdogTimeout";
}

/**
 * Keeps an in-memory copy of a resource and tells handlers about changes — client-go's reflector + informer,
 * supervised. Built directly on the counted HTTP pipeline rather than client-node's ListWatch, which does
 * not restart after an abrupt disconnect or error, requests no bookmarks, passes no old object to update
 * handlers, and whose Watch aborts after a fixed 30 s of inactivity (so quiet watches churn every 30 s).
 *
 * Life cycle: list (paginated) → watch from the list's resourceVersion with bookmarks → on graceful close
 * re-watch from the last resourceVersion; on 410 Gone relist; on error back off (1 s → 30 s) and re-watch;
 * on silence beyond `silenceLimitMs` (watchdog: 35 s by default, as the server ends every watch within 30 s)
 * drop the shared connection and relist.
 * Handlers run synchronously and must only enqueue.
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly #o: Required<
    Omit<InformerOptions<T>, "namespace" | "labelSelector" | "fieldSelector" | "watchTimeoutSeconds">
  > &
    InformerOptions<T>;
  readonly #clock: Clock;
  readonly #log: KubeLogger;
  readonly #what: string;
  readonly #path: string;

  #cache = new Map<string, T>();
  /** The same objects by namespace: handlers look up "Rollouts in this namespace" on every Deployment event. */
  #byNamespace = new Map<string, Map<string, T>>();
  readonly #onAdd = new Set<AddHandler<T>>();
  readonly #onUpdate = new Set<UpdateHandler<T>>();
  readonly #onDelete = new Set<DeleteHandler<T>>();

  #synced = false;
  #syncWaiters: Array<() => void> = [];
  #stop: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #attempt: AbortController | undefined;
  #attemptStartedAt = 0;
  #watchdogTimer: TimerHandle | undefined;
  #resyncTimer: TimerHandle | undefined;
  readonly #stats: InformerStats = {
    lists: 0,
    watches: 0,
    failures: 0,
    watchdogRestarts: 0,
    resyncs: 0,
    resourceVersion: "",
    lastActivityAt: 0,
  };

  constructor(options: InformerOptions<T>) {
    this.#o = {
      project: slim,
      resyncPeriodMs: 10 * 60_000,
      silenceLimitMs: MAX_WATCH_TIMEOUT_S * 1000 + SILENCE_GRACE_MS,
      backoffBaseMs: 1000,
      backoffMaxMs: 30_000,
      pageSize: 500,
      clock: systemClock,
      logger: silentLogger,
      ...options,
    };
    this.#clock = this.#o.clock;
    this.#log = this.#o.logger;
    this.#what = `${resourceName(options.resource)}${options.namespace ? ` in ${options.namespace}` : ""}`;
    this.#path = collectionPath(options.resource, options.namespace);
  }

  /** Registers an add handler (also called for objects found by a relist). Returns an unsubscribe function. */
  onAdd(fn: AddHandler<T>): () => void {
    this.#onAdd.add(fn);
    return () => this.#onAdd.delete(fn);
  }

  /** Registers an update handler; on periodic resync it is called with `oldObj === newObj`. */
  onUpdate(fn: UpdateHandler<T>): () => void {
    this.#onUpdate.add(fn);
    return () => this.#onUpdate.delete(fn);
  }

  /** Registers a delete handler (called with the last known state). */
  onDelete(fn: DeleteHandler<T>): () => void {
    this.#onDelete.add(fn);
    return () => this.#onDelete.delete(fn);
  }

  /** Starts list+watch in the background (idempotent). */
  start(): void {
    if (this.#loop) return;
    this.#stop = new AbortController();
    const stop = this.#stop.signal;
    this.#stats.lastActivityAt = this.#clock.now();
    this.#scheduleWatchdog();
    this.#scheduleResync();
    this.#loop = this.#run(stop).catch((err: unknown) => {
      this.#log.error({ err, resource: this.#what }, "informer loop crashed");
    });
  }

  /** Stops watching and timers; the cache stays readable. */
  async stop(): Promise<void> {
    this.#stop?.abort(new Error("informer stopped"));
    for (const t of [this.#watchdogTimer, this.#resyncTimer]) if (t) this.#clock.clearTimeout(t);
    this.#watchdogTimer = this.#resyncTimer = undefined;
    await this.#loop;
    this.#loop = undefined;
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  /** True once the first list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves when {@link hasSynced} (or when `signal` aborts / the informer stops — check hasSynced()). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#syncWaiters.push(resolve);
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /** Cached objects, optionally of one namespace. */
  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.#cache.values()];
    const inNamespace = this.#byNamespace.get(namespace);
    return inNamespace ? [...inNamespace.values()] : [];
  }

  /** A cached object by namespace (`""` for cluster-scoped) and name. */
  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /**
   * Liveness: false once nothing (list, connect, event, bookmark) has succeeded for 3× the silence limit (at least
   * 5 min), i.e. the watchdog's restarts are not recovering. Returns the reason as a string when unhealthy.
   */
  health(): true | string {
    if (!this.#loop) return true;
    const silentFor = this.#clock.now() - this.#stats.lastActivityAt;
    return silentFor > Math.max(3 * this.#o.silenceLimitMs, MIN_HEALTH_LIMIT_MS)
      ? `${this.#what}: no successful list/watch activity for ${Math.round(silentFor / 1000)} s`
      : true;
  }

  /** Snapshot of the informer's counters. */
  stats(): InformerStats {
    return { ...this.#stats };
  }

  async #run(stop: AbortSignal): Promise<void> {
    let needList = true;
    let consecutiveFailures = 0;
    while (!stop.aborted) {
      const attempt = new AbortController();
      this.#attempt = attempt;
      this.#attemptStartedAt = this.#clock.now();
      const signal = AbortSignal.any([stop, attempt.signal]);
      try {
        if (needList) {
          await this.#list(signal);
          needList = false;
        }
        const started = this.#clock.now();
        const outcome = await this.#watch(signal);
        if (outcome === "gone") {
          needList = true;
          this.#log.info({ resource: this.#what }, "watch expired (410 Gone), relisting");
        }
        // A watch that closes right away is a failure symptom (e.g. a proxy dropping it): back off then too.
        // 410 Gone is a normal answer from a healthy server: relist at once, as client-go does.
        if (outcome !== "closed" || this.#clock.now() - started >= 1000) consecutiveFailures = 0;
        else consecutiveFailures++;
      } catch (raw) {
        if (stop.aborted) break;
        if (attempt.signal.reason instanceof WatchdogTimeout) {
          // No backoff: the attempt already waited a full silence limit.
          this.#stats.watchdogRestarts++;
          needList = true; // the stream went quiet in an unknown way: rebuild the cache from a fresh list
          // A silent stream often means a dead (HTTP/2) connection that other requests share: dial anew.
          this.#o.clients.resetConnections?.();
          this.#log.warn(
            { resource: this.#what, silenceMs: this.#o.silenceLimitMs },
            "watch silent, restarting",
          );
          continue;
        }
        const err = classifyError(raw, { verb: needList ? "list" : "watch", resource: this.#what });
        if (err.kind === KubeErrorKind.Gone) needList = true;
        consecutiveFailures++;
        this.#stats.failures++;
        this.#log.warn(
          { err, resource: this.#what, attempt: consecutiveFailures },
          "list/watch failed, retrying",
        );
      } finally {
        attempt.abort(); // closes the connection if it is still open
      }
      if (consecutiveFailures > 0) {
        const delay = Math.min(this.#o.backoffBaseMs * 2 ** (consecutiveFailures - 1), this.#o.backoffMaxMs);
        await sleep(this.#clock, jitter(delay, 0.1), stop).catch(() => {});
      }
    }
  }

  /**
   * Lists page by page into the cache itself: each page's objects are projected and replace their old copies as
   * they arrive (handlers hear of adds and updates at once), and what the list no longer holds is deleted after the
   * last page. So a relist never holds the old cache, a new one and the raw list together — only the cache, one
   * page and the set of keys seen. A list that fails halfway leaves a cache whose every object is either its last
   * known or its listed state (no delete applied), and the retry completes it.
   */
  async #list(signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv = "";
    const apiVersion = apiVersionOf(this.#o.resource);
    do {
      const page = await this.#o.clients.request<{
        kind?: string;
        metadata?: { resourceVersion?: string; continue?: string };
        items?: T[];
      }>({
        path: this.#path,
        query: {
          limit: this.#o.pageSize,
          continue: cont,
          labelSelector: this.#o.labelSelector,
          fieldSelector: this.#o.fieldSelector,
        },
        signal,
      });
      this.#touch(); // a long paginated list is progress, not silence
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? "";
      // Items of a typed list come without apiVersion/kind; fill them in so handlers see complete objects.
      const listKind = page.kind ?? "";
      const kind = listKind.endsWith("List") ? listKind.slice(0, -4) : undefined;
      const items = page.items ?? [];
      page.items = undefined;
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as T;
        items[i] = undefined as unknown as T; // the raw object goes as soon as its projection is cached
        item.apiVersion ??= apiVersion;
        if (kind) item.kind ??= kind;
        const key = objectKey(item);
        seen.add(key);
        const obj = this.#o.project(item);
        const old = this.#cache.get(key);
        if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) continue;
        this.#cache.set(key, obj);
        this.#index(key, obj);
        if (!old) this.#emitAdd(obj);
        else this.#emitUpdate(old, obj);
      }
    } while (cont);
    this.#stats.lists++;
    this.#touch();
    for (const [key, old] of this.#cache) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.#unindex(key, old);
      this.#emitDelete(old);
    }
    this.#stats.resourceVersion = rv;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  /** Streams one watch; resolves when the server ends it, throws on transport/API errors. */
  async #watch(signal: AbortSignal): Promise<"closed" | "delivered" | "gone"> {
    const stream = await this.#o.clients.stream({
      path: this.#path,
      query: {
        watch: true,
        resourceVersion: this.#stats.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds:
          this.#o.watchTimeoutSeconds ??
          Math.floor(MIN_WATCH_TIMEOUT_S + Math.random() * (MAX_WATCH_TIMEOUT_S - MIN_WATCH_TIMEOUT_S)),
        labelSelector: this.#o.labelSelector,
        fieldSelector: this.#o.fieldSelector,
      },
      signal,
    });
    this.#stats.watches++;
    this.#touch();
    let delivered = false;
    for await (const event of watchEvents<Watched>(stream)) {
      this.#touch();
      if (event.type === "ERROR") {
        const err = classifyError(event.object, { verb: "watch", resource: this.#what });
        if (err.kind === KubeErrorKind.Gone) return "gone";
        throw err;
      }
      this.#apply(event);
      if (event.type !== "BOOKMARK") delivered = true;
    }
    if (signal.aborted) throw signal.reason ?? new KubeApiError(KubeErrorKind.Network, "watch aborted");
    return delivered ? "delivered" : "closed";
  }

  #apply(event: WatchEvent<Watched>): void {
    const obj = event.object as T;
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.#stats.resourceVersion = rv;
    if (event.type === "BOOKMARK") return;
    const key = objectKey(obj);
    const old = this.#cache.get(key);
    if (event.type === "DELETED") {
      this.#cache.delete(key);
      this.#unindex(key, obj);
      this.#emitDelete(old ?? obj);
      return;
    }
    const projected = this.#o.project(obj);
    this.#cache.set(key, projected);
    this.#index(key, projected);
    if (!old) this.#emitAdd(projected);
    else this.#emitUpdate(old, projected);
  }

  #index(key: string, obj: T): void {
    const ns = obj.metadata?.namespace ?? "";
    const inNamespace = this.#byNamespace.get(ns) ?? new Map<string, T>();
    if (inNamespace.size === 0) this.#byNamespace.set(ns, inNamespace);
    inNamespace.set(key, obj);
  }

  #unindex(key: string, obj: T): void {
    const ns = obj.metadata?.namespace ?? "";
    const inNamespace = this.#byNamespace.get(ns);
    inNamespace?.delete(key);
    if (inNamespace?.size === 0) this.#byNamespace.delete(ns);
  }

  #touch(): void {
    this.#stats.lastActivityAt = this.#clock.now();
  }

  /** Checks for silence exactly when the limit would be reached, then re-arms from the latest progress. */
  #scheduleWatchdog(): void {
    const lastProgress = Math.max(this.#stats.lastActivityAt, this.#attemptStartedAt);
    const due = lastProgress + this.#o.silenceLimitMs - this.#clock.now();
    this.#watchdogTimer = this.#clock.setTimeout(
      () => {
        if (this.#stop?.signal.aborted) return;
        // Covers every phase (list, connect, stream): each attempt gets a full silence budget from its start.
        const progress = Math.max(this.#stats.lastActivityAt, this.#attemptStartedAt);
        if (this.#clock.now() - progress >= this.#o.silenceLimitMs) {
          this.#attempt?.abort(
            new WatchdogTimeout(`no list/watch activity for ${this.#o.silenceLimitMs} ms`),
          );
        }
        this.#scheduleWatchdog();
      },
      Math.max(10, due + 1),
    );
  }

  #scheduleResync(): void {
    if (!(this.#o.resyncPeriodMs > 0)) return;
    this.#resyncTimer = this.#clock.setTimeout(
      () => {
        if (this.#stop?.signal.aborted) return;
        if (this.#synced) {
          this.#stats.resyncs++;
          for (const obj of this.#cache.values()) this.#emitUpdate(obj, obj);
        }
        this.#scheduleResync();
      },
      jitter(this.#o.resyncPeriodMs, 0.1),
    );
  }

  #emitAdd(obj: T): void {
    for (const fn of this.#onAdd) this.#safely(() => fn(obj));
  }

  #emitUpdate(oldObj: T, newObj: T): void {
    for (const fn of this.#onUpdate) this.#safely(() => fn(oldObj, newObj));
  }

  #emitDelete(obj: T): void {
    for (const fn of this.#onDelete) this.#safely(() => fn(obj));
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err, resource: this.#what }, "informer event handler threw");
    }
  }
}

/** kubectl's copy of the whole applied manifest; only `kubectl apply` reads it, and it can double an object's size. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The default projection: drops `metadata.managedFields` (server-side-apply bookkeeping) and the last-applied
 * annotation, each often larger than the rest of the object. Informers whose readers need less pass their own
 * (see src/controller/projections.ts).
 */
export function slim<T extends KubernetesObject>(obj: T): T {
  const meta = obj.metadata;
  if (!meta) return obj;
  if (meta.managedFields) delete meta.managedFields;
  if (meta.annotations && LAST_APPLIED in meta.annotations) {
    delete meta.annotations[LAST_APPLIED];
    if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  }
  return obj;
}
