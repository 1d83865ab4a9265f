// Property tests: random event sequences against the engine, checking the safety invariants after every decision.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { RequestKind } from "../api/constants.ts";
import { decide } from "./decide.ts";
import { expandSteps } from "./steps.ts";
import {
  apply,
  type ModelWorld,
  makeSpec,
  measurements,
  newWorld,
  observe,
  settle,
} from "./testing/world.ts";
import type { Decision } from "./types.ts";

/** Runs per property; the brief asks for at least 1,000 random sequences each. */
const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);

type Event =
  | { kind: "time"; ms: number }
  | { kind: "settle" }
  | { kind: "revision"; rev: number; broken: boolean }
  | { kind: "canaryCrash" }
  | { kind: "canaryHeal" }
  | { kind: "analysis"; result: "pass" | "fail" | "nodata" | "error" }
  | { kind: "request"; request: RequestKind; full: boolean }
  | { kind: "window"; open: boolean }
  | { kind: "primaryFlap"; ready: boolean }
  | { kind: "routeDrift"; canary: number }
  // Faults from outside: objects deleted or edited by people, GitOps pruning or garbage collection.
  | { kind: "primaryLost" }
  | { kind: "targetLost" }
  | { kind: "targetBack" }
  | { kind: "servicesDrift" }
  | { kind: "userScale"; replicas: number };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 100, max: 40_000 }) }),
  },
  { weight: 10, arbitrary: fc.constant({ kind: "settle" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("revision" as const),
      rev: fc.integer({ min: 1, max: 4 }),
      broken: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "canaryCrash" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "canaryHeal" as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("analysis" as const),
      result: fc.constantFrom("pass", "pass", "pass", "fail", "fail", "nodata", "error"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      request: fc.constantFrom<RequestKind>("promote", "abort", "pause", "resume", "retry"),
      full: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("window" as const), open: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("primaryFlap" as const), ready: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("routeDrift" as const),
      canary: fc.integer({ min: 0, max: 100 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "primaryLost" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "targetLost" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "targetBack" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "servicesDrift" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("userScale" as const),
      replicas: fc.integer({ min: 1, max: 6 }),
    }),
  },
);

const specArb = fc.record({
  steps: fc.oneof(
    fc.constant(undefined),
    fc
      .array(
        fc.oneof(
          fc.integer({ min: 0, max: 100 }).map((w) => ({ setWeight: w }) as const),
          fc.constant({ pause: {} }),
          fc.constant({ pause: { duration: "15s" } }),
        ),
        { minLength: 1, maxLength: 5 },
      )
      .map((steps) => {
        // setWeight values must not decrease: sort them in place of their positions.
        const ws = steps.flatMap((s) => ("setWeight" in s ? [s.setWeight] : [])).sort((a, b) => a - b);
        return steps.map((s) => ("setWeight" in s ? { setWeight: ws.shift()! } : s));
      }),
  ),
  skipAnalysis: fc.boolean(),
  failureLimit: fc.integer({ min: 1, max: 3 }),
  deadlineSeconds: fc.integer({ min: 30, max: 300 }),
  /** Most lives start from an adopted, healthy rollout with a new revision pushed, so rollouts dominate. */
  startHealthy: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});

let token = 0;

/** Applies an external event to the world. */
function happen(w: ModelWorld, e: Event): void {
  switch (e.kind) {
    case "time":
      w.now += e.ms;
      break;
    case "settle":
      settle(w);
      break;
    case "revision":
      w.canary.revision = `rev-${e.rev}`;
      w.canary.broken = e.broken;
      w.canary.ready = 0;
      break;
    case "canaryCrash":
      w.canary.broken = true;
      w.canary.ready = 0;
      break;
    case "canaryHeal":
      w.canary.broken = false;
      break;
    case "analysis":
      w.nextAnalysis = (spec) => measurements(spec, e.result);
      break;
    case "request":
      w.requests[e.request] = e.request === "promote" && e.full ? "full" : `t${token++}`;
      break;
    case "window":
      w.window = e.open
        ? { open: true, message: "open" }
        : { open: false, message: "deny window", nextTransitionAt: new Date(w.now + 60_000) };
      break;
    case "primaryFlap":
      if (w.primary.exists) w.primary.ready = e.ready ? w.primary.desired : 0;
      break;
    case "routeDrift":
      if (w.routes) w.routes = { primary: 100 - e.canary, canary: e.canary };
      break;
    case "primaryLost":
      w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
      break;
    case "targetLost":
      w.canary = { ...w.canary, exists: false, desired: 0, ready: 0 };
      break;
    case "targetBack":
      // Re-applied from Git: the same template, scaled as the user wrote it.
      if (!w.canary.exists) w.canary = { ...w.canary, exists: true, desired: w.replicas, ready: 0 };
      break;
    case "servicesDrift":
      w.servicesReady = false;
      break;
    case "userScale":
      w.replicas = e.replicas;
      if (w.canary.exists) w.canary.desired = e.replicas;
      break;
  }
}

interface Trace {
  w: ModelWorld;
  steps: { before: ModelWorld; decision: Decision }[];
}

/** Plays a random life: after each event one reconcile (observe → decide → apply). */
type SpecIn = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

function play(specIn: SpecIn, events: Event[]): Trace {
  const spec = makeSpec({
    ...(specIn.steps ? { strategy: { canary: { steps: specIn.steps } } } : {}),
    skipAnalysis: specIn.skipAnalysis,
    progressDeadlineSeconds: specIn.deadlineSeconds,
    analysis: { interval: "10s", failureLimit: specIn.failureLimit, metrics: makeSpec().analysis.metrics },
  });
  const w = newWorld(spec);
  const steps: Trace["steps"] = [];
  const prelude: Event[] = [{ kind: "settle" }];
  if (specIn.startHealthy) {
    prelude.push(
      { kind: "settle" },
      { kind: "settle" },
      { kind: "settle" },
      { kind: "revision", rev: 2, broken: false },
    );
  }
  for (const e of [...prelude, ...events]) {
    happen(w, e);
    const before = structuredClone({ ...w, nextAnalysis: undefined, log: [] }) as unknown as ModelWorld;
    before.nextAnalysis = w.nextAnalysis;
    const obs = observe(w);
    const decision = decide(
      { generation: w.generation, spec: w.spec, status: w.status },
      obs,
      new Date(w.now),
    );
    apply(w, decision.actions);
    w.status = decision.status;
    steps.push({ before, decision });
  }
  return { w, steps };
}

const lifeArb = fc.tuple(specArb, fc.array(eventArb, { minLength: 1, maxLength: 120 }));

describe("engine invariants (property-based)", () => {
  it("weights always sum to 100 and stay within 0..100", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { decision } of play(spec, events).steps) {
          for (const a of decision.actions) {
            if (a.type !== "SetRoutes") continue;
            assert.equal(a.weights.primary + a.weights.canary, 100);
            assert.ok(a.weights.canary >= 0 && a.weights.canary <= 100);
          }
          const cw = decision.status.canaryWeight ?? 0;
          assert.ok(Number.isInteger(cw) && cw >= 0 && cw <= 100);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("never routes to a backend with zero ready replicas", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          for (const a of decision.actions) {
            if (a.type !== "SetRoutes") continue;
            if (a.weights.canary > 0)
              assert.ok(before.canary.ready > 0, "canary weight to a canary without ready pods");
            if (a.weights.primary > 0)
              assert.ok(before.primary.ready > 0, "primary weight to a primary without ready pods");
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("rollback and abort always end at canary weight 0 once primary can take the traffic", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        const { w } = play(spec, events);
        if (w.status?.phase !== "RolledBack" && w.status?.phase !== "Aborted") return;
        // A primary deleted while an unverified revision runs cannot be rebuilt: traffic stays where pods are
        // (see "a lost primary" below), so only a rollout whose primary exists must end on it.
        if (!w.primary.exists) return;
        // Let the world settle with primary healthy and no new input: traffic must end on primary.
        w.primary.broken = false;
        w.requests = { ...w.requests };
        for (let i = 0; i < 5; i++) {
          settle(w);
          const d = decide({ generation: 1, spec: w.spec, status: w.status }, observe(w), new Date(w.now));
          apply(w, d.actions);
          w.status = d.status;
          w.now += 1000;
        }
        assert.equal(w.status?.canaryWeight, 0);
        assert.equal(w.routes?.canary ?? 0, 0);
        assert.equal(w.canary.desired, 0, "canary scaled down after traffic left it");
      }),
      { numRuns: RUNS },
    );
  });

  it("a revision becomes stable through promotion only after analysis passed at every setWeight step (or by a person, or with skipAnalysis)", () => {
    fc.assert(
      fc.property(lifeArb, ([specIn, events]) => {
        const { steps } = play(specIn, events);
        let entered = new Set<number>();
        let passedAt = new Set<number>();
        // Steps a person moved past with vireo.dev/promote are the documented exception.
        let skippedByPerson = new Set<number>();
        for (const { before, decision } of steps) {
          const prev = before.status;
          const next = decision.status;
          if (next.rolloutStartedAt !== prev?.rolloutStartedAt) {
            entered = new Set();
            passedAt = new Set();
            skippedByPerson = new Set();
          }
          if (next.handledRequests?.promote !== prev?.handledRequests?.promote) {
            skippedByPerson.add(prev?.currentStepIndex ?? 0);
          }
          if (next.stepStartedAt) entered.add(next.currentStepIndex ?? 0);
          if (next.analysis?.lastPassAt && next.analysis.lastPassAt !== prev?.analysis?.lastPassAt) {
            passedAt.add(prev?.currentStepIndex ?? 0);
          }
          const promoted =
            prev?.phase === "Finalizing" || prev?.phase === "Promoting" || next.phase === "Healthy";
          if (
            promoted &&
            next.phase === "Healthy" &&
            next.stableRevision !== prev?.stableRevision &&
            prev?.stableRevision
          ) {
            if (next.promotedBy === "User" || specIn.skipAnalysis) continue;
            const spec = before.spec;
            const setWeightSteps = expandSteps(spec.strategy.canary)
              .map((s, i) => (s.setWeight !== undefined ? i : -1))
              .filter((i) => i >= 0);
            for (const i of setWeightSteps) {
              if (skippedByPerson.has(i)) continue;
              assert.ok(passedAt.has(i), `promoted without a passing analysis at step ${i}`);
            }
            assert.ok((next.analysis?.failedChecks ?? 0) < spec.analysis.failureLimit);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a closed window never lets the canary weight increase", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          if (before.window.open) continue;
          const was = before.status?.canaryWeight ?? 0;
          assert.ok(
            (decision.status.canaryWeight ?? 0) <= was,
            `weight rose from ${was} while the window was closed`,
          );
          for (const a of decision.actions) {
            // The one exception: with the primary gone for good, the canary is the only backend with pods.
            if (a.type === "SetRoutes" && before.primary.exists) assert.ok(a.weights.canary <= was);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("decide is deterministic, and deciding again on its own status is a fixed point without new events", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before } of play(spec, events).steps) {
          const input = { generation: 1, spec: before.spec, status: before.status };
          const obs = observe(before);
          const now = new Date(before.now);
          const first = decide(input, obs, now);
          assert.deepEqual(decide(input, obs, now), first, "same input, same output");
          // A crash after the status write but before the actions ran: the same world is observed again.
          const again = decide({ ...input, status: first.status }, { ...obs, analysis: undefined }, now);
          assert.deepEqual(again.status, first.status, "status is a fixed point");
          const chatter = again.actions.filter((a) => a.type === "RecordEvent" || a.type === "Notify");
          assert.deepEqual(chatter, [], "no event or notification twice");
          const worldActions = (d: Decision) =>
            d.actions.filter((a) => a.type !== "RecordEvent" && a.type !== "Notify");
          assert.deepEqual(
            worldActions(again),
            worldActions(first),
            "the same world intentions, so a crash loses nothing",
          );
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the random lives are not vacuous", () => {
  it("reach promotion, rollback, abort, pauses and windows often enough to exercise the invariants", () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        const reached = new Set<string>();
        for (const { before, decision } of play(spec, events).steps) {
          reached.add(decision.status.phase ?? "none");
          if (decision.status.pauseReason) reached.add(`Paused:${decision.status.pauseReason}`);
          const degraded = decision.status.conditions?.find(
            (c) => c.type === "Degraded" && c.status === "True",
          );
          if (degraded) reached.add(`Degraded:${degraded.reason}`);
          if (
            decision.actions.some((a) => a.type === "EnsureWorkloads") &&
            (before.status?.phase ?? "Initializing") !== "Initializing"
          )
            reached.add("repaired");
          if (
            decision.status.stableRevision !== before.status?.stableRevision &&
            before.status?.stableRevision
          ) {
            reached.add("promoted");
          }
        }
        for (const r of reached) seen.set(r, (seen.get(r) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 42 },
    );
    console.log(`phases reached in ${RUNS} random lives: ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const key of [
      "promoted",
      "RolledBack",
      "Aborted",
      "Paused:UserRequest",
      "Paused:WindowClosed",
      "Promoting",
      "Degraded:PrimaryLost",
      "Degraded:TargetNotFound",
      "repaired",
    ]) {
      assert.ok(
        (seen.get(key) ?? 0) >= RUNS * 0.01,
        `only ${seen.get(key) ?? 0} of ${RUNS} lives reached ${key}`,
      );
    }
  });
});
