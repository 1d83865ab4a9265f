// Property tests: random event sequences against the engine, checking the safety invariants after every decision.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MILESTONE_REASONS, MILESTONES_KEPT, REASONS } from "../api/constants.ts";
import { decide } from "./decide.ts";
import { pointsAtCanary } from "./managed-routes.ts";
import { expandSteps } from "./steps.ts";
import { lifeArb, ownershipLifeArb, play } from "./testing/lives.ts";
import { apply, observe, settle, syncEndpoints } from "./testing/world.ts";
import type { Decision } from "./types.ts";

/** Runs per property; the brief asks for at least 1,000 random sequences each. */
const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);

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
            // Rewriting the split the mesh already routes (to change only the managed routes) moves no traffic.
            const moved = before.routes?.canary !== a.weights.canary;
            if (moved && a.weights.canary > 0)
              assert.ok(before.canary.ready > 0, "canary weight to a canary without ready pods");
            if (moved && a.weights.primary > 0)
              assert.ok(before.primary.ready > 0, "primary weight to a primary without ready pods");
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("weight moves onto a backend from 0 % only once its EndpointSlices list a ready pod", () => {
    let checked = 0;
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps)
          for (const a of decision.actions) {
            if (a.type !== "SetRoutes") continue;
            for (const side of ["primary", "canary"] as const) {
              if ((before.routes?.[side] ?? 0) > 0 || a.weights[side] === 0) continue;
              checked++;
              assert.ok(
                before.slices[side] > 0,
                `${side} weight ${a.weights[side]} before its slices list a pod`,
              );
            }
          }
      }),
      { numRuns: RUNS },
    );
    assert.ok(checked > 0, "no life moved weight onto a backend");
  });

  it("a header route, mirror or sticky cookie never points at a canary without ready pods", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps)
          for (const a of decision.actions)
            if (a.type === "SetRoutes" && pointsAtCanary(a.managed))
              assert.ok(
                before.canary.ready > 0,
                `managed routes to a canary without ready pods: ${JSON.stringify(a)}`,
              );
      }),
      { numRuns: RUNS },
    );
  });

  it("the canary is scaled down only once no weight and no managed route points at it", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          if (!decision.actions.some((a) => a.type === "ScaleCanaryDown")) continue;
          assert.equal(before.routes?.canary ?? 0, 0, "weight left on a canary being scaled down");
          assert.equal(
            pointsAtCanary(before.managed),
            false,
            "a managed route left on a canary being scaled down",
          );
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
        // Let the world settle with primary healthy and no new input: traffic must end on primary (and, for
        // blue/green, the canary is scaled down once its scale-down delay passed).
        w.primary.broken = false;
        w.requests = { ...w.requests };
        for (let i = 0; i < 5; i++) {
          settle(w);
          syncEndpoints(w);
          const d = decide({ generation: 1, spec: w.spec, status: w.status }, observe(w), new Date(w.now));
          apply(w, d.actions);
          w.status = d.status;
          w.now += 5000;
        }
        assert.equal(w.status?.canaryWeight, 0);
        assert.equal(w.routes?.canary ?? 0, 0);
        assert.equal(
          pointsAtCanary(w.managed),
          false,
          "every header route, mirror and sticky cookie removed",
        );
        // (A missing target puts the Rollout in the safe state, which removes every managed route instead.)
        if (w.spec.strategy.canary?.sessionAffinity && w.routes && w.canary.exists)
          assert.equal(w.managed?.sticky?.mode, "expire", "the rollout's cookies are expired");
        assert.equal(w.canary.desired, 0, "canary scaled down after traffic left it");
      }),
      { numRuns: RUNS },
    );
  });

  it("a revision becomes stable through promotion only after analysis passed at every setWeight step (or by a person, with skipAnalysis, or by noEvidence: promote, which the promotion then says)", () => {
    fc.assert(
      fc.property(lifeArb, ([specIn, events]) => {
        const { steps } = play(specIn, events);
        let entered = new Set<number>();
        let passedAt = new Set<number>();
        // Steps a person moved past with vireo.dev/promote are the documented exception.
        let skippedByPerson = new Set<number>();
        // So are steps whose maxStepDuration ran out under noEvidence: promote; the promotion must say so.
        let passedOnBudget = new Set<number>();
        for (const { before, decision } of steps) {
          const prev = before.status;
          const next = decision.status;
          if (next.rolloutStartedAt !== prev?.rolloutStartedAt) {
            entered = new Set();
            passedAt = new Set();
            skippedByPerson = new Set();
            passedOnBudget = new Set();
          }
          const events = decision.actions.flatMap((a) => (a.type === "RecordEvent" ? [a] : []));
          if (events.some((e) => e.reason === "PromotedWithoutEvidence")) {
            assert.equal(before.spec.analysis.noEvidence, "promote");
            passedOnBudget.add(prev?.currentStepIndex ?? 0);
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
            if (passedOnBudget.size > 0) {
              const promotedEvent = events.find((e) => e.reason === "Promoted");
              assert.match(promotedEvent?.message ?? "", /without evidence/);
              assert.equal(promotedEvent?.eventType, "Warning");
            }
            if (next.promotedBy === "User" || specIn.skipAnalysis) continue;
            const spec = before.spec;
            const setWeightSteps = expandSteps(spec.strategy)
              .map((s, i) => (s.setWeight !== undefined ? i : -1))
              .filter((i) => i >= 0);
            for (const i of setWeightSteps) {
              if (skippedByPerson.has(i) || passedOnBudget.has(i)) continue;
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
            // The one exception: with the primary gone for good, the canary is the only backend with pods. A write
            // of managed routes alone carries the split as it is (someone's edit included): that raises nothing.
            const unchanged = a.type === "SetRoutes" && a.weights.canary === before.routes?.canary;
            if (a.type === "SetRoutes" && before.primary.exists && !unchanged)
              assert.ok(a.weights.canary <= was);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("one decision records at most one Event per reason (except one per ignored request and per step walked)", () => {
    // Check verdicts and approval requests: one per check run (several may finish or start in one decision).
    const perItem: readonly string[] = [
      REASONS.RequestIgnored,
      REASONS.StepAdvanced,
      REASONS.CheckPassed,
      REASONS.CheckFailed,
      REASONS.CheckSkipped,
      REASONS.WaitingForCheck,
    ];
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { decision } of play(spec, events).steps) {
          const reasons = decision.actions.flatMap((a) =>
            a.type === "RecordEvent" && !perItem.includes(a.reason) ? [a.reason] : [],
          );
          assert.deepEqual(reasons, [...new Set(reasons)], `one decision, one Event: ${reasons.join(", ")}`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("decide is deterministic, and deciding again on its own status is a fixed point without new events", () => {
    fc.assert(
      // Lives with conflicts, renames and hand-backs too: their Events must not repeat either.
      fc.property(fc.oneof(lifeArb, ownershipLifeArb), ([spec, events]) => {
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

describe("milestones in status (property-based)", () => {
  it("status.milestones is the milestone Events of the life, in order, the last 20, and nothing else", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        const { steps, w } = play(spec, events);
        const recorded = steps.flatMap(({ decision }) =>
          decision.actions.flatMap((a) =>
            a.type === "RecordEvent" && (MILESTONE_REASONS as readonly string[]).includes(a.reason)
              ? [`${a.reason} ${a.message.slice(0, 200)}`]
              : [],
          ),
        );
        const kept = (w.status?.milestones ?? []).map((m) => `${m.reason} ${m.message.slice(0, 200)}`);
        assert.deepEqual(kept, recorded.slice(-MILESTONES_KEPT));
        for (const m of w.status?.milestones ?? []) assert.ok(m.message.length <= 256);
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
          // maxStepDuration ran out, whatever noEvidence then did (paused, moved on, rolled back).
          if (decision.actions.some((a) => a.type === "RecordEvent" && /maxStepDuration/.test(a.message)))
            reached.add("noEvidence");
          const degraded = decision.status.conditions?.find(
            (c) => c.type === "Degraded" && c.status === "True",
          );
          if (degraded) reached.add(`Degraded:${degraded.reason}`);
          if (
            decision.actions.some((a) => a.type === "EnsureWorkloads") &&
            (before.status?.phase ?? "Initializing") !== "Initializing"
          )
            reached.add("repaired");
          for (const a of decision.actions) {
            if (a.type !== "SetRoutes" || !a.managed) continue;
            if (a.managed.headerRoutes.length > 0) reached.add("headerRoute");
            if (a.managed.mirrors.length > 0) reached.add("mirror");
            if (a.managed.sticky) reached.add(`sticky:${a.managed.sticky.mode}`);
          }
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
      "noEvidence",
      "Promoting",
      "Degraded:PrimaryLost",
      "Degraded:TargetNotFound",
      "repaired",
      "headerRoute",
      "mirror",
      "sticky:assign",
      "sticky:expire",
    ]) {
      assert.ok(
        (seen.get(key) ?? 0) >= RUNS * 0.01,
        `only ${seen.get(key) ?? 0} of ${RUNS} lives reached ${key}`,
      );
    }
  });
});
