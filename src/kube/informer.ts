// Supervised list+watch informer with an in-memory cache, restart backoff, a silence watchdog and resync.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiVersionOf } from "../api/object-meta.ts";
import type { KubeClients } from "./clients.ts";
import { type Clock, jitter, sleep, systemClock, type TimerHandle } from "./clock.ts";
import { classifyError, KubeApiError, KubeErrorKind } from "./errors.ts";
import { type KubeLogger, silentLogger } from "./logger-port.ts";
import { collectionPath, objectKey, type ResourceRef, resourceName } from "./resource.ts";

export type { ResourceRef } from "./resource.ts";

/** Options for {@link Informer}. */
export interface InformerOptions {
  clients: Pick<KubeClients, "request" | "stream"> & Partial<Pick<KubeClients, "resetConnections">>;
  resource: ResourceRef;
  /** Watch one namespace only (default: all namespaces). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-emit every cached object as an update this often (default 10 min, ±10 % jitter; 0 disables). */
  resyncPeriodMs?: number;
  /**
   * Restart a watch that has received nothing (no event, no bookmark, no reconnect) for this long. Default:
   * the longest server-side watch timeout + 1 min (6 min). Bookmarks are requested but cannot be relied on:
   * a 1.36 API server sent none in 75 s on a quiet resource. The server ends every watch after
   * `timeoutSeconds`, and each re-watch counts as activity, so silence beyond that means a dead connection.
   */
  silenceLimitMs?: number;
  /** Server-side watch timeout; default random in [4, 5) min so replicas don't reconnect in lockstep. */
  watchTimeoutSeconds?: number;
  /** First restart delay after a failure (default 1 s), doubled per consecutive failure… */
  backoffBaseMs?: number;
  /** …up to this cap (default 30 s). */
  backoffMaxMs?: number;
  /** List page size (default 500). */
  pageSize?: number;
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

interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubernetesObject & { code?: number };
}

const MIN_WATCH_TIMEOUT_S = 240;
const MAX_WATCH_TIMEOUT_S = 300;

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
 * on silence beyond `silenceLimitMs` (watchdog) drop the shared connection and relist.
 * Handlers run synchronously and must only enqueue.
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly #o: Required<
    Omit<InformerOptions, "namespace" | "labelSelector" | "fieldSelector" | "watchTimeoutSeconds">
  > &
    InformerOptions;
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

  constructor(options: InformerOptions) {
    this.#o = {
      resyncPeriodMs: 10 * 60_000,
      silenceLimitMs: (MAX_WATCH_TIMEOUT_S + 60) * 1000,
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
   * Liveness: false once nothing (list, connect, event, bookmark) has succeeded for 3× the silence limit,
   * i.e. the watchdog's restarts are not recovering. Returns the reason as a string when unhealthy.
   */
  health(): true | string {
    if (!this.#loop) return true;
    const silentFor = this.#clock.now() - this.#stats.lastActivityAt;
    return silentFor > 3 * this.#o.silenceLimitMs
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

  async #list(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    let listKind = "";
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
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? "";
      listKind = page.kind ?? listKind;
    } while (cont);
    this.#stats.lists++;
    this.#touch();
    // Items of a typed list come without apiVersion/kind; fill them in so handlers see complete objects.
    const apiVersion = apiVersionOf(this.#o.resource);
    const kind = listKind.endsWith("List") ? listKind.slice(0, -4) : undefined;
    const next = new Map<string, T>();
    for (const item of items) {
      item.apiVersion ??= apiVersion;
      if (kind) item.kind ??= kind;
      next.set(objectKey(item), slim(item));
    }
    const previous = this.#cache;
    this.#cache = next;
    this.#byNamespace = new Map();
    for (const [key, obj] of next) this.#index(key, obj);
    this.#stats.resourceVersion = rv;
    for (const [key, obj] of next) {
      const old = previous.get(key);
      if (!old) this.#emitAdd(obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emitUpdate(old, obj);
    }
    for (const [key, old] of previous) if (!next.has(key)) this.#emitDelete(old);
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
    const decoder = new TextDecoder();
    let buffered = "";
    let delivered = false;
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
        if (!line) continue;
        this.#touch();
        const event = JSON.parse(line) as WatchEvent;
        if (event.type === "ERROR") {
          const err = classifyError(event.object, { verb: "watch", resource: this.#what });
          if (err.kind === KubeErrorKind.Gone) return "gone";
          throw err;
        }
        this.#apply(event);
        if (event.type !== "BOOKMARK") delivered = true;
      }
    }
    if (signal.aborted) throw signal.reason ?? new KubeApiError(KubeErrorKind.Network, "watch aborted");
    return delivered ? "delivered" : "closed";
  }

  #apply(event: WatchEvent): void {
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
    this.#cache.set(key, slim(obj));
    this.#index(key, obj);
    if (!old) this.#emitAdd(obj);
    else this.#emitUpdate(old, obj);
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

  #scheduleWatchdog(): void {
    const interval = Math.max(10, this.#o.silenceLimitMs / 4);
    this.#watchdogTimer = this.#clock.setTimeout(() => {
      if (this.#stop?.signal.aborted) return;
      // Covers every phase (list, connect, stream): each attempt gets a full silence budget from its start.
      const lastProgress = Math.max(this.#stats.lastActivityAt, this.#attemptStartedAt);
      if (this.#clock.now() - lastProgress > this.#o.silenceLimitMs) {
        this.#attempt?.abort(new WatchdogTimeout(`no list/watch activity for ${this.#o.silenceLimitMs} ms`));
      }
      this.#scheduleWatchdog();
    }, interval);
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
 * Drops what nothing here reads before caching: `metadata.managedFields` (server-side-apply bookkeeping) and the
 * last-applied annotation. Each is often larger than the rest of the object, and informers of Deployments and
 * Services hold every one in the namespaces watched. Nothing is lost on writes: Vireo patches the objects users own
 * (a merge patch leaves both alone) and replaces only the primaries it created itself.
 */
function slim<T extends KubernetesObject>(obj: T): T {
  const meta = obj.metadata;
  if (!meta) return obj;
  if (meta.managedFields) delete meta.managedFields;
  if (meta.annotations && LAST_APPLIED in meta.annotations) {
    delete meta.annotations[LAST_APPLIED];
    if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
  }
  return obj;
}
