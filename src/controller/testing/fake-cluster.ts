// In-memory cluster around one Rollout for reconciler tests: an API server with resourceVersions and fenced status
// patches, a lagging informer cache, Deployments whose pods start on `settle`, SMI routes, Events, a notification
// sink, and injected faults (failed requests, a concurrent writer, a crash). Test support only.

import type { MetricMeasurement } from "../../analysis/types.ts";
import { API_VERSION, KIND, LABELS } from "../../api/constants.ts";
import type { OwnerRef } from "../../api/object-meta.ts";
import type { Rollout, RolloutSpec, RolloutStatus } from "../../api/rollout-schema.ts";
import { type EndpointSlice, SERVICE_NAME_LABEL } from "../../kube/endpoint-slices.ts";
import { KubeApiError, KubeErrorKind } from "../../kube/errors.ts";
import type { EventIdentity, EventRegarding, EventSpec } from "../../kube/event-recorder.ts";
import { jsonEqual, statusMergePatch } from "../../kube/status-diff.ts";
import type { MetadataPatch, ObjectRef } from "../../kube/status-writer.ts";
import { CLOSED_POLICY } from "../../mesh/exposure-policy.ts";
import { type MeshClient, resourcePath } from "../../mesh/object-store.ts";
import { SmiAdapter } from "../../mesh/smi.ts";
import { parseTrafficSplitWeights, trafficSplitType } from "../../mesh/smi-render.ts";
import { FakeApi } from "../../mesh/testing/fake-api.ts";
import { measurements } from "../../rollout/testing/world.ts";
import type { Weights } from "../../rollout/types.ts";
import { REVISION_ANNOTATION, type WorkloadNames, workloadNames } from "../../workload/names.ts";
import type { Deployment, Service } from "../../workload/objects.ts";
import {
  primarySelector,
  primaryTemplate,
  renderBackendService,
  renderPrimary,
  renderRootService,
} from "../../workload/render.ts";
import { canonicalJson, templateRevision } from "../../workload/revision.ts";
import type { WorkloadSnapshot } from "../../workload/workload-manager.ts";
import { AnalysisScheduler } from "../analysis-scheduler.ts";
import type { PendingNotification, SettledNotification } from "../outbox.ts";
import type { InPlacePort, NotificationSink, ReconcilerDeps, StatusPort, WorkloadPort } from "../ports.ts";

/** The in-place port of a cluster that runs no StatefulSet or DaemonSet targets: any use is a test bug. */
const NO_IN_PLACE: InPlacePort = new Proxy({} as InPlacePort, {
  get: (_t, op) => () => Promise.reject(new Error(`fake cluster: no in-place targets (${String(op)})`)),
});

/** Namespace and name of the one Rollout (and of its target Deployment). */
export const NAMESPACE = "shop";
export const NAME = "podinfo";
const SPLIT = trafficSplitType("v1alpha2");
const SPLIT_PATH = resourcePath(SPLIT, NAMESPACE, NAME);

/**
 * A fault for the next reconcile. `fail`: the `at`-th API request (read or write) answers 500. `crash`: the process
 * dies at its `at`-th operation (request, Event or notification hand-over). `applied`: the operation took effect
 * before the failure (a response lost on the way back). `conflict`: a user annotates the Rollout just before the
 * reconciler's next write to it.
 */
export type FaultPlan = { kind: "fail" | "crash"; at: number; applied: boolean } | { kind: "conflict" };

/** The process died: nothing it does afterwards reaches the cluster. */
export class Crash extends Error {
  override readonly name = "Crash";
}

/** One Event as the cluster received it, with the Rollout's status at that moment. */
export interface RecordedEvent {
  reconcile: number;
  instance: number;
  type: string;
  reason: string;
  note: string;
  status: RolloutStatus;
  /** A milestone's Event: its name. */
  name?: string;
  /** Set when recorded again from status (a successor's, or after a failed write): the milestone's time. */
  at?: number;
}

/** One applied status write. */
export interface StatusWrite {
  reconcile: number;
  instance: number;
  resourceVersion: string;
  /** The status it replaced: what the decision was based on. */
  before: RolloutStatus;
}

/** How often each fault and stale read really happened. */
export interface FaultCounts {
  staleReads: number;
  conflicts: number;
  failures: number;
  crashes: number;
  concurrentWrites: number;
}

