// Runs the controller: informers feed one work queue; while leading, workers reconcile keys from it; on shutdown
// in-flight reconciles finish within a deadline and the Lease is released.
import type { KubernetesObject } from "@kubernetes/client-node";
import { GROUP, LABELS, PLURAL, VERSION } from "../api/constants.ts";
import type { Rollout } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { classifyError, isNotFound } from "../kube/errors.ts";
import { Informer, type ResourceRef } from "../kube/informer.ts";
import type { KubeLogger } from "../kube/logger-port.ts";
import { splitKey } from "../kube/resource.ts";
import { WorkQueue, type WorkQueueMetrics } from "../kube/work-queue.ts";
import type { Deployment, HorizontalPodAutoscaler, Service } from "../workload/objects.ts";
import type { ObjectReader } from "../workload/workload-manager.ts";
import type { ReconcileResult, RolloutSource } from "./ports.ts";
import { projectAutoscaler, projectDeployment, projectRollout, projectService } from "./projections.ts";

/** What the manager needs to run reconciles. */
export type ReconcileFn = (namespace: string, name: string, signal: AbortSignal) => Promise<ReconcileResult>;

/** Scope and tuning of one controller instance. */
export interface ManagerOptions {
  clients: KubeClients;
  /** Namespaces to watch; empty means all. */
  namespaces: readonly string[];
  /** Label selector for Rollouts (sharding). */
  selector?: string;
  workers: number;
  queueMetrics?: WorkQueueMetrics;
  logger: KubeLogger;
  /** Called with the duration and outcome of each reconcile. */
  onReconciled?: (result: "success" | "error" | "requeue", seconds: number) => void;
  /** Full resync period of the informers. */
  resyncPeriodMs?: number;
  /**
   * Where Deployments and Services missing from the caches are read: the caches hold only objects labelled
   * `vireo.dev/rollout` (Vireo's own, and the targets and root Services it adopted), so a target not yet adopted
   * — or one that does not exist — is read from the API server.
   */
  fallback: Pick<ObjectReader, "deployment" | "service">;
}

