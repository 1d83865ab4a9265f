// Property tests of the reconciler against an in-memory cluster that injects the faults: stale cache reads, failed
// requests, a concurrent writer and crashes. A crash or conflict anywhere repeats no Event, notification or analysis
// tick, no decision is taken from stale status, traffic never goes to a backend without pods, and it all ends.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ANNOTATIONS, PROMOTE_FULL, type Reason, type RequestKind } from "../api/constants.ts";
import { parseDuration } from "../api/duration.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import { REVISION_ANNOTATION } from "../workload/names.ts";
import { MILESTONE_EVENT_WINDOW_MS, milestoneEventName, milestoneEventType } from "./milestone-events.ts";
import { Reconciler } from "./reconciler.ts";
import {
  type FakeCluster as Cluster,
  Crash,
  FakeCluster,
  type FaultPlan,
  NAME,
  NAMESPACE,
} from "./testing/fake-cluster.ts";

/** Random lives per property (VIREO_PROPERTY_RUNS overrides, as for the engine's property tests). */
const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 200);
/** Fixed so CI is reproducible; VIREO_PROPERTY_SEED explores other lives. */
const SEED = Number(process.env.VIREO_PROPERTY_SEED ?? 7);
/** Fault-free reconciles after which a life must have reached a settled end. */
const LIVENESS_BOUND = 120;

type Step =
  | { kind: "reconcile"; lag: number }
  | { kind: "settle" }
  | { kind: "time"; ms: number }
  | { kind: "revision"; rev: number }
  | { kind: "request"; request: RequestKind; full: boolean }
  | { kind: "analysis"; result: "pass" | "fail" | "nodata" | "error" }
  | { kind: "deliver" }
  | { kind: "edit"; valid: boolean }
  | { kind: "fault"; plan: FaultPlan };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("reconcile" as const),
      lag: fc.oneof(
        { weight: 2, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
      ),
    }),
  },
  { weight: 6, arbitrary: fc.constant({ kind: "settle" as const }) },
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 100, max: 15_000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("revision" as const), rev: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      request: fc.constantFrom<RequestKind>("promote", "abort", "pause", "resume", "retry"),
      full: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("analysis" as const),
      result: fc.constantFrom("pass", "pass", "pass", "fail", "nodata", "error"),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "deliver" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("edit" as const), valid: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("fault" as const),
      plan: fc.oneof(
        fc.record({
          kind: fc.constantFrom("fail" as const, "crash" as const),
          at: fc.integer({ min: 1, max: 8 }),
          applied: fc.boolean(),
        }),
        fc.constant({ kind: "conflict" as const }),
      ),
    }),
  },
);

const specArb = fc.record({
  steps: fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }).map((w) => ({ setWeight: w })) },
        { weight: 1, arbitrary: fc.constant({ pause: {} }) },
        { weight: 1, arbitrary: fc.constant({ pause: { duration: "15s" } }) },
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((steps) => {
      const ws = steps.flatMap((s) => ("setWeight" in s ? [s.setWeight] : [])).sort((a, b) => a - b);
      return steps.map((s) => ("setWeight" in s ? { setWeight: ws.shift()! } : s));
    }),
  skipAnalysis: fc.boolean(),
  failureLimit: fc.integer({ min: 1, max: 3 }),
});
type SpecIn = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

/** Totals across all lives, for the "not vacuous" test. */
interface Totals {
  staleRefused: number;
  staleReads: number;
  conflicts: number;
  failures: number;
  crashes: number;
  promoted: number;
  ended: number;
  lives: number;
  /** Notifications sent again by a new process (delivered, then a crash before status recorded it): at least once. */
  resent: number;
  /** Lives in which the Rollout went Invalid (an InvalidSpec Event after its status write). */
  invalid: number;
}

/** A life: the cluster, the running controller, and what the harness saw. */
class Life {
  readonly c: Cluster;
  reconciler: Reconciler;
  tokens = 0;
  staleRefused = 0;
  /** The spec applied last fails validation. */
  invalid = false;
  readonly signal = new AbortController().signal;