interface Pods {
  /** Ready pods of any template (old ones keep serving while a new template rolls out). */
  ready: number;
  /** Ready pods of the current template. */
  updated: number;
}

type OpKind = "read" | "write" | "event" | "submit";

/** RFC 7386 merge patch applied to `target`. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function apiError(kind: KubeErrorKind, status: number, message: string): KubeApiError {
  return new KubeApiError(kind, message, { status, reason: kind });
}

/** The user's Deployment at image `v<n>`. */
function targetTemplate(n: number): Deployment["spec"]["template"] {
  return {
    metadata: { labels: { app: NAME } },
    spec: { containers: [{ name: "app", image: `ghcr.io/example/podinfo:v${n}` }] },
  };
}

/** The notification sink of one process: in-memory de-duplication, delivery on {@link FakeCluster.deliver}. */
class FakeSink implements NotificationSink {
  readonly #cluster: FakeCluster;
  readonly #instance: number;
  readonly queued = new Set<string>();
  readonly sent = new Set<string>();
  readonly submitted = new Set<string>();
  #reported: string[] = [];

  constructor(cluster: FakeCluster, instance: number) {
    this.#cluster = cluster;
    this.#instance = instance;
  }

  wants(): boolean {
    return true;
  }

  submit(_rollout: Rollout, _spec: RolloutSpec, n: PendingNotification): void {
    this.#cluster.admitSync(this.#instance, "submit", "submit notification", () => {
      this.#cluster.checkSubmit(n.key, this.submitted.has(n.key));
      this.submitted.add(n.key);
      // Like the real delivery: a message already queued or sent by this process is not sent again.
      if (!this.queued.has(n.key) && !this.sent.has(n.key)) this.queued.add(n.key);
    });
  }

  /** Like the real sink: settled keys are reported until acknowledged, never consumed by the reading. */
  delivered(): SettledNotification[] {
    this.#cluster.alive(this.#instance);
    return this.#reported.map((key) => ({ key }));
  }

  acknowledge(_ns: string, _name: string, keys: readonly string[]): void {
    const done = new Set(keys);
    this.#reported = this.#reported.filter((k) => !done.has(k));
  }

  /** Sends everything queued; returns the keys sent. */
  deliver(): string[] {
    const keys = [...this.queued];
    for (const k of keys) this.sent.add(k);
    this.queued.clear();
    this.#reported.push(...keys);
    return keys;
  }
}

/** One Rollout's world. Create it with {@link FakeCluster.create}; connect a controller with {@link connect}. */
export class FakeCluster {
  now: number;
  /** What Prometheus answers at the next analysis tick. */
  prometheus: "pass" | "fail" | "nodata" | "error" = "pass";
  /** Analysis ticks measured (Prometheus queried). */
  ticks = 0;
  /** How many versions behind the API server the next cache read may be (0: caught up). */
  lag = 0;
  readonly history: Rollout[] = [];
  readonly meshApi = new FakeApi();
  readonly events: RecordedEvent[] = [];
  readonly statusWrites: StatusWrite[] = [];
  /** Notification keys sent, by process. */
  readonly sent: { instance: number; key: string }[] = [];
  /** Broken invariants seen while applying operations; a test asserts it stays empty. */
  readonly violations: string[] = [];
  readonly counts: FaultCounts = {
    staleReads: 0,
    conflicts: 0,
    failures: 0,
    crashes: 0,
    concurrentWrites: 0,
  };
  /** Writes to Deployments, Services and mesh objects (for "wrote nothing" assertions). */
  worldWrites = 0;
  readonly spec: RolloutSpec;
  readonly names: WorkloadNames;
  readonly #deployments = new Map<string, { d: Deployment; pods: Pods }>();
  readonly #services = new Map<string, Service>();
  readonly #seen = new Map<number, number>();
  readonly #sinks = new Map<number, FakeSink>();
  #rv = 1000;
  #live = 0;
  #instances = 0;
  #reconcile = 0;
  #plan: FaultPlan | undefined;
  #fired = false;
  #ops = 0;
  #userWrites = 0;

  private constructor(spec: RolloutSpec, now: number) {
    this.spec = spec;
    this.now = now;
    this.names = workloadNames(NAMESPACE, NAME, spec);
  }