const ROLLOUTS = { group: GROUP, version: VERSION, plural: PLURAL };
const DEPLOYMENTS = { group: "apps", version: "v1", plural: "deployments" };
const SERVICES = { group: "", version: "v1", plural: "services" };
const AUTOSCALERS = { group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers" };
/**
 * Deployments and Services are watched only when they carry this label: Vireo's own objects and those it adopted.
 * Objects Vireo does not own never reach the controller, whatever their number or size.
 */
const CLAIMED = LABELS.rollout;

/** Informers, queue and workers. Start it, then call {@link lead} while leader. */
export class Manager implements RolloutSource, ObjectReader {
  readonly queue: WorkQueue;
  readonly #o: ManagerOptions;
  readonly #rollouts: Informer<Rollout & KubernetesObject>[] = [];
  readonly #deployments: Informer<Deployment & KubernetesObject>[] = [];
  readonly #services: Informer<Service & KubernetesObject>[] = [];
  readonly #autoscalers: Informer<HorizontalPodAutoscaler & KubernetesObject>[] = [];
  readonly #routing: Informer[] = [];
  #leading: AbortController | undefined;
  #workers: Promise<void>[] = [];
  readonly #inFlight = new Map<string, AbortController>();

  constructor(options: ManagerOptions) {
    this.#o = options;
    this.queue = new WorkQueue(options.queueMetrics ? { metrics: options.queueMetrics } : {});
    for (const namespace of this.#scopes()) {
      const common = this.#informerScope(namespace);
      this.#rollouts.push(
        new Informer({
          ...common,
          resource: ROLLOUTS,
          project: projectRollout,
          ...(options.selector ? { labelSelector: options.selector } : {}),
        }),
      );
      this.#deployments.push(
        new Informer({
          ...common,
          resource: DEPLOYMENTS,
          labelSelector: CLAIMED,
          project: projectDeployment,
        }),
      );
      this.#services.push(
        new Informer({ ...common, resource: SERVICES, labelSelector: CLAIMED, project: projectService }),
      );
      this.#autoscalers.push(new Informer({ ...common, resource: AUTOSCALERS, project: projectAutoscaler }));
    }
    for (const inf of this.#rollouts) {
      inf.onAdd((r) => this.#enqueue(r));
      inf.onUpdate((oldR, newR) => {
        if (rolloutChangeMatters(oldR, newR)) this.#enqueue(newR);
      });
      inf.onDelete((r) => this.#enqueue(r));
    }
    for (const inf of this.#deployments) {
      const wake = (d: Deployment & KubernetesObject) =>
        this.#enqueueOwnersOf(d.metadata.namespace ?? "", d.metadata.name);
      inf.onAdd(wake);
      inf.onUpdate((_o, n) => wake(n));
      inf.onDelete(wake);
    }
    // Services too: a hand edit of the root selector or a deleted backend Service is repaired in seconds, not at
    // the next resync. A label removed by hand reads as a delete here (the object left the watch): the owner
    // reconciles and claims it again.
    for (const inf of this.#services) {
      const wake = (svc: Service & KubernetesObject) =>
        this.#enqueueServiceOwnersOf(svc.metadata.namespace ?? "", svc.metadata.name);
      inf.onUpdate((o, n) => {
        if (JSON.stringify(o.spec) !== JSON.stringify(n.spec)) wake(n);
      });
      inf.onDelete(wake);
    }
    // HPAs: the user's (its scale target is a Rollout's target) is copied to the primary's, kept in sync on edits.
    for (const inf of this.#autoscalers) {
      const wake = (h: HorizontalPodAutoscaler & KubernetesObject) =>
        this.#enqueueOwnersOf(h.metadata.namespace ?? "", h.spec?.scaleTargetRef?.name ?? "");
      inf.onAdd(wake);
      inf.onUpdate((o, n) => {
        if (JSON.stringify(o.spec) !== JSON.stringify(n.spec)) wake(n);
      });
      inf.onDelete(wake);
    }
  }

  /**
   * Also watches Vireo's own routing objects of these kinds (selected by the managed-by label): an edit or delete
   * by anyone else wakes the owning Rollout, whose reconcile puts the intended split back, and so does a change of
   * the status the mesh writes on them. Call before start().
   */
  watchRouting(kinds: readonly ResourceRef[]): void {
    for (const resource of kinds) {
      for (const namespace of this.#scopes()) {
        const inf = new Informer({
          ...this.#informerScope(namespace),
          resource,
          labelSelector: `${LABELS.managedBy}=vireo`,
        });
        const wake = (o: KubernetesObject) => {
          const rollout = o.metadata?.labels?.[LABELS.rollout];
          if (rollout) this.queue.add(`${o.metadata?.namespace}/${rollout}`);
        };
        // Status too: it is where the mesh says whether it applies the route (a Gateway's acceptance, istiod's
        // analysis), and a verdict arriving after Vireo's write must reach the Rollout's conditions without a resync.
        const watched = (x: KubernetesObject) => {
          const { spec, status } = x as { spec?: unknown; status?: unknown };
          return JSON.stringify([spec, status]);
        };
        inf.onUpdate((o, n) => {
          if (watched(o) !== watched(n)) wake(n);
        });
        inf.onDelete(wake);
        this.#routing.push(inf);
      }
    }
  }

  /** The namespaces watched, one informer each; `undefined` is all of them. */
  #scopes(): (string | undefined)[] {
    return this.#o.namespaces.length > 0 ? [...this.#o.namespaces] : [undefined];
  }

  /** What every informer of this manager shares: the clients, the logger, its namespace and the resync period. */
  #informerScope(namespace: string | undefined) {
    return {
      clients: this.#o.clients,
      logger: this.#o.logger,
      ...(namespace ? { namespace } : {}),
      ...(this.#o.resyncPeriodMs !== undefined ? { resyncPeriodMs: this.#o.resyncPeriodMs } : {}),
    };
  }

  /** Starts the informers (all instances do this, so a standby takes over with a warm cache). */
  async start(signal?: AbortSignal): Promise<void> {
    for (const inf of this.#informers()) inf.start();
    await Promise.all(this.#informers().map((inf) => inf.waitForSync(signal)));
  }

  /** True when every informer has listed once. */
  synced(): boolean {
    return this.#informers().every((i) => i.hasSynced());
  }

  /** Health of the informers' watches (watchdog not tripped). */
  health(): true | string {
    for (const inf of this.#informers()) {
      const h = inf.health();
      if (h !== true) return h;
    }
    return true;
  }

  /** Begins reconciling with `workers` workers; enqueues every known Rollout so nothing waits for an event. */
  lead(reconcile: ReconcileFn): void {
    if (this.#leading) return;
    const leading = new AbortController();
    this.#leading = leading;
    for (const inf of this.#rollouts) for (const r of inf.list()) this.#enqueue(r);
    this.#workers = Array.from({ length: this.#o.workers }, () => this.#work(reconcile, leading.signal));
  }

  /**
   * Stops reconciling: no new keys are taken; in-flight reconciles get `graceMs` to finish, then are aborted.
   */
  async stopLeading(graceMs: number): Promise<void> {
    const leading = this.#leading;
    if (!leading) return;
    this.#leading = undefined;
    leading.abort();
    const timer = setTimeout(() => {
      for (const c of this.#inFlight.values()) c.abort(new Error("shutdown deadline reached"));
    }, graceMs);
    // Wake workers blocked on get(); they see the aborted signal and exit.
    for (let i = 0; i < this.#o.workers; i++) this.queue.add(`\u0000wake-${i}`);
    await Promise.allSettled(this.#workers);
    clearTimeout(timer);
  }

  /** Stops everything: workers, queue and informers. */
  async stop(graceMs: number): Promise<void> {
    await this.stopLeading(graceMs);
    this.queue.shutDown();
    await Promise.all(this.#informers().map((i) => i.stop()));
  }

  get(namespace: string, name: string): Rollout | undefined {
    for (const inf of this.#rollouts) {
      const r = inf.get(namespace, name);
      if (r) return r;
    }
    return undefined;
  }

  /** Whether a Rollout exists: in the cache, else (another shard's, one not seen yet) on the API server. */
  async exists(namespace: string, name: string): Promise<boolean> {
    if (this.get(namespace, name)) return true;
    try {
      await this.#o.clients.request({
        path: `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}/${encodeURIComponent(name)}`,
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Every Rollout in the cache. */
  listRollouts(): Rollout[] {
    return this.#rollouts.flatMap((i) => i.list());
  }

  /** A Deployment from the cache, else from the API server (not labelled yet, or absent). */
  async deployment(namespace: string, name: string): Promise<Deployment | undefined> {
    return this.#find(this.#deployments, namespace, name) ?? this.#o.fallback.deployment(namespace, name);
  }

  /** A Service from the cache, else from the API server (not labelled yet, or absent). */
  async service(namespace: string, name: string): Promise<Service | undefined> {
    return this.#find(this.#services, namespace, name) ?? this.#o.fallback.service(namespace, name);
  }

  async autoscalers(namespace: string): Promise<HorizontalPodAutoscaler[]> {
    return this.#autoscalers.flatMap((inf) => inf.list(namespace)).map((h) => structuredClone(h));
  }

  #find<T extends KubernetesObject>(
    informers: Informer<T>[],
    namespace: string,
    name: string,
  ): T | undefined {
    for (const inf of informers) {
      const o = inf.get(namespace, name);
      if (o) return structuredClone(o);
    }
    return undefined;
  }

  #informers(): Informer[] {
    return [
      ...this.#rollouts,
      ...this.#deployments,
      ...this.#services,
      ...this.#autoscalers,
      ...this.#routing,
    ] as unknown as Informer[];
  }

  #enqueue(r: KubernetesObject): void {
    this.queue.add(`${r.metadata?.namespace}/${r.metadata?.name}`);
  }

  /** A Deployment changed: wake the Rollouts that target it or own it as primary. */
  #enqueueOwnersOf(namespace: string, deployment: string): void {
    for (const inf of this.#rollouts) {
      for (const r of inf.list(namespace)) {
        const target = r.spec?.targetRef?.name;
        if (target === deployment || `${target}-primary` === deployment) this.#enqueue(r);
      }
    }
  }

  /** A Service changed: wake the Rollouts whose root, primary or canary Service it is. */
  #enqueueServiceOwnersOf(namespace: string, service: string): void {
    for (const inf of this.#rollouts) {
      for (const r of inf.list(namespace)) {
        const root = r.spec?.service?.name ?? r.spec?.targetRef?.name;
        if (service === root || service === `${root}-primary` || service === `${root}-canary`)
          this.#enqueue(r);
      }
    }
  }

  async #work(reconcile: ReconcileFn, leading: AbortSignal): Promise<void> {
    while (!leading.aborted) {
      const key = await this.queue.get();
      if (key === undefined) return;
      if (key.startsWith("\u0000")) {
        this.queue.done(key);
        this.queue.forget(key);
        continue;
      }
      if (leading.aborted) {
        // Not ours to process any more; put it back for whoever leads next (or for after restart).
        this.queue.done(key);
        return;
      }
      const controller = new AbortController();
      this.#inFlight.set(key, controller);
      const started = performance.now();
      const { namespace, name } = splitKey(key);
      try {
        const result = await reconcile(namespace, name, controller.signal);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        this.#o.onReconciled?.(
          result.requeueAfterMs !== undefined ? "requeue" : "success",
          (performance.now() - started) / 1000,
        );
      } catch (err) {
        this.#o.logger.error(
          { rollout: key, err: String((err as Error)?.message ?? err) },
          "reconcile failed",
        );
        // A throttled reconcile waits as long as the API server asked, not the queue's first few milliseconds.
        const retryAfter = classifyError(err).retryAfterSeconds;
        this.queue.addRateLimited(key, retryAfter === undefined ? 0 : retryAfter * 1000);
        this.#o.onReconciled?.("error", (performance.now() - started) / 1000);
      } finally {
        this.#inFlight.delete(key);
        this.queue.done(key);
      }
    }
  }
}

/**
 * Our own status writes come back as watch events; reconciling on them would only repeat the last decision. Act on
 * spec, annotation, finalizer or deletion changes — and on informer resyncs (same resourceVersion), the safety net.
 */
export function rolloutChangeMatters(oldR: Rollout, newR: Rollout): boolean {
  const o = oldR.metadata;
  const n = newR.metadata;
  if (o.resourceVersion === n.resourceVersion) return true;
  return (
    o.generation !== n.generation ||
    JSON.stringify(o.annotations ?? {}) !== JSON.stringify(n.annotations ?? {}) ||
    JSON.stringify(o.finalizers ?? []) !== JSON.stringify(n.finalizers ?? []) ||
    o.deletionTimestamp !== n.deletionTimestamp
  );
}