  constructor(specIn: SpecIn) {
    const spec = makeSpec({
      strategy: { canary: { steps: specIn.steps } },
      skipAnalysis: specIn.skipAnalysis,
      progressDeadlineSeconds: 300,
      analysis: { interval: "10s", failureLimit: specIn.failureLimit, metrics: makeSpec().analysis.metrics },
    });
    this.c = FakeCluster.create(spec);
    this.reconciler = new Reconciler(this.c.connect());
  }

  /** One reconcile with the armed fault; a crash replaces the controller (its memory is lost). */
  async reconcile(lag: number, plan?: FaultPlan): Promise<number | undefined> {
    const c = this.c;
    c.now += 1; // time always moves between reconciles
    c.lag = lag;
    const writesBefore = c.statusWrites.length;
    const eventsBefore = c.events.length;
    c.beginReconcile(plan);
    let requeue: number | undefined;
    let crashed = false;
    try {
      requeue = (await this.reconciler.reconcile(NAMESPACE, NAME, this.signal)).requeueAfterMs;
    } catch (err) {
      crashed = err instanceof Crash;
    }
    c.endReconcile();
    c.lag = 0;
    if (requeue === 200 && c.statusWrites.length === writesBefore && c.events.length === eventsBefore)
      this.staleRefused++;
    if (crashed) this.reconciler = new Reconciler(c.connect());
    return requeue;
  }

  /**
   * A person applies a spec: the original, or one validation refuses (an analysis interval that is no duration), so
   * the Rollout turns Invalid mid-life and must route back to primary, on the last valid spec kept in status.
   */
  edit(valid: boolean): void {
    const spec = this.c.spec;
    this.c.editSpec(valid ? spec : { ...spec, analysis: { ...spec.analysis, interval: "soon" } });
    this.invalid = !valid;
  }

  request(kind: RequestKind, full: boolean): void {
    this.c.annotate(ANNOTATIONS[kind], kind === "promote" && full ? PROMOTE_FULL : `t${++this.tokens}`);
  }

  /** Healthy on the newest revision, or the rollout of the newest revision ended; traffic on primary; outbox empty. */
  settled(): boolean {
    const c = this.c;
    const s = c.rollout.status;
    const rev = c.targetRevision();
    const onPrimary = c.routes()?.canary === 0 && c.deployment(NAME)?.spec.replicas === 0;
    const drained = (s?.notifications?.pending?.length ?? 0) === 0;
    const healthy =
      s?.phase === "Healthy" &&
      s.stableRevision === rev &&
      c.deployment(`${NAME}-primary`)?.metadata.annotations?.[REVISION_ANNOTATION] === rev;
    const ended = (s?.phase === "RolledBack" || s?.phase === "Aborted") && s.canaryRevision === rev;
    return onPrimary && drained && (healthy || ended);
  }
}

