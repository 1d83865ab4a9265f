// The reconciler: the only place that orchestrates. Reads the world, asks the pure engine, carries out its
// actions in order, writes status once (fenced on what the decision saw), and only then records Events and
// hands over notifications. Level-based: it never depends on which event woke it.

import type { MetricMeasurement } from "../analysis/types.ts";
import {
  ANNOTATIONS,
  API_VERSION,
  CONDITION_TYPES,
  FINALIZER,
  GROUP,
  KIND,
  PLURAL,
  REASONS,
  type RequestKind,
  VERSION,
} from "../api/constants.ts";
import type { Rollout, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { type SpecIssue, validateRolloutSpec } from "../api/validate.ts";
import { classifyError, KubeErrorKind } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/event-recorder.ts";
import type { ObjectRef, StatusWriter } from "../kube/status-writer.ts";
import { withFinalizer, withoutFinalizer } from "../kube/status-writer.ts";
import { MeshError, MeshErrorKind } from "../mesh/errors.ts";
import { httpProbesOf } from "../mesh/pod-probes.ts";
import { smiPortsWarning } from "../mesh/smi-render.ts";
import type { AccessPolicyModel, MeshAdapter, OwnerRef, SplitRef, TrafficSplitModel } from "../mesh/types.ts";
import { setCondition } from "../rollout/conditions.ts";
import { decide } from "../rollout/decide.ts";
import type { Action, Observations, Weights } from "../rollout/types.ts";
import { evaluateWindows } from "../rollout/windows.ts";
import { checkDerivedLimits } from "../workload/limits.ts";
import { type WorkloadNames, workloadNames } from "../workload/names.ts";
import { otherServicePorts } from "../workload/render.ts";
import { WorkloadManager, type WorkloadSnapshot } from "../workload/workload-manager.ts";
import type { AnalysisScheduler } from "./analysis-scheduler.ts";
import { type PendingNotification, type SettledNotification, toPending, updateOutbox } from "./outbox.ts";
import { WriteFence } from "./write-fence.ts";

/** Where Rollouts are read from (the informer cache). */
export interface RolloutSource {
  get(namespace: string, name: string): Rollout | undefined;
}

/** Queries Prometheus for a Rollout's metrics. */
export interface AnalysisRunner {
  /** What this controller's analysis settings refuse in `spec` (e.g. a query it cannot confine), before any query. */
  specIssues?(spec: RolloutSpec, names: WorkloadNames): SpecIssue[];
  /** `status` tells judge: sequential metrics when the step started. */
  measure(
    spec: RolloutSpec,
    names: WorkloadNames,
    signal: AbortSignal,
    status?: RolloutStatus,
  ): Promise<MetricMeasurement[]>;
}

/** Hands notifications to the asynchronous delivery machinery; never blocks. */
export interface NotificationSink {
  /** True when the Rollout has somewhere to send notifications (else none are kept in status). */
  wants(spec: RolloutSpec): boolean;
  submit(rollout: Rollout, spec: RolloutSpec, notification: PendingNotification): void;
  /** Notifications settled (delivered, or rejected for good) and not yet acknowledged; does not consume them. */
  delivered(namespace: string, name: string): SettledNotification[];
  /** Forgets settled keys once a status write recorded them; until then {@link delivered} keeps reporting them. */
  acknowledge(namespace: string, name: string, keys: readonly string[]): void;
}

/** Picks the mesh adapter for a Rollout's provider. */
export type MeshResolver = (spec: RolloutSpec) => MeshAdapter;

/** Observability hooks. */
export interface ReconcileObserver {
  rolloutState(namespace: string, name: string, status: RolloutStatus): void;
  rolloutDeleted(namespace: string, name: string): void;
  analysisResults(
    namespace: string,
    name: string,
    status: RolloutStatus,
    previous: RolloutStatus | undefined,
  ): void;
  notificationsDropped(count: number): void;
}

/** A minimal structured logger. */
export interface ReconcileLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The workload operations the reconciler carries out; {@link WorkloadManager} implements them. */
export type WorkloadPort = Pick<
  WorkloadManager,
  | "snapshot"
  | "ensure"
  | "scalePrimary"
  | "scaleCanary"
  | "promote"
  | "restore"
  | "syncAutoscaler"
  | "deleteAutoscaler"
>;

/** Rollout status and metadata writes; {@link StatusWriter} implements them. */
export type StatusPort = Pick<StatusWriter, "patchStatus" | "patchMetadata">;

/** Where Events go; {@link EventRecorder} implements it (and never rejects). */
export type EventPort = Pick<EventRecorder, "record">;

/** Everything the reconciler talks to. */
export interface ReconcilerDeps {
  rollouts: RolloutSource;
  workloads: WorkloadPort;
  mesh: MeshResolver;
  statusWriter: StatusPort;
  events: EventPort;
  analysis: AnalysisRunner;
  notifications: NotificationSink;
  observer: ReconcileObserver;
  log: ReconcileLogger;
  now: () => Date;
  /** Runs the analysis measurements off the workers; its results wake the Rollout through the queue. */
  measurements: AnalysisScheduler;
}

/** What the work queue should do with the key next. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** How often a Rollout with undelivered notifications is reconciled to offer them again. */
const PENDING_RETRY_MS = 30_000;
/** How soon to look again when the cache has not yet caught up with our own last write, or a write lost a race. */
const STALE_RETRY_MS = 200;
/** Failed reconciles in a row after which the error is reported as Degraded=True (one may be a blip). */
const DEGRADED_AFTER_FAILURES = 2;
const minDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

const rolloutRef = (ns: string, name: string): ObjectRef => ({
  group: GROUP,
  version: VERSION,
  plural: PLURAL,
  namespace: ns,
  name,
});
/**
 * Actions that take something away, carried out only once the decision asking for them is recorded in status. A
 * decision whose fenced write loses a race (or a process that dies first) must not leave the primary running a
 * revision status never said was being promoted; and a scale-down must not land on a canary that another reading of
 * status still routes to. The second case is real: a leader frozen mid-request (SIGSTOP) sends a scale-down it had
 * already dispatched when it wakes; once status says weight 0, its successor routes nothing to that canary either.
 */
const AFTER_STATUS = new Set<Action["type"]>(["PromotePrimary", "ScaleCanaryDown"]);
const WORLD_ACTIONS = new Set<Action["type"]>([
  "EnsureWorkloads",
  "ScaleCanaryUp",
  "ScaleCanaryDown",
  "ScalePrimary",
  "SetRoutes",
  "ApplyAccessPolicy",
  "PromotePrimary",
  "SyncAutoscaler",
  "DeleteAutoscaler",
]);

function ownerOf(r: Rollout): OwnerRef {
  return { apiVersion: API_VERSION, kind: KIND, name: r.metadata.name, uid: r.metadata.uid ?? "" };
}

function splitRef(names: WorkloadNames, spec: RolloutSpec): SplitRef {
  return {
    namespace: names.namespace,
    rolloutName: names.rollout,
    rootService: names.rootService,
    primaryService: names.primaryService,
    canaryService: names.canaryService,
    port: spec.service.port,
    ...(spec.gatewayApi ? { gatewayApi: spec.gatewayApi } : {}),
  };
}

function accessPolicyModel(
  r: Rollout,
  spec: RolloutSpec,
  names: WorkloadNames,
  snap: WorkloadSnapshot,
): AccessPolicyModel | null {
  if (!spec.accessPolicy) return null;
  return {
    ...splitRef(names, spec),
    owner: ownerOf(r),
    destinationServiceAccount: snap.target?.spec.template.spec?.serviceAccountName ?? "default",
    sources: spec.accessPolicy.sources.map((s) => ({
      serviceAccount: s.serviceAccount,
      namespace: s.namespace ?? names.namespace,
    })),
    ...(spec.accessPolicy.routes ? { routes: spec.accessPolicy.routes } : {}),
    probes: [
      ...httpProbesOf(snap.target?.spec.template.spec),
      ...httpProbesOf(snap.primary?.spec.template.spec),
    ],
  };
}

function requestsOf(r: Rollout): Partial<Record<RequestKind, string>> {
  const out: Partial<Record<RequestKind, string>> = {};
  for (const [kind, key] of Object.entries(ANNOTATIONS) as [RequestKind, string][]) {
    const value = r.metadata.annotations?.[key];
    if (value !== undefined && value !== "") out[kind] = value;
  }
  return out;
}

/** What the reconciler's own writes changed that its observations (taken before them) do not show. */
interface OwnWrites {
  /** The target Deployment's metadata.generation after Vireo scaled it. */
  targetGeneration?: number;
  /** The routes as the routing object's write stored them, when the adapter could tell from the response. */
  routes?: Weights | null;
}

/**
 * What one reconcile's actions act on. The mesh adapter is the one the observations were read through, so a write
 * can start from that read (see ObjectStore) instead of reading the object again.
 */
interface ExecutionContext {
  owner: OwnerRef;
  policy: AccessPolicyModel | null;
  ref: SplitRef;
  mesh: MeshAdapter;
}

/** Reconciles one Rollout. */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  /**
   * Rollouts without an access policy whose mesh was already checked to hold none of ours, by uid → generation.
   * Checking again on every reconcile cost two GETs per reconcile (43 % of all reads at 1,000 Rollouts) to confirm
   * the absence of objects only Vireo would create; a spec change (new generation) or a restart checks again.
   */
  readonly #noPolicyConfirmed = new Map<string, number>();
  /** Our own last status write per key: the informer may lag it, and deciding from older status repeats work. */
  readonly #fence = new WriteFence();
  /** Reconciles in a row that failed, by key. */
  readonly #failures = new Map<string, number>();
  /** Errors already counted and written into status by the reconcile that hit them. */
  readonly #reflected = new WeakSet<object>();
  /** Rollouts warned that SMI splits every port of their Service, by uid → generation: once, not per reconcile. */
  readonly #portsWarned = new Map<string, number>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  async reconcile(namespace: string, name: string, signal: AbortSignal): Promise<ReconcileResult> {
    const key = `${namespace}/${name}`;
    const rollout = this.#d.rollouts.get(namespace, name);
    if (!rollout) {
      this.#fence.forget(key);
      this.#failures.delete(key);
      this.#d.measurements.forget(key);
      this.#d.observer.rolloutDeleted(namespace, name);
      return {};
    }
    // Never decide from a cache older than our own last write: that status was already acted on.
    if (this.#fence.isStale(key, rollout.metadata.resourceVersion)) return { requeueAfterMs: STALE_RETRY_MS };
    try {
      const result = await this.#reconcile(rollout, signal);
      this.#failures.delete(key);
      return result;
    } catch (err) {
      // Someone else wrote the Rollout since our read (a user, a GitOps tool): read again and decide again.
      if (classifyError(err).kind === KubeErrorKind.Conflict) return { requeueAfterMs: STALE_RETRY_MS };
      await this.#reportFailure(rollout, err);
      throw err;
    }
  }

  /**
   * Makes a failure visible where the user looks: a Warning Event (the recorder folds repeats into one series)
   * and, once it persists, Degraded=True with the API server's message. The next successful decision clears it.
   */
  async #reportFailure(rollout: Rollout, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    await this.#record(rollout, [
      { type: "RecordEvent", eventType: "Warning", reason: REASONS.ReconcileError, message },
    ]).catch(() => {});
    if (this.#reflected.has(err as object)) return;
    const next = this.#withFailure(rollout, rollout.status ?? {}, err);
    // Best effort: the write may itself fail for the same reason (API server down); the Event is already out.
    await this.#writeStatus(rollout, next).catch(() => {});
  }

  /** Counts a failure; once it persists, `status` gets Degraded=True with the error's message. */
  #withFailure(rollout: Rollout, status: RolloutStatus, err: unknown): RolloutStatus {
    const key = `${rollout.metadata.namespace}/${rollout.metadata.name}`;
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    if (typeof err === "object" && err !== null) this.#reflected.add(err);
    if (failures < DEGRADED_AFTER_FAILURES) return status;
    const message = err instanceof Error ? err.message : String(err);
    // A Gateway's refusal is named as such: the person reading the condition fixes the route, not the controller.
    const reason =
      err instanceof MeshError && err.kind === MeshErrorKind.NotAccepted
        ? REASONS.RouteNotAccepted
        : REASONS.ReconcileError;
    let conditions = status.conditions;
    // Stalled too (kstatus): the controller cannot make progress until the error goes away.
    for (const type of [CONDITION_TYPES.degraded, CONDITION_TYPES.stalled])
      conditions = setCondition(
        conditions,
        { type, status: "True", reason, message },
        rollout.metadata.generation ?? 1,
        this.#d.now(),
      );
    return { ...status, conditions };
  }

  async #reconcile(cached: Rollout, _signal: AbortSignal): Promise<ReconcileResult> {
    let rollout = cached;
    const d = this.#d;
    const { namespace, name } = rollout.metadata;
    const validation = validateRolloutSpec(rollout.spec);
    const spec = validation.ok ? validation.spec : undefined;
    // What Vireo last acted on: lets an invalid Rollout still route back to primary and hand the workload back.
    const lastValid = spec ?? lastValidSpec(rollout.status);
    if (rollout.metadata.deletionTimestamp) return this.#finalize(rollout, lastValid);
    if (!rollout.metadata.finalizers?.includes(FINALIZER)) {
      const finalizers = withFinalizer(rollout.metadata.finalizers, FINALIZER);
      const updated = (await d.statusWriter.patchMetadata(rolloutRef(namespace, name), {
        finalizers,
        ...(rollout.metadata.resourceVersion ? { resourceVersion: rollout.metadata.resourceVersion } : {}),
      })) as { metadata?: { resourceVersion?: string } } | undefined;
      // Later writes in this reconcile are fenced on the version our own finalizer patch produced.
      const rv = updated?.metadata?.resourceVersion;
      rollout = {
        ...rollout,
        metadata: { ...rollout.metadata, finalizers, ...(rv ? { resourceVersion: rv } : {}) },
      };
      this.#fence.wrote(`${namespace}/${name}`, undefined, rv);
    }

    const now = d.now();
    const generation = rollout.metadata.generation ?? 1;
    if (!spec) {
      let obs: Observations = { ...emptyObservations(), specIssues: validation.ok ? [] : validation.issues };
      let world:
        | { names: WorkloadNames; snap: WorkloadSnapshot; ref: SplitRef; mesh: MeshAdapter }
        | undefined;
      if (lastValid) {
        const names = workloadNames(namespace, name, lastValid);
        const snap = await d.workloads.snapshot(names);
        const ref = splitRef(names, lastValid);
        world = { names, snap, ref, mesh: d.mesh(lastValid) };
        const autoscaler = WorkloadManager.observeAutoscalers(snap);
        obs = {
          ...obs,
          ...WorkloadManager.observe(snap),
          routes: await world.mesh.getRoutes(ref),
          ...(autoscaler ? { autoscaler } : {}),
        };
      }
      const decision = decide({ generation, spec: undefined, status: rollout.status }, obs, now);
      // The same order as a valid spec's: world actions, the fenced status write, then what must follow it.
      const act = async (which: (a: Action) => boolean) => {
        if (!lastValid || !world) return;
        const ctx = { owner: ownerOf(rollout), policy: null, ref: world.ref, mesh: world.mesh };
        await this.#execute(lastValid, world.names, world.snap, decision.actions.filter(which), ctx, []);
      };
      await act((a) => !AFTER_STATUS.has(a.type));
      await this.#writeStatus(rollout, decision.status);
      await this.#record(rollout, decision.actions);
      await act((a) => AFTER_STATUS.has(a.type));
      return {};
    }

    const names = workloadNames(namespace, name, spec);
    const mesh = d.mesh(spec);
    const snap = await d.workloads.snapshot(names);
    const owner = ownerOf(rollout);
    const policy = accessPolicyModel(rollout, spec, names, snap);
    const ref = {
      ...splitRef(names, spec),
      otherPorts: otherServicePorts(spec, snap.rootService).map((p) => p.port),
    };
    const portsWarning = spec.provider === "smi" ? smiPortsWarning(ref) : undefined;
    if (portsWarning && this.#portsWarned.get(owner.uid) !== generation) {
      this.#portsWarned.set(owner.uid, generation);
      await this.#record(rollout, [
        { type: "RecordEvent", eventType: "Warning", reason: REASONS.PortsNotSplit, message: portsWarning },
      ]);
    }
    const [routes, accessPolicyInSync] = await Promise.all([
      mesh.getRoutes(ref),
      !policy && this.#noPolicyConfirmed.get(owner.uid) === generation
        ? Promise.resolve(true)
        : mesh.accessPolicyInSync(ref, policy),
    ]);
    const workloads = WorkloadManager.observe(snap);
    const autoscaler = WorkloadManager.observeAutoscalers(snap);
    // Measuring takes as long as Prometheus does: it runs off the workers and its result comes back as a reconcile.
    const tick = d.measurements.tick(`${namespace}/${name}`, {
      spec,
      status: rollout.status,
      generation,
      observedRevision: workloads.canary.revision,
      now,
      run: (measureSignal) => d.analysis.measure(spec, names, measureSignal, rollout.status),
    });
    if (!policy && accessPolicyInSync) this.#noPolicyConfirmed.set(owner.uid, generation);
    else this.#noPolicyConfirmed.delete(owner.uid);
    const observations: Observations = {
      // Limits the API server would only enforce halfway through creating objects: Invalid before any is made.
      specIssues: [
        ...checkDerivedLimits(spec, names, snap.target, snap.rootService),
        ...(d.analysis.specIssues?.(spec, names) ?? []),
      ],
      ...workloads,
      servicesReady: WorkloadManager.servicesReady(snap, spec, owner),
      routes,
      accessPolicyInSync,
      ...(tick.result ? { analysis: tick.result.measurements, analysisAt: tick.result.startedAt } : {}),
      requests: requestsOf(rollout),
      window: evaluateWindows(spec.windows, now),
      ...(autoscaler ? { autoscaler } : {}),
    };
    // Decide, act, and — when the actions changed what the decision observed — decide once more on the new
    // observations, so one status write says all of it: routes written are confirmed (the usual step, set routes
    // → routes confirmed → wait, costs one write instead of two; no watch reports routes) from the write's own
    // response, or by reading them back where only a read can tell; and the canary scaled up records the generation
    // its own scale produced (else the next reconcile would write status for that alone).
    const ctx = { owner, policy, ref, mesh };
    const done = new Set<string>();
    const actions: Action[] = [];
    /** What EnsureWorkloads really created or changed; after initialization each is a repair worth an Event. */
    const repaired: string[] = [];
    let status = rollout.status;
    let requeue: number | undefined;
    let failure: unknown;
    let obs = observations;
    for (let pass = 0; pass < 2; pass++) {
      const decision = decide({ generation, spec, status }, obs, now);
      const fresh = decision.actions.filter((a) => !done.has(JSON.stringify(a)));
      for (const a of fresh) done.add(JSON.stringify(a));
      actions.push(...fresh);
      status = decision.status;
      requeue = decision.requeueAfterMs;
      let own: OwnWrites;
      try {
        const immediate = fresh.filter((a) => !AFTER_STATUS.has(a.type));
        own = await this.#execute(spec, names, snap, immediate, ctx, repaired);
      } catch (err) {
        failure = err;
        break;
      }
      const routed = fresh.some((a) => a.type === "SetRoutes");
      if (!routed && own.targetGeneration === undefined) break;
      const { analysis: _tickAlreadyRecorded, ...rest } = obs;
      obs = {
        ...rest,
        ...(routed ? { routes: own.routes !== undefined ? own.routes : await mesh.getRoutes(ref) } : {}),
        ...(own.targetGeneration !== undefined
          ? { canary: { ...rest.canary, generation: own.targetGeneration } }
          : {}),
      };
    }

    // Notifications go into status before delivery, so a crash in between cannot lose them.
    const decided = d.notifications.wants(spec)
      ? actions.filter((a): a is Extract<Action, { type: "Notify" }> => a.type === "Notify").map(toPending)
      : [];
    // Settled keys are acknowledged only after the status write that records them, so a failed write (or a crash)
    // leaves them reported again to the next reconcile instead of lost.
    const settled = d.notifications.delivered(namespace, name);
    const outbox = updateOutbox(status ?? {}, decided, settled);
    if (outbox.dropped > 0) d.observer.notificationsDropped(outbox.dropped);
    if (failure !== undefined) outbox.status = this.#withFailure(rollout, outbox.status, failure);
    // Status first, fenced: a decision that lost a race (409) records no Event and hands over no notification, so
    // the decision taken again from fresh status is the only one anybody hears about.
    await this.#writeStatus(rollout, outbox.status);
    // Settled keys are forgotten by the sink only now that a status write recorded them.
    d.notifications.acknowledge(
      namespace,
      name,
      settled.map((x) => x.key),
    );
    const repairs: Action[] =
      rollout.status?.phase && rollout.status.phase !== "Initializing"
        ? repaired.map((what) => ({
            type: "RecordEvent",
            eventType: "Warning",
            reason: REASONS.Repaired,
            message: what,
          }))
        : [];
    await this.#record(rollout, [...repairs, ...actions, ...outbox.events]);
    for (const p of outbox.status.notifications?.pending ?? []) d.notifications.submit(rollout, spec, p);
    d.observer.analysisResults(namespace, name, outbox.status, rollout.status);
    if (failure) throw failure;
    const recorded = actions.filter((a) => AFTER_STATUS.has(a.type));
    if (recorded.length > 0) await this.#execute(spec, names, snap, recorded, ctx, repaired);
    // Undelivered notifications are offered again periodically: delivery may have given up during a long outage,
    // and an otherwise quiet Rollout would not be reconciled again until the informer's resync.
    const retryPending =
      (outbox.status.notifications?.pending?.length ?? 0) > 0 ? PENDING_RETRY_MS : undefined;
    // While a measurement runs, the engine's "tick due now" wake is the result callback's job; the timeout is the
    // safety net should that wake be lost.
    const waitAnalysis = tick.waiting ? d.measurements.timeoutMs + 1000 : undefined;
    if (tick.waiting && requeue === 0) requeue = undefined;
    const requeueAfterMs = minDefined(minDefined(requeue, retryPending), waitAnalysis);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
  }

  /**
   * Carries out world actions in order; the first failure stops the rest (later ones may depend on it).
   * @returns what the writes changed that the next decision should see
   */
  async #execute(
    spec: RolloutSpec,
    names: WorkloadNames,
    snap: WorkloadSnapshot,
    actions: readonly Action[],
    ctx: ExecutionContext,
    repaired: string[],
  ): Promise<OwnWrites> {
    const { mesh } = ctx;
    const own: OwnWrites = {};
    for (const action of actions) {
      if (!WORLD_ACTIONS.has(action.type)) continue;
      this.#d.log.info({ rollout: `${names.namespace}/${names.rollout}`, action }, `action ${action.type}`);
      switch (action.type) {
        case "EnsureWorkloads":
          repaired.push(...(await this.#d.workloads.ensure(snap, spec, ctx.owner, action)));
          break;
        case "ScalePrimary":
          await this.#d.workloads.scalePrimary(snap, action.replicas);
          break;
        case "SyncAutoscaler":
          await this.#d.workloads.syncAutoscaler(snap, ctx.owner, action.minReplicas);
          break;
        case "DeleteAutoscaler":
          await this.#d.workloads.deleteAutoscaler(snap);
          break;
        case "ScaleCanaryUp":
        case "ScaleCanaryDown": {
          const generation = await this.#d.workloads.scaleCanary(snap, action.type === "ScaleCanaryUp");
          if (generation !== undefined) own.targetGeneration = generation;
          break;
        }
        case "SetRoutes": {
          const split: TrafficSplitModel = {
            ...ctx.ref,
            weights: action.weights,
            owner: ctx.owner,
            ...(spec.service.gateways ? { gateways: spec.service.gateways } : {}),
            ...(spec.service.hosts ? { hosts: spec.service.hosts } : {}),
          };
          const written = await mesh.setRoutes(split);
          if (written !== undefined) own.routes = written;
          break;
        }
        case "ApplyAccessPolicy":
          await mesh.applyAccessPolicy({ ...ctx.ref, owner: ctx.owner }, ctx.policy);
          break;
        case "PromotePrimary":
          await this.#d.workloads.promote(names, action.revision, ctx.owner, action.replicas);
          break;
        default:
          break;
      }
    }
    return own;
  }

  /**
   * Hands the Events to the recorder without waiting for them: an Event informs a person and never gates a decision,
   * so its API round trip must not hold a worker (the recorder serializes repeats and never rejects). The write
   * fence still applies to each, in the pipeline.
   */
  async #record(rollout: Rollout, actions: readonly Action[]): Promise<void> {
    const regarding = {
      apiVersion: API_VERSION,
      kind: KIND,
      namespace: rollout.metadata.namespace,
      name: rollout.metadata.name,
      ...(rollout.metadata.uid ? { uid: rollout.metadata.uid } : {}),
    };
    for (const a of actions) {
      if (a.type !== "RecordEvent") continue;
      void this.#d.events
        .record(regarding, {
          type: a.eventType,
          reason: a.reason,
          action: a.reason,
          note: a.message,
        })
        .catch(() => {}); // the recorder logs its own failures; this only guards a crashed process
    }
  }

  /** Writes status if it changed, fenced on the resourceVersion the decision was made from. */
  async #writeStatus(rollout: Rollout, next: RolloutStatus): Promise<void> {
    const { namespace, name, resourceVersion } = rollout.metadata;
    const res = await this.#d.statusWriter.patchStatus(
      rolloutRef(namespace, name),
      rollout.status ?? {},
      next,
      resourceVersion,
    );
    if (res.written) this.#fence.wrote(`${namespace}/${name}`, resourceVersion, res.resourceVersion);
    this.#d.observer.rolloutState(namespace, name, next);
  }

  /** Deletion: hand the workload back to the user, remove routing, then let garbage collection take the rest. */
  async #finalize(rollout: Rollout, spec: RolloutSpec | undefined): Promise<ReconcileResult> {
    const d = this.#d;
    const { namespace, name } = rollout.metadata;
    if (!rollout.metadata.finalizers?.includes(FINALIZER)) return {};
    if (spec) {
      const names = workloadNames(namespace, name, spec);
      const snap = await d.workloads.snapshot(names);
      if (!(await d.workloads.restore(snap))) {
        d.log.info(
          { rollout: `${namespace}/${name}` },
          "deletion: waiting for the Deployment to serve again before removing routes",
        );
        return { requeueAfterMs: 2000 };
      }
      const mesh = d.mesh(spec);
      await mesh.cleanup(splitRef(names, spec));
    }
    await d.statusWriter.patchMetadata(rolloutRef(namespace, name), {
      finalizers: withoutFinalizer(rollout.metadata.finalizers, FINALIZER),
      ...(rollout.metadata.resourceVersion ? { resourceVersion: rollout.metadata.resourceVersion } : {}),
    });
    this.#noPolicyConfirmed.delete(rollout.metadata.uid ?? "");
    this.#portsWarned.delete(rollout.metadata.uid ?? "");
    d.measurements.forget(`${namespace}/${name}`);
    d.observer.rolloutDeleted(namespace, name);
    return {};
  }
}

/** The last spec that passed validation, as kept in status (re-validated: status is writable by others too). */
function lastValidSpec(status: RolloutStatus | undefined): RolloutSpec | undefined {
  if (!status?.lastValidSpec) return undefined;
  const v = validateRolloutSpec(status.lastValidSpec);
  return v.ok ? v.spec : undefined;
}

function emptyObservations(): Observations {
  const none = { exists: false, desiredReplicas: 0, readyReplicas: 0, rolledOut: false };
  return {
    specIssues: [],
    canary: none,
    primary: none,
    servicesReady: false,
    routes: null,
    accessPolicyInSync: true,
    requests: {},
    window: evaluateWindows(undefined, new Date(0)),
  };
}
