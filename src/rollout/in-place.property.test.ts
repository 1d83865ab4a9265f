// Property tests for StatefulSet and DaemonSet targets: random lives (people, pods, nodes, scaling, analysis,
// windows, crashes between a status write and its actions) against the engine and a model of the workload
// controllers, checking the safety invariants after every decision and where every pod ends up.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decide } from "./decide.ts";
import { livePods } from "./in-place/pods.ts";
import { inPlaceLifeArb, playInPlace } from "./testing/in-place-lives.ts";
import { controllerSync, hashOf, observeInPlace, reconcileInPlace } from "./testing/in-place-world.ts";
import { measurements } from "./testing/world.ts";
import type { Decision } from "./types.ts";

const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);
const IN_FLIGHT = ["Progressing", "Paused", "Promoting"];

describe("in-place engine invariants (property-based)", () => {
  it("never takes more pods down at once than maxUnavailable, and deletes only live pods", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        for (const { before, decision } of playInPlace(spec, events).steps) {
          const obs = observeInPlace(before).inPlace!;
          const live = livePods(obs);
          const unavailable = Math.max(0, obs.desired - live.filter((p) => p.ready).length);
          for (const a of decision.actions) {
            if (a.type !== "DeletePods") continue;
            assert.ok(
              a.pods.length + unavailable <= obs.maxUnavailable,
              `${a.pods.length} deleted with ${unavailable} down`,
            );
            for (const p of a.pods)
              assert.ok(
                live.some((l) => l.uid === p.uid),
                `deleted ${p.name}, which is not live`,
              );
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("never replaces a pod that already runs the template (no batch twice), but a StatefulSet pod below the partition", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        for (const { before, decision } of playInPlace(spec, events).steps) {
          const obs = observeInPlace(before).inPlace!;
          const held = decision.actions.find((a) => a.type === "HoldUpdates")?.partition ?? obs.partition;
          for (const a of decision.actions) {
            if (a.type !== "DeletePods") continue;
            for (const { uid } of a.pods) {
              const pod = obs.pods.find((p) => p.uid === uid)!;
              if (!obs.observed || pod.hash !== obs.updateHash) continue;
              assert.ok(
                obs.kind === "StatefulSet" && (pod.ordinal ?? 0) < held,
                `${pod.name} runs the template and was deleted (phase ${decision.status.phase})`,
              );
            }
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a StatefulSet's partition never lets more pods update than the step wants", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        for (const { before, decision } of playInPlace(spec, events).steps) {
          const desired = observeInPlace(before).inPlace!.desired;
          for (const a of decision.actions) {
            if (a.type !== "HoldUpdates" || before.kind !== "StatefulSet") continue;
            const wanted = IN_FLIGHT.includes(decision.status.phase ?? "")
              ? (decision.status.workload?.wanted ?? 0)
              : 0;
            // Outside a rollout, a template that is the stable one may roll every pod (back) to it.
            const ip = observeInPlace(before).inPlace!;
            const stableTemplate = ip.observed && ip.updateHash === decision.status.workload?.stableHash;
            if (wanted === 0 && stableTemplate && a.partition === 0) continue;
            assert.equal(a.partition, desired - wanted, `phase ${decision.status.phase}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a revision becomes stable only after analysis passed at every setUpdated step (or by a person, or with skipAnalysis)", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([specIn, events]) => {
        let passedAt = new Set<number>();
        let skipped = new Set<number>();
        for (const { before, decision } of playInPlace(specIn, events).steps) {
          const prev = before.status;
          const next = decision.status;
          if (next.rolloutStartedAt !== prev?.rolloutStartedAt) {
            passedAt = new Set();
            skipped = new Set();
          }
          if (next.handledRequests?.promote !== prev?.handledRequests?.promote)
            skipped.add(prev?.currentStepIndex ?? 0);
          if (next.analysis?.lastPassAt && next.analysis.lastPassAt !== prev?.analysis?.lastPassAt)
            passedAt.add(prev?.currentStepIndex ?? 0);
          if (
            next.phase !== "Healthy" ||
            !prev?.stableRevision ||
            next.stableRevision === prev.stableRevision
          )
            continue;
          if (next.promotedBy === "User" || specIn.skipAnalysis) continue;
          for (const [i, s] of before.spec.strategy.canary!.steps!.entries())
            if (s.setUpdated && !skipped.has(i))
              assert.ok(passedAt.has(i), `promoted without a passing analysis at step ${i}`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a closed window never moves a rollout to a further step or to promotion", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        for (const { before, decision } of playInPlace(spec, events).steps) {
          if (before.window.open || !IN_FLIGHT.includes(before.status?.phase ?? "")) continue;
          if (decision.status.rolloutStartedAt !== before.status?.rolloutStartedAt) continue;
          assert.ok((decision.status.currentStepIndex ?? 0) <= (before.status?.currentStepIndex ?? 0));
          if (before.status?.phase !== "Promoting") assert.notEqual(decision.status.phase, "Promoting");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("decide is deterministic, and deciding again on its own status is a fixed point (a crash loses nothing)", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        for (const { before } of playInPlace(spec, events).steps) {
          const input = { generation: 1, spec: before.spec, status: before.status };
          const obs = observeInPlace(before);
          const now = new Date(before.now);
          const first = decide(input, obs, now);
          assert.deepEqual(decide(input, obs, now), first, "same input, same output");
          const again = decide({ ...input, status: first.status }, { ...obs, analysis: undefined }, now);
          assert.deepEqual(again.status, first.status, "status is a fixed point");
          const world = (d: Decision) =>
            d.actions.filter((a) => a.type !== "RecordEvent" && a.type !== "Notify");
          assert.deepEqual(world(again), world(first), "the same world intentions");
          assert.deepEqual(
            again.actions.filter((a) => a.type === "Notify"),
            [],
            "no notification twice",
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("left alone, every pod ends on a revision status knows, and the hold is in place", () => {
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        const { w } = playInPlace(spec, events);
        if (!w.exists || w.status?.phase === "Invalid" || w.status?.phase === undefined) return;
        // Quiet from now on: pods can start, analysis passes, the window is open, nobody intervenes.
        w.broken.clear();
        w.window = { open: true, message: "open" };
        w.nextAnalysis = (s) => measurements(s, "pass");
        for (let i = 0; i < 400; i++) {
          // Settled: the controller has nothing left to do, and a decision on that world asks for nothing.
          const settled = w.observed && w.pods.every((p) => p.ready && !p.terminating);
          const d = reconcileInPlace(w);
          const quiet = !d.actions.some((a) => a.type !== "RecordEvent" && a.type !== "Notify");
          if (settled && quiet && ["Healthy", "RolledBack", "Aborted"].includes(w.status?.phase ?? "")) break;
          controllerSync(w);
          w.now += Math.max(d.requeueAfterMs ?? 1000, 1000);
        }
        const s = w.status!;
        const known = new Set([s.workload?.stableHash, s.workload?.canaryHash, hashOf(w.template)]);
        for (const p of w.pods)
          assert.ok(
            known.has(p.hash),
            `${p.name} runs ${p.hash}, unknown to status ${JSON.stringify(s.workload)}`,
          );
        if (w.status?.phase === "Healthy" && w.template === s.stableRevision) {
          for (const p of w.pods)
            assert.equal(p.hash, s.workload?.stableHash, `${p.name} not stable in Healthy`);
          if (w.kind === "StatefulSet") assert.equal(w.partition, w.replicas, "partition held at the size");
          else assert.equal(w.strategy, "OnDelete");
        }
        if ((s.phase === "RolledBack" || s.phase === "Aborted") && w.template === s.stableRevision)
          for (const p of w.pods)
            assert.equal(p.hash, s.workload?.stableHash, `${p.name} not back at stable`);
      }),
      // Each life plays on for up to 400 reconciles: a fifth of the runs keeps the suite within its minute.
      { numRuns: Math.ceil(RUNS / 5) },
    );
  });
});

describe("the random in-place lives are not vacuous", () => {
  it("reach promotion, rollback, abort, repairs and crashes often enough", () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(inPlaceLifeArb, ([spec, events]) => {
        const reached = new Set<string>();
        for (const { before, decision, crashed } of playInPlace(spec, events).steps) {
          reached.add(`${before.kind}:${decision.status.phase ?? "none"}`);
          if (crashed) reached.add("crashed");
          if (decision.actions.some((a) => a.type === "RecordEvent" && a.reason === "Repaired"))
            reached.add("repaired");
          if (decision.actions.some((a) => a.type === "RestoreTemplate")) reached.add("restored");
          if (
            decision.status.stableRevision !== before.status?.stableRevision &&
            before.status?.stableRevision
          )
            reached.add(`${before.kind}:promoted`);
        }
        for (const r of reached) seen.set(r, (seen.get(r) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 42 },
    );
    console.log(`reached in ${RUNS} in-place lives: ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const key of [
      "StatefulSet:promoted",
      "DaemonSet:promoted",
      "StatefulSet:RolledBack",
      "DaemonSet:RolledBack",
      "StatefulSet:Aborted",
      "DaemonSet:Paused",
      "repaired",
      "restored",
      "crashed",
    ])
      assert.ok(
        (seen.get(key) ?? 0) >= RUNS * 0.01,
        `only ${seen.get(key) ?? 0} of ${RUNS} lives reached ${key}`,
      );
  });
});