/** Every invariant, after every step. */
function checkInvariants(life: Life): void {
  const c = life.c;
  c.checkSafety();
  assert.deepEqual(c.violations, [], "invariants broken while operating");
  // Decision Events come from a decision that was written: its status write succeeded in the same reconcile.
  const writes = new Map(c.statusWrites.map((w) => [`${w.instance}/${w.reconcile}`, w]));
  const once = new Map<string, number>();
  for (const e of c.events) {
    if (e.reason === "ReconcileError" || e.reason === "Repaired") continue;
    // A milestone's Event recorded again from status (its first recording lost to a crash): the milestone is there.
    if (e.at !== undefined) {
      const at = e.at;
      assert.ok(
        e.status.milestones?.some((m) => Date.parse(m.at) === at && m.reason === e.reason),
        `Event ${e.reason} "${e.note}" recorded again without its milestone in status`,
      );
      continue;
    }
    if (e.name !== undefined)
      assert.equal(e.type, milestoneEventType(e.reason as Reason), "a milestone's type");
    const write = writes.get(`${e.instance}/${e.reconcile}`);
    assert.ok(write, `Event ${e.reason} "${e.note}" without its status write`);
    // One decision may move a rollout on and then restart it for a newer revision: an Event belongs to the rollout
    // it was based on or to the one it started, so a decision repeated from the same base gives the same key.
    const before = write.before;
    const after = e.status;
    const key =
      e.reason === "RolloutStarted" || e.reason === "NewRevision" || e.reason === "Retried"
        ? `started ${after.canaryRevision} ${after.rolloutStartedAt}`
        : e.reason === "StepAdvanced"
          ? `step ${before.rolloutStartedAt} ${after.rolloutStartedAt} ${e.note}`
          : e.reason === "Promoted" || e.reason === "Aborted"
            ? `${e.reason} ${e.note} ${before.rolloutStartedAt}`
            : e.note.startsWith("rolled back:")
              ? `rolled back ${before.canaryRevision} ${before.rolloutStartedAt} ${after.rolloutStartedAt}`
              : undefined;
    if (key === undefined) continue;
    once.set(key, (once.get(key) ?? 0) + 1);
    assert.equal(once.get(key), 1, `Event recorded twice for one decision: ${key}`);
  }
  // The primary runs what status calls stable; only a recorded promotion may change it. A spec turned invalid
  // mid-promotion freezes the engine where it was: the primary keeps the canary revision it was promoted to while
  // status still names the old stable one (found by this property; the engine finishes it once the spec is valid).
  const status = c.rollout.status;
  const primaryRevision = c.deployment(`${NAME}-primary`)?.metadata.annotations?.[REVISION_ANNOTATION];
  const promotionFrozen = status?.phase === "Invalid" && primaryRevision === status.canaryRevision;
  if (
    status?.stableRevision &&
    primaryRevision &&
    status.phase !== "Promoting" &&
    status.phase !== "Finalizing" &&
    !promotionFrozen
  )
    assert.equal(
      primaryRevision,
      status.stableRevision,
      `primary runs a revision status does not name (${status.phase})`,
    );
  // No analysis tick recorded twice: per metric, distinct times at least one interval apart.
  const history = c.rollout.status?.analysis?.history ?? [];
  const interval = parseDuration(c.spec.analysis.interval);
  const last = new Map<string, number>();
  for (const m of history) {
    const at = Date.parse(m.at);
    const prev = last.get(m.metric);
    if (prev !== undefined)
      assert.ok(at - prev >= interval, `analysis ticks ${prev} and ${at} of ${m.metric} too close`);
    last.set(m.metric, at);
  }
}

