// The reconciler: the only place that orchestrates. Reads the world, asks the pure engine, carries out its
// actions in order, writes status once (fenced on what the decision saw), and only then records Events and
// hands over notifications. Level-based: it never depends on which event woke it.

import {
  API_VERSION,
  CONDITION_TYPES,
  FINALIZER,
  FORCE_RELEASE_ANNOTATION,
  GROUP,
  isInPlaceKind,
  KIND,
  PLURAL,
  REASONS,
  VERSION,
} from "../api/constants.ts";
import type { Rollout, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { classifyError, KubeErrorKind } from "../kube/errors.ts";
import type { EventIdentity } from "../kube/event-recorder.ts";
import type { ObjectRef } from "../kube/status-writer.ts";
import { withFinalizer, withoutFinalizer } from "../kube/status-writer.ts";
import { WriteFence } from "../kube/write-fence.ts";
import { MeshError, MeshErrorKind } from "../mesh/errors.ts";
import type { ProviderWarning } from "../mesh/provider.ts";
import { setCondition } from "../rollout/conditions.ts";
import { DEFAULT_DELETION_TIMEOUT_MS, decideDeletion } from "../rollout/deletion.ts";
import { withinBudget } from "../rollout/status-budget.ts";
import type { Action } from "../rollout/types.ts";
import { handBackPlan, unrecordedClaims } from "../workload/claims.ts";
import { servingGap } from "../workload/hand-back.ts";
import { workloadNames } from "../workload/names.ts";
import { afterStatus, type Decided, decideAndAct, execute } from "./execute.ts";
import { finishHandBack, restorable } from "./hand-back.ts";
import { handBackInPlace } from "./in-place-hand-back.ts";
import { namedActions, recentMilestoneEvents } from "./milestone-events.ts";
import { type NoPolicyConfirmed, type Observed, observe, ownerOf, validated } from "./observe.ts";
import { type OutboxUpdate, type SettledNotification, toPending, updateOutbox } from "./outbox.ts";
import type { ReconcileResult, ReconcilerDeps } from "./ports.ts";
import { withTemplates } from "./templates.ts";

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

/** Reconciles one Rollout: {@link observe}, {@link decideAndAct}, then commit, in that order for every spec. */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  /** See {@link NoPolicyConfirmed}. */
  readonly #noPolicyConfirmed: NoPolicyConfirmed = new Map();
  /** Our own last status write per key: the informer may lag it, and deciding from older status repeats work. */
  readonly #fence = new WriteFence();
  /** Reconciles in a row that failed, by key. */
  readonly #failures = new Map<string, number>();
  /** Errors already counted and written into status by the reconcile that hit them. */
  readonly #reflected = new WeakSet<object>();
  /** Rollouts warned about their spec (e.g. SMI splits every port of their Service), by uid → generation. */
  readonly #warned = new Map<string, number>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  /**
   * Reconciles `namespace/name`. The work queue's signal goes unused: what takes long (measuring) runs off the
   * workers with its own, and every write here is short and fenced.
   */
  async reconcile(namespace: string, name: string, _signal: AbortSignal): Promise<ReconcileResult> {
    const key = `${namespace}/${name}`;
    const rollout = this.#d.rollouts.get(namespace, name);
    if (!rollout) {
      this.#fence.forget(key);
      this.#failures.delete(key);
      this.#d.measurements.forget(key);
      this.#d.checks?.forget(namespace, name);
      this.#d.observer.rolloutDeleted(namespace, name);
      return {};
    }
    // Never decide from a cache older than our own last write: that status was already acted on.
    if (this.#fence.isStale(key, rollout.metadata.resourceVersion)) return { requeueAfterMs: STALE_RETRY_MS };
    try {
      const result = await this.#reconcile(rollout);
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

  /** One reconcile of a live Rollout: observe, decide and act, commit. */
  async #reconcile(cached: Rollout): Promise<ReconcileResult> {
    const v = withTemplates(validated(cached), cached, this.#d.templates);
    if (cached.metadata.deletionTimestamp) return this.#finalize(cached, v.acting);
    const rollout = await this.#ensureFinalizer(cached);
    const now = this.#d.now();
    const observed = await observe(this.#d, this.#noPolicyConfirmed, rollout, v, now);
    await this.#warnOnce(rollout, observed.warnings);
    const current = { generation: rollout.metadata.generation ?? 1, status: rollout.status };
    const decided = await decideAndAct(this.#d, observed, current, now);
    return this.#commit(rollout, observed, decided);
  }

  /**
   * Adds Vireo's finalizer (so deletion restores traffic first) and returns the Rollout as the patch left it: later
   * writes in this reconcile are fenced on the version our own finalizer patch produced.
   */
  async #ensureFinalizer(rollout: Rollout): Promise<Rollout> {
    if (rollout.metadata.finalizers?.includes(FINALIZER)) return rollout;
    const { namespace, name } = rollout.metadata;
    const finalizers = withFinalizer(rollout.metadata.finalizers, FINALIZER);
    const updated = (await this.#d.statusWriter.patchMetadata(rolloutRef(namespace, name), {
      finalizers,
      ...(rollout.metadata.resourceVersion ? { resourceVersion: rollout.metadata.resourceVersion } : {}),
    })) as { metadata?: { resourceVersion?: string } } | undefined;
    const rv = updated?.metadata?.resourceVersion;
    this.#fence.wrote(`${namespace}/${name}`, undefined, rv);
    return {
      ...rollout,
      metadata: { ...rollout.metadata, finalizers, ...(rv ? { resourceVersion: rv } : {}) },
    };
  }

  /** Records the provider's warnings as Warning Events once per generation (not once per reconcile). */
  async #warnOnce(rollout: Rollout, warnings: readonly ProviderWarning[]): Promise<void> {
    const uid = rollout.metadata.uid ?? "";
    const generation = rollout.metadata.generation ?? 1;
    if (warnings.length === 0 || this.#warned.get(uid) === generation) return;
    this.#warned.set(uid, generation);
    await this.#record(
      rollout,
      warnings.map(({ reason, message }) => ({ type: "RecordEvent", eventType: "Warning", reason, message })),
    );
  }

  /**
   * The one order every decision is committed in, valid spec or not: status first, fenced (a decision that lost a
   * race, 409, records no Event and hands over no notification, so the decision taken again from fresh status is
   * the only one anybody hears about); then its Events and notifications; then the actions that must follow it.
   */
  async #commit(rollout: Rollout, observed: Observed, decided: Decided): Promise<ReconcileResult> {
    const { namespace, name } = rollout.metadata;
    const { spec, target, tick } = observed;
    const outbox = spec ? this.#outbox(rollout, spec, decided) : undefined;
    let status = outbox?.status ?? decided.status ?? {};
    if (decided.failure !== undefined) status = this.#withFailure(rollout, status, decided.failure);
    await this.#writeStatus(rollout, status);
    // Settled keys are forgotten by the sink only now that a status write recorded them.
    if (outbox)
      this.#d.notifications.acknowledge(
        namespace,
        name,
        outbox.settled.map((x) => x.key),
      );
    await this.#record(
      rollout,
      [...this.#repairs(rollout, decided), ...decided.actions, ...(outbox?.events ?? [])],
      namedActions(rollout.metadata, rollout.status, status, decided.actions),
    );
    await this.#recordMilestones(rollout, status);
    if (spec) {
      for (const p of status.notifications?.pending ?? []) this.#d.notifications.submit(rollout, spec, p);
      this.#d.observer.analysisResults(namespace, name, status, rollout.status);
    }
    try {
      if (decided.failure) throw decided.failure;
      const recorded = decided.actions.filter(afterStatus);
      if (target && recorded.length > 0) await execute(this.#d, target, recorded, decided.repaired);
    } finally {
      // Check runs start only now that status records them, whatever the other writes did: status says each Job
      // was asked for, and a Job asked for and not there fails its run rather than being created twice. A crash
      // before this point repeats a webhook call with the same Idempotency-Key, or fails the Job's run as missing.
      if (spec && this.#d.checks) {
        const owner = ownerOf(rollout);
        for (const a of decided.actions) await this.#d.checks.act(rollout, spec, owner, a);
        this.#d.checks.dispatch(rollout, spec, status);
      }
    }
    // Undelivered notifications are offered again periodically: delivery may have given up during a long outage,
    // and an otherwise quiet Rollout would not be reconciled again until the informer's resync.
    const retryPending =
      spec && (status.notifications?.pending?.length ?? 0) > 0 ? PENDING_RETRY_MS : undefined;
    // While a measurement runs, the engine's "tick due now" wake is the result callback's job; the timeout is the
    // safety net should that wake be lost.
    const waitAnalysis = tick?.waiting ? this.#d.measurements.timeoutMs + 1000 : undefined;
    const requeue = tick?.waiting && decided.requeueAfterMs === 0 ? undefined : decided.requeueAfterMs;
    const requeueAfterMs = minDefined(minDefined(requeue, retryPending), waitAnalysis);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
  }

  /**
   * The decision's notifications put into status before delivery, so a crash in between cannot lose them, and the
   * settled ones that status write records. Settled keys are acknowledged only after it, so a failed write (or a
   * crash) leaves them reported again to the next reconcile instead of lost.
   */
  #outbox(
    rollout: Rollout,
    spec: RolloutSpec,
    decided: Decided,
  ): OutboxUpdate & { settled: SettledNotification[] } {
    const { namespace, name } = rollout.metadata;
    const notify = this.#d.notifications.wants(spec)
      ? decided.actions
          .filter((a): a is Extract<Action, { type: "Notify" }> => a.type === "Notify")
          .map(toPending)
      : [];
    const settled = this.#d.notifications.delivered(namespace, name);
    const outbox = updateOutbox(decided.status ?? {}, notify, settled);
    if (outbox.dropped > 0) this.#d.observer.notificationsDropped(outbox.dropped);
    return { ...outbox, settled };
  }

  /** What EnsureWorkloads created or changed, as Warning Events once the Rollout is past initialization. */
  #repairs(rollout: Rollout, decided: Decided): Action[] {
    const phase = rollout.status?.phase;
    if (!phase || phase === "Initializing") return [];
    return decided.repaired.map((message) => ({
      type: "RecordEvent",
      eventType: "Warning",
      reason: REASONS.Repaired,
      message,
    }));
  }

  /**
   * Hands the Events to the recorder without waiting for them: an Event informs a person and never gates a decision,
   * so its API round trip must not hold a worker (the recorder serializes repeats and never rejects). The write
   * fence still applies to each, in the pipeline.
   */
  async #record(
    rollout: Rollout,
    actions: readonly Action[],
    named?: ReadonlyMap<Action, EventIdentity>,
  ): Promise<void> {
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
        .record(
          regarding,
          { type: a.eventType, reason: a.reason, action: a.reason, note: a.message },
          named?.get(a),
        )
        .catch(() => {}); // the recorder logs its own failures; this only guards a crashed process
    }
  }

  /**
   * Records again the Events of the recent milestones in `status` (written, so durable), each under its milestone's
   * name: the recorder skips those it already has and the API server refuses a second one, so only an Event lost
   * after the status write (a crash, a frozen leader, an API server outage, a write that landed but answered with an
   * error) is created, and only once.
   */
  #recordMilestones(rollout: Rollout, status: RolloutStatus): Promise<void> {
    const events = recentMilestoneEvents(rollout.metadata, status, this.#d.now().getTime());
    return this.#record(
      rollout,
      events.map((e) => e.action),
      new Map(events.map((e) => [e.action, e.identity])),
    );
  }

  /**
   * Writes status if it changed, fenced on the resourceVersion the decision was made from, and within its size
   * budget (the outbox and a failure's condition are added after the engine's decision kept it there).
   */
  async #writeStatus(rollout: Rollout, wanted: RolloutStatus): Promise<void> {
    const next = withinBudget(wanted);
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

  /**
   * Deletion: hand the workload back to the user, remove routing, then let garbage collection take the rest. While
   * the user's Deployment does not serve, the Rollout says why (status, a Warning Event) until the deletion
   * deadline; past it, or when a person forces it, what can be handed back is, and an Event says what was not.
   */
  async #finalize(rollout: Rollout, spec: RolloutSpec | undefined): Promise<ReconcileResult> {
    const d = this.#d;
    const { namespace, name } = rollout.metadata;
    if (!rollout.metadata.finalizers?.includes(FINALIZER)) return {};
    let released: { why: string; undone: string[] } | undefined;
    let handedBack: string | undefined;
    if (spec && isInPlaceKind(spec.targetRef.kind)) handedBack = await handBackInPlace(d, rollout, spec);
    else if (spec) {
      const names = workloadNames(namespace, name, spec);
      const owner = ownerOf(rollout);
      const recorded = rollout.status?.claims;
      // Everything recorded, and what carries this Rollout's label without a record (or, for a Rollout from
      // before claims, what its own objects prove it took over) — never only the objects the spec names now.
      const unrecorded = unrecordedClaims(await d.workloads.snapshot(names), owner, recorded !== undefined);
      let remaining = [
        ...(recorded ?? []),
        ...unrecorded.filter((c) => !recorded?.some((r) => r.kind === c.kind && r.name === c.name)),
      ];
      const ctx = { mesh: d.mesh(spec), owner, replicas: rollout.status?.replicas };
      // One target and root Service at a time (a rename under way records two of either).
      do {
        const plan = handBackPlan(remaining, remaining, names);
        remaining = remaining.filter((c) => c !== plan.target && c !== plan.root);
        const snap = await d.workloads.snapshot(plan.names);
        const what = restorable(plan, snap);
        // A hand-back that keeps failing (a webhook refusing the patch) is bounded by the deadline too.
        const restore = await d.workloads.restore(snap, what, ctx.replicas).then(
          (done) => ({ done, error: undefined }),
          (error: unknown) => ({ done: false, error }),
        );
        if (!restore.done) {
          const decision = decideDeletion(
            {
              generation: rollout.metadata.generation ?? 1,
              status: rollout.status,
              deletedAt: new Date(rollout.metadata.deletionTimestamp ?? d.now()),
              timeoutMs: d.deletionTimeoutMs ?? DEFAULT_DELETION_TIMEOUT_MS,
              forceRequested: Boolean(rollout.metadata.annotations?.[FORCE_RELEASE_ANNOTATION]),
              gap:
                snap.target && what.target
                  ? servingGap(snap.target)
                  : { what: `Deployment ${plan.names.target}` },
            },
            d.now(),
          );
          if (!decision.release) {
            if (restore.error !== undefined) throw restore.error;
            await this.#writeStatus(rollout, decision.status);
            await this.#record(rollout, decision.actions);
            return { requeueAfterMs: decision.requeueAfterMs };
          }
          const undone = await d.workloads
            .release(snap, what.root)
            .catch((err: unknown) => [`workload not handed back (${messageOf(err)})`]);
          released = { why: decision.why, undone: [...(released?.undone ?? []), ...undone] };
        }
        try {
          await finishHandBack(d, plan, snap, spec, ctx, undefined);
        } catch (err) {
          if (!released) throw err;
          // Released anyway: the routing objects are the Rollout's, so garbage collection deletes them with it.
          released.undone.push(`routing objects or claim labels not cleaned up (${messageOf(err)})`);
        }
      } while (remaining.length > 0);
    }
    await d.statusWriter.patchMetadata(rolloutRef(namespace, name), {
      finalizers: withoutFinalizer(rollout.metadata.finalizers, FINALIZER),
      ...(rollout.metadata.resourceVersion ? { resourceVersion: rollout.metadata.resourceVersion } : {}),
    });
    if (handedBack)
      await this.#record(rollout, [
        { type: "RecordEvent", eventType: "Normal", reason: REASONS.HandedBack, message: handedBack },
      ]);
    if (released) {
      const undone = released.undone.length > 0 ? released.undone.join("; ") : "nothing was left undone";
      await this.#record(rollout, [
        {
          type: "RecordEvent",
          eventType: "Warning",
          reason: REASONS.DeletionReleased,
          message: `released before the workload was handed back (${released.why}): ${undone}`,
        },
      ]);
    }
    this.#noPolicyConfirmed.delete(rollout.metadata.uid ?? "");
    this.#warned.delete(rollout.metadata.uid ?? "");
    d.measurements.forget(`${namespace}/${name}`);
    d.observer.rolloutDeleted(namespace, name);
    return {};
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