  /** A cluster with the user's Deployment (2 ready pods of v1), its Service, and a new Rollout for it. */
  static create(spec: RolloutSpec, now = Date.parse("2026-11-02T10:00:00Z")): FakeCluster {
    const c = new FakeCluster(spec, now);
    const target: Deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: NAME, namespace: NAMESPACE, generation: 1 },
      spec: { replicas: 2, selector: { matchLabels: { app: NAME } }, template: targetTemplate(1) },
    };
    c.#deployments.set(NAME, { d: target, pods: { ready: 2, updated: 2 } });
    // The user's own Service, selecting the user's pods (Vireo re-points it at the primary once that serves).
    const root = renderRootService(target, c.names, spec);
    c.#services.set(NAME, {
      ...root,
      metadata: { name: NAME, namespace: NAMESPACE },
      spec: { ...root.spec, selector: { app: NAME } },
    });
    c.#commit({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: NAME, namespace: NAMESPACE, uid: "uid-rollout", generation: 1 },
      spec,
    });
    return c;
  }

  /** The Rollout as the API server has it now. */
  get rollout(): Rollout {
    return structuredClone(this.history[this.history.length - 1]!);
  }

  /** Starts a controller process: fresh in-memory state and a cache that has just listed (caught up). */
  connect(): ReconcilerDeps {
    const instance = ++this.#instances;
    this.#live = instance;
    this.#seen.set(instance, this.history.length - 1);
    const sink = new FakeSink(this, instance);
    this.#sinks.set(instance, sink);
    const client: MeshClient = {
      request: (req) =>
        (req.method ?? "GET") === "GET"
          ? this.admit(instance, "read", `GET ${req.path}`, () => this.meshApi.request(req))
          : this.admit(instance, "write", `${req.method} ${req.path}`, async () => {
              const res = await this.meshApi.request<never>(req);
              this.#afterWorldWrite();
              return res;
            }),
    };
    const quiet = { info() {}, warn() {}, error() {} };
    return {
      // One Rollout: no other claims its objects.
      rollouts: { get: () => this.#cacheRead(instance), exists: async () => false },
      exposure: CLOSED_POLICY,
      workloads: this.#workloads(instance),
      // Deployments only: StatefulSet and DaemonSet targets are tested against the real cluster (e2e/workload-kinds).
      inPlace: NO_IN_PLACE,
      // A new adapter per call, as the controller's MeshResolver makes them.
      mesh: () => new SmiAdapter({ client, splitVersion: "v1alpha2" }),
      statusWriter: this.#statusWriter(instance),
      events: {
        record: (_regarding: EventRegarding, e: EventSpec, identity?: EventIdentity) =>
          this.admit(instance, "event", `event ${e.reason}`, () => {
            // A named Event is created once: the API server refuses the second (AlreadyExists).
            if (identity && this.events.some((x) => x.name === identity.name)) return;
            this.events.push({
              reconcile: this.#reconcile,
              instance,
              type: e.type,
              reason: e.reason,
              note: e.note,
              status: this.rollout.status ?? {},
              ...(identity ? { name: identity.name } : {}),
              ...(identity?.at !== undefined ? { at: identity.at } : {}),
            });
          }),
      },
      analysis: {
        measure: async (spec: RolloutSpec): Promise<MetricMeasurement[]> => {
          this.alive(instance);
          this.ticks++;
          return measurements(spec, this.prometheus);
        },
      },
      notifications: sink,
      observer: {
        rolloutState() {},
        rolloutDeleted() {},
        analysisResults() {},
        notificationsDropped() {},
      },
      log: quiet,
      now: () => new Date(this.now),
      // The real scheduler, on the simulated clock; its timeout timers never fire here (measurements answer at once).
      measurements: new AnalysisScheduler({
        concurrency: 4,
        timeoutMs: 30_000,
        onResult: () => {},
        clock: { now: () => this.now, setTimeout: () => ({}), clearTimeout: () => {} },
      }),
    };
  }

  /** The running process dies (every later call of it throws {@link Crash}); a new one must {@link connect}. */
  crash(): void {
    this.#live = 0;
  }

  /** Arms a fault for the next reconcile (between {@link beginReconcile} and {@link endReconcile}). */
  beginReconcile(plan?: FaultPlan): void {
    this.#reconcile++;
    this.#plan = plan;
    this.#fired = false;
    this.#ops = 0;
  }

  /** Disarms the fault; returns whether it happened. */
  endReconcile(): boolean {
    const fired = this.#fired;
    this.#plan = undefined;
    return fired;
  }

  /** Throws {@link Crash} unless `instance` is the running process. */
  alive(instance: number): void {
    if (instance !== this.#live) throw new Crash(`process ${instance} is gone`);
  }

  /** Runs one operation of `instance` through the fault plan. */
  async admit<T>(instance: number, kind: OpKind, what: string, apply: () => T | Promise<T>): Promise<T> {
    const fault = this.#faultFor(instance, kind);
    if (!fault) return apply();
    if (fault.applied) await Promise.resolve(apply()).catch(() => {});
    throw this.#raise(fault.kind, what);
  }

  /** {@link admit} for synchronous operations. */
  admitSync(instance: number, kind: OpKind, what: string, apply: () => void): void {
    const fault = this.#faultFor(instance, kind);
    if (fault && !fault.applied) throw this.#raise(fault.kind, what);
    apply();
    if (fault) throw this.#raise(fault.kind, what);
  }

  #faultFor(instance: number, kind: OpKind): { kind: "fail" | "crash"; applied: boolean } | undefined {
    this.alive(instance);
    this.#ops++;
    const plan = this.#plan;
    if (!plan || this.#fired || plan.kind === "conflict" || this.#ops < plan.at) return undefined;
    if (plan.kind === "fail" && kind !== "read" && kind !== "write") return undefined;
    this.#fired = true;
    return { kind: plan.kind, applied: plan.applied };
  }

  #raise(kind: "fail" | "crash", what: string): Error {
    if (kind === "crash") {
      this.counts.crashes++;
      this.crash();
      return new Crash(`crashed at ${what}`);
    }
    this.counts.failures++;
    return apiError(KubeErrorKind.ServerError, 500, `${what}: server error 500 (injected)`);
  }

  /** A concurrent writer, if armed: a person annotates the Rollout between the reconciler's read and write. */
  #maybeConcurrentWrite(): void {
    if (this.#plan?.kind !== "conflict" || this.#fired) return;
    this.#fired = true;
    this.counts.concurrentWrites++;
    this.annotate("team.example/note", `edit-${++this.#userWrites}`);
  }

  #commit(next: Rollout): string {
    const rv = String(++this.#rv);
    const stored = structuredClone(next);
    stored.metadata.resourceVersion = rv;
    this.history.push(stored);
    return rv;
  }

  #cacheRead(instance: number): Rollout {
    this.alive(instance);
    const latest = this.history.length - 1;
    // An informer lags but never goes back: each read is at least as new as the previous one.
    const at = Math.max(this.#seen.get(instance) ?? 0, latest - this.lag);
    this.#seen.set(instance, at);
    if (at < latest) this.counts.staleReads++;
    return structuredClone(this.history[at]!);
  }

  /** Replaces the spec, as `kubectl apply` would (a new generation); the spec may be one validation refuses. */
  editSpec(spec: unknown): void {
    const r = this.rollout;
    r.spec = spec as RolloutSpec;
    r.metadata.generation = (r.metadata.generation ?? 1) + 1;
    this.#commit(r);
  }

  /** Sets an annotation, as `kubectl annotate --overwrite` would. */
  annotate(key: string, value: string): void {
    const r = this.rollout;
    r.metadata.annotations = { ...r.metadata.annotations, [key]: value };
    this.#commit(r);
  }

  #statusWriter(instance: number): StatusPort {
    return {
      patchStatus: async (_ref: ObjectRef, previous, next, resourceVersion) => {
        const patch = statusMergePatch(previous, next);
        if (patch === undefined) return { written: false };
        return this.admit(instance, "write", "patch rollouts/status", () => {
          this.#maybeConcurrentWrite();
          const live = this.rollout;
          if (resourceVersion && resourceVersion !== live.metadata.resourceVersion) {
            this.counts.conflicts++;
            throw apiError(KubeErrorKind.Conflict, 409, "patch rollouts/status: conflict (object changed)");
          }
          // The property fencing exists for: a status write is always based on the status the server holds.
          if (!jsonEqual(previous ?? {}, live.status ?? {}))
            this.violations.push(
              `status write at ${live.metadata.resourceVersion} was based on an older status (phase ${(previous as RolloutStatus | undefined)?.phase}, server ${live.status?.phase})`,
            );
          const before = live.status ?? {};
          live.status = mergePatch(before, patch) as RolloutStatus;
          const rv = this.#commit(live);
          this.statusWrites.push({ reconcile: this.#reconcile, instance, resourceVersion: rv, before });
          return { written: true, resourceVersion: rv };
        });
      },
      patchMetadata: async (_ref: ObjectRef, m: MetadataPatch) =>
        this.admit(instance, "write", "patch rollouts", () => {
          this.#maybeConcurrentWrite();
          const live = this.rollout;
          if (m.resourceVersion && m.resourceVersion !== live.metadata.resourceVersion) {
            this.counts.conflicts++;
            throw apiError(KubeErrorKind.Conflict, 409, "patch rollouts: conflict (object changed)");
          }
          if (m.finalizers) live.metadata.finalizers = [...m.finalizers];
          if (m.annotations)
            live.metadata.annotations = mergePatch(live.metadata.annotations, m.annotations) as Record<
              string,
              string
            >;
          if (m.labels)
            live.metadata.labels = mergePatch(live.metadata.labels, m.labels) as Record<string, string>;
          const rv = this.#commit(live);
          return { ...live, metadata: { ...live.metadata, resourceVersion: rv } };
        }),
    };
  }

  /** A Deployment as the API server would return it, with status from its pods. */
  #readDeployment(name: string): Deployment | undefined {
    const e = this.#deployments.get(name);
    if (!e) return undefined;
    const d = structuredClone(e.d);
    const replicas = d.spec.replicas ?? 1;
    d.status = {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: Math.max(replicas, e.pods.ready),
      updatedReplicas: e.pods.updated,
      readyReplicas: e.pods.ready,
      availableReplicas: e.pods.ready,
    };
    return d;
  }

  /** Stores a Deployment: a new template starts rolling out (old pods keep serving), fewer replicas stop pods. */
  #writeDeployment(d: Deployment): void {
    const prev = this.#deployments.get(d.metadata.name);
    const pods = prev ? { ...prev.pods } : { ready: 0, updated: 0 };
    const stored = structuredClone(d);
    delete stored.status;
    stored.metadata.generation = (prev?.d.metadata.generation ?? 0) + 1;
    if (prev && canonicalJson(prev.d.spec.template) !== canonicalJson(stored.spec.template)) pods.updated = 0;
    const replicas = stored.spec.replicas ?? 1;
    pods.ready = Math.min(pods.ready, replicas);
    pods.updated = Math.min(pods.updated, replicas);
    this.#deployments.set(stored.metadata.name, { d: stored, pods });
  }

  #writeService(s: Service): void {
    this.#services.set(s.metadata.name, structuredClone(s));
  }

  #afterWorldWrite(): void {
    this.worldWrites++;
    this.checkSafety();
  }

  #workloads(instance: number): WorkloadPort {
    const read = <T>(what: string, f: () => T) => this.admit(instance, "read", what, f);
    const write = (what: string, f: () => void) =>
      this.admit(instance, "write", what, () => {
        f();
        this.#afterWorldWrite();
      });
    const create = async (what: string, exists: () => boolean, f: () => void): Promise<boolean> =>
      write(what, () => {
        if (exists()) throw apiError(KubeErrorKind.AlreadyExists, 409, `${what}: already exists`);
        f();
      }).then(
        () => true,
        (err: unknown) => {
          if (err instanceof KubeApiError && err.kind === KubeErrorKind.AlreadyExists) return false;
          throw err;
        },
      );
    const notModelled = (what: string) => () =>
      Promise.reject(new Error(`fake cluster: ${what} (blue/green) is not modelled`));
    return {
      pointPreview: notModelled("pointPreview"),
      // The backend Services' slices list their Deployment's ready pods, caught up at once (the model world's lives
      // play the lag); only while the Service exists, as the EndpointSlice controller keeps them.
      endpointSlices: (_namespace, service) =>
        read(`list endpointslices of ${service}`, (): EndpointSlice[] => {
          const deployment =
            service === this.names.primaryService
              ? this.names.primary
              : service === this.names.canaryService
                ? this.names.target
                : undefined;
          if (deployment === undefined || !this.#services.has(service)) return [];
          const ready = this.#deployments.get(deployment)?.pods.ready ?? 0;
          const endpoints = Array.from({ length: ready }, (_, i) => ({
            addresses: [`10.0.0.${i + 1}`],
            targetRef: { kind: "Pod", name: `${deployment}-${i}`, uid: `${deployment}-${i}` },
          }));
          return [
            { metadata: { name: `${service}-1`, labels: { [SERVICE_NAME_LABEL]: service } }, endpoints },
          ];
        }),
      snapshot: (names) =>
        read("list workloads", (): WorkloadSnapshot => {
          const svc = (n: string) => structuredClone(this.#services.get(n));
          return {
            names,
            target: this.#readDeployment(names.target),
            primary: this.#readDeployment(names.primary),
            rootService: svc(names.rootService),
            primaryService: svc(names.primaryService),
            canaryService: svc(names.canaryService),
          };
        }),
      // Mirrors WorkloadManager.ensure over this store: the same decisions from the same snapshot.
      ensure: async (s, spec, owner: OwnerRef, want) => {
        const { target, names } = s;
        const done: string[] = [];
        if (!target) return done;
        if (!s.primary && templateRevision(target.spec.template) === want.revision) {
          const primary = renderPrimary(target, names, owner);
          primary.spec.replicas = Math.max(want.replicas, 1);
          if (
            await create(
              `create Deployment ${names.primary}`,
              () => this.#deployments.has(names.primary),
              () => this.#writeDeployment(primary),
            )
          )
            done.push(`created Deployment ${names.primary}`);
        }
        for (const role of ["primary", "canary"] as const) {
          const wanted = renderBackendService(role, target, names, spec, owner);
          const have = role === "primary" ? s.primaryService : s.canaryService;
          if (!have) {
            if (
              await create(
                `create Service ${wanted.metadata.name}`,
                () => this.#services.has(wanted.metadata.name),
                () => this.#writeService(wanted),
              )
            )
              done.push(`created Service ${wanted.metadata.name}`);
          } else if (
            canonicalJson(have.spec.selector) !== canonicalJson(wanted.spec.selector) ||
            canonicalJson(have.spec.ports) !== canonicalJson(wanted.spec.ports)
          ) {
            await write(`patch Service ${wanted.metadata.name}`, () => this.#writeService(wanted));
            done.push(`restored Service ${wanted.metadata.name}`);
          }
        }
        const primaryReady =
          (s.primary?.status?.readyReplicas ?? 0) > 0 && (s.primary?.status?.updatedReplicas ?? 0) > 0;
        const selector = primarySelector(target);
        if (!s.rootService) {
          if (
            primaryReady &&
            (await create(
              `create Service ${names.rootService}`,
              () => this.#services.has(names.rootService),
              () => this.#writeService(renderRootService(target, names, spec)),
            ))
          )
            done.push(`created Service ${names.rootService}`);
        } else if (primaryReady && canonicalJson(s.rootService.spec.selector) !== canonicalJson(selector)) {
          const root = s.rootService;
          await write(`patch Service ${names.rootService}`, () =>
            this.#writeService({ ...root, spec: { ...root.spec, selector } }),
          );
          done.push(`pointed Service ${names.rootService} at the primary's pods`);
        }
        return done;
      },
      // The claim label, as a metadata patch (it does not move a Deployment's generation).
      claim: async (s) => {
        await write(`label Deployment and Service of ${s.names.rollout}`, () => {
          const target = this.#deployments.get(s.names.target)?.d;
          if (target) target.metadata.labels = { ...target.metadata.labels, [LABELS.rollout]: NAME };
          const root = this.#services.get(s.names.rootService);
          if (root) root.metadata.labels = { ...root.metadata.labels, [LABELS.rollout]: NAME };
        });
      },
      // Hand-backs happen on deletion and renames, which this cluster does not model.
      removeMade: async () => {
        throw new Error("FakeCluster does not model hand-backs");
      },
      unclaim: async () => {
        throw new Error("FakeCluster does not model hand-backs");
      },
      // This cluster has no HPAs: the engine never asks for these.
      syncAutoscaler: async () => {},
      deleteAutoscaler: async () => {},
      scalePrimary: async (s, replicas) => {
        if (!s.primary || (s.primary.spec.replicas ?? 1) === replicas) return;
        await write(`scale Deployment ${s.names.primary}`, () => this.#scale(s.names.primary, replicas));
      },
      scaleCanary: async (s, up) => {
        if (!s.target) return undefined;
        const replicas = up ? Math.max(s.primary?.spec.replicas ?? 1, 1) : 0;
        if ((s.target.spec.replicas ?? 1) === replicas) return undefined;
        await write(`scale Deployment ${s.names.target}`, () => this.#scale(s.names.target, replicas));
        return this.#deployments.get(s.names.target)?.d.metadata.generation;
      },
      promote: async (names, revision, owner, replicas) => {
        const target = await read(`get Deployment ${names.target}`, () => this.#readDeployment(names.target));
        const primary = await read(`get Deployment ${names.primary}`, () =>
          this.#readDeployment(names.primary),
        );
        if (!target || templateRevision(target.spec.template) !== revision) return false;
        if (!primary) {
          if (!owner) return false;
          const fresh = renderPrimary(target, names, owner);
          fresh.spec.replicas = Math.max(replicas ?? 1, 1);
          await create(
            `create Deployment ${names.primary}`,
            () => this.#deployments.has(names.primary),
            () => this.#writeDeployment(fresh),
          );
          return true;
        }
        if (primary.metadata.annotations?.[REVISION_ANNOTATION] === revision) return true;
        primary.spec.template = primaryTemplate(target);
        primary.metadata.annotations = { ...primary.metadata.annotations, [REVISION_ANNOTATION]: revision };
        await write(`update Deployment ${names.primary}`, () => this.#writeDeployment(primary));
        return true;
      },
      restore: async () => {
        throw new Error("FakeCluster does not model deleting the Rollout");
      },
      release: async () => {
        throw new Error("FakeCluster does not model deleting the Rollout");
      },
    };
  }

  #scale(name: string, replicas: number): void {
    const d = this.#readDeployment(name)!;
    d.spec.replicas = replicas;
    this.#writeDeployment(d);
  }

  /** Pods start: every Deployment gets all its replicas ready on its current template. */
  settle(): void {
    for (const e of this.#deployments.values()) {
      const replicas = e.d.spec.replicas ?? 1;
      e.pods = { ready: replicas, updated: replicas };
    }
  }

  /** The user changes the pod template to image `v<n>` (`kubectl set image`). */
  pushRevision(n: number): void {
    const d = this.#readDeployment(NAME)!;
    d.spec.template = targetTemplate(n);
    this.#writeDeployment(d);
  }

  /** Revision (template hash) the user's Deployment runs now. */
  targetRevision(): string {
    return templateRevision(this.#deployments.get(NAME)!.d.spec.template);
  }

  deployment(name: string): Deployment | undefined {
    return this.#readDeployment(name);
  }

  /** Weights of the TrafficSplit, or null when there is none. */
  routes(): Weights | null {
    const split = this.meshApi.objects.get(SPLIT_PATH);
    return split ? parseTrafficSplitWeights(split, this.names) : null;
  }

  /** The running process's sink sends what it holds. */
  deliver(): void {
    const sink = this.#sinks.get(this.#live);
    for (const key of sink?.deliver() ?? []) this.sent.push({ instance: this.#live, key });
  }

  /** Safety: no backend with weight above 0 lacks ready pods. Records a violation. */
  checkSafety(): void {
    const w = this.routes();
    if (!w) return;
    const ready = (name: string) => this.#deployments.get(name)?.pods.ready ?? 0;
    if (w.canary > 0 && ready(this.names.target) === 0)
      this.violations.push(`routes give the canary ${w.canary}% with no ready canary pod`);
    if (w.primary > 0 && ready(this.names.primary) === 0)
      this.violations.push(`routes give the primary ${w.primary}% with no ready primary pod`);
  }

  /** A notification is handed over: never one already recorded delivered, never again unless still pending. */
  checkSubmit(key: string, submittedBefore: boolean): void {
    const box = this.rollout.status?.notifications;
    if (box?.delivered?.includes(key))
      this.violations.push(`notification ${key} handed over again after it was recorded delivered`);
    else if (submittedBefore && !box?.pending?.some((p) => p.key === key))
      this.violations.push(`notification ${key} handed over twice by one process but not pending`);
  }
}