async function play(specIn: SpecIn, steps: Step[], totals?: Totals): Promise<Life> {
  const life = new Life(specIn);
  const c = life.c;
  // Adopt the Deployment fault-free, then push revision 2 so most lives are rollouts.
  for (let i = 0; i < 4; i++) {
    await life.reconcile(0);
    c.settle();
  }
  c.pushRevision(2);
  let plan: FaultPlan | undefined;
  for (const step of steps) {
    switch (step.kind) {
      case "reconcile":
        await life.reconcile(step.lag, plan);
        plan = undefined;
        break;
      case "settle":
        c.settle();
        break;
      case "time":
        c.now += step.ms;
        break;
      case "revision":
        c.pushRevision(step.rev);
        break;
      case "request":
        life.request(step.request, step.full);
        break;
      case "analysis":
        c.prometheus = step.result;
        break;
      case "deliver":
        c.deliver();
        break;
      case "edit":
        life.edit(step.valid);
        break;
      case "fault":
        plan = step.plan;
        break;
    }
    checkInvariants(life);
  }
  // Liveness: without faults (a person resumes what waits for a person, and fixes an invalid spec), a settled end
  // comes within the bound.
  c.prometheus = "pass";
  if (life.invalid) life.edit(true);
  let i = 0;
  for (; i < LIVENESS_BOUND && !life.settled(); i++) {
    if (c.rollout.status?.phase === "Paused") life.request("resume", false);
    const requeue = await life.reconcile(0);
    c.settle();
    c.deliver();
    c.now += Math.min(Math.max(requeue ?? 1000, 1), 30_000);
    checkInvariants(life);
  }
  assert.ok(
    life.settled(),
    `no settled end after ${LIVENESS_BOUND} fault-free reconciles: phase ${c.rollout.status?.phase}, ${c.rollout.status?.message}, routes ${JSON.stringify(c.routes())}, pending ${c.rollout.status?.notifications?.pending?.length ?? 0}`,
  );
  // No milestone's Event lost for good: what a crash dropped after the status write is recorded again from status.
  for (const m of c.rollout.status?.milestones ?? [])
    if (c.now - Date.parse(m.at) < MILESTONE_EVENT_WINDOW_MS)
      assert.ok(
        c.events.some((e) => e.name === milestoneEventName(c.rollout.metadata, m)),
        `milestone ${m.reason} "${m.message}" has no Event`,
      );
  if (totals) {
    totals.lives++;
    totals.staleRefused += life.staleRefused;
    totals.staleReads += c.counts.staleReads;
    totals.conflicts += c.counts.conflicts;
    totals.failures += c.counts.failures;
    totals.crashes += c.counts.crashes;
    const sent = c.sent.map((x) => x.key);
    totals.resent += sent.length - new Set(sent).size;
    if (c.events.some((e) => e.reason === "Promoted" && e.status.canaryRevision !== undefined))
      totals.promoted++;
    if (c.events.some((e) => e.reason === "Aborted" || e.note.startsWith("rolled back:"))) totals.ended++;
    if (c.events.some((e) => e.reason === "InvalidSpec")) totals.invalid++;
  }
  return life;
}

const lifeArb = fc.tuple(specArb, fc.array(stepArb, { minLength: 1, maxLength: 60, size: "max" }));

describe("reconciler under faults (property-based)", () => {
  it("no stale decision, no repeated Event, notification or tick, safe routes, and a settled end", async () => {
    const totals: Totals = {
      staleRefused: 0,
      staleReads: 0,
      conflicts: 0,
      failures: 0,
      crashes: 0,
      promoted: 0,
      ended: 0,
      lives: 0,
      resent: 0,
      invalid: 0,
    };
    await fc.assert(
      fc.asyncProperty(lifeArb, async ([spec, steps]) => {
        await play(spec, steps, totals);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(`faults and outcomes over ${totals.lives} lives: ${JSON.stringify(totals)}`);
    // Not vacuous: every fault happened, stale reads were refused, and lives reached both ends.
    for (const k of ["staleRefused", "conflicts", "failures", "crashes"] as const)
      assert.ok(totals[k] >= RUNS * 0.1, `only ${totals[k]} ${k} in ${RUNS} lives`);
    assert.ok(totals.promoted >= RUNS * 0.2, `only ${totals.promoted} of ${RUNS} lives promoted a revision`);
    assert.ok(totals.ended >= RUNS * 0.05, `only ${totals.ended} of ${RUNS} lives rolled back or aborted`);
    assert.ok(totals.invalid >= RUNS * 0.1, `only ${totals.invalid} of ${RUNS} lives went Invalid`);
  });
});

describe("reconciler fencing (examples)", () => {
  it("a cache still showing the status it just wrote over makes no second decision: requeue, no write", async () => {
    const life = new Life({
      steps: [{ setWeight: 20 }, { setWeight: 60 }],
      skipAnalysis: true,
      failureLimit: 1,
    });
    const c = life.c;
    for (let i = 0; i < 4; i++) {
      await life.reconcile(0);
      c.settle();
    }
    assert.equal(c.rollout.status?.phase, "Healthy");
    c.pushRevision(2);
    c.settle();
    await life.reconcile(0);
    const started = c.rollout.status;
    assert.equal(started?.phase, "Progressing", "the rollout started");
    const writes = c.statusWrites.length;
    const events = c.events.length;
    const world = c.worldWrites;
    // The informer has not yet delivered the write: it still shows the version the decision was made from.
    c.lag = 1;
    c.now += 1;
    c.beginReconcile();
    const result = await life.reconciler.reconcile(NAMESPACE, NAME, life.signal);
    c.endReconcile();
    assert.equal(c.counts.staleReads, 1, "the cache really was stale");
    assert.deepEqual(result, { requeueAfterMs: 200 });
    assert.equal(c.statusWrites.length, writes, "no status write");
    assert.equal(c.events.length, events, "no Event");
    assert.equal(c.worldWrites, world, "no write to workloads or routes");
    assert.deepEqual(c.rollout.status, started);
  });
});

describe("reconciler after a lost status write (examples; both were found by the property)", () => {
  /** A life adopted and then rolling out revision 2, canary ready. */
  async function rollingOut(): Promise<Life> {
    const life = new Life({ steps: [{ setWeight: 20 }], skipAnalysis: true, failureLimit: 1 });
    for (let i = 0; i < 4; i++) {
      await life.reconcile(0);
      life.c.settle();
    }
    life.c.pushRevision(2);
    await life.reconcile(0);
    life.c.settle();
    assert.equal(life.c.rollout.status?.phase, "Progressing");
    return life;
  }

  it("delivered notification keys taken by a reconcile that lost its write are recorded by the next", async () => {
    const life = await rollingOut();
    const c = life.c;
    const pending = c.rollout.status?.notifications?.pending?.map((p) => p.key) ?? [];
    assert.ok(pending.length > 0, "the rollout's Started notification waits for delivery");
    c.deliver();
    assert.equal(await life.reconcile(0, { kind: "conflict" }), 200, "the write lost the race: requeue");
    assert.equal(c.counts.conflicts, 1);
    await life.reconcile(0);
    const box = c.rollout.status?.notifications;
    assert.deepEqual(box?.pending, [], "nothing left pending");
    for (const key of pending) assert.ok(box?.delivered?.includes(key), `${key} recorded as delivered`);
  });

  it("a promotion whose status write lost the race leaves the primary untouched", async () => {
    const life = await rollingOut();
    const c = life.c;
    const stable = c.rollout.status?.stableRevision;
    const primary = () => c.deployment(`${NAME}-primary`)?.metadata.annotations?.[REVISION_ANNOTATION];
    life.request("promote", true);
    assert.equal(await life.reconcile(0, { kind: "conflict" }), 200);
    assert.equal(c.rollout.status?.phase, "Progressing", "the promotion was not recorded");
    assert.equal(primary(), stable, "so the primary still runs the stable revision");
    await life.reconcile(0);
    assert.equal(c.rollout.status?.phase, "Promoting", "decided again from fresh status");
    assert.equal(primary(), c.targetRevision(), "and only then copied to the primary");
  });
});

describe("an engine bug the reconciler property found (fixed in phases/promotion.ts and requests.ts)", () => {
  // Seed 7: a promote request decided while the target was being reverted left the Rollout Promoting forever —
  // PromotePrimary was refused (the target ran another revision) and nothing looked at the target again.
  it("a promote request after the target reverted to the stable revision ends settled", async () => {
    const life = new Life({ steps: [{ setWeight: 1 }], skipAnalysis: false, failureLimit: 1 });
    const c = life.c;
    for (let i = 0; i < 4; i++) {
      await life.reconcile(0);
      c.settle();
    }
    c.pushRevision(2);
    await life.reconcile(0);
    assert.equal(c.rollout.status?.phase, "Progressing");
    life.request("promote", false);
    c.pushRevision(1);
    c.settle();
    for (let i = 0; i < LIVENESS_BOUND && !life.settled(); i++) {
      const requeue = await life.reconcile(0);
      c.settle();
      c.deliver();
      c.now += Math.min(Math.max(requeue ?? 1000, 1), 30_000);
    }
    assert.ok(
      life.settled(),
      `phase ${c.rollout.status?.phase} (${c.rollout.status?.message}); canary ${c.rollout.status?.canaryRevision}, target ${c.targetRevision()}`,
    );
  });
});
