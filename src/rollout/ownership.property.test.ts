// Property tests of the ownership rules: random lives in which other Rollouts claim the objects, the spec is renamed
// and claim labels are removed, checking after every decision that nothing refused or unclaimed is changed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Event, ownershipLifeArb as lifeArb, play, specArb } from "./testing/lives.ts";
import type { ModelWorld } from "./testing/world.ts";
import type { Action } from "./types.ts";

const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);

/** Actions that change the world (everything but Events and notifications). */
const worldActions = (actions: readonly Action[]) =>
  actions.filter((a) => a.type !== "RecordEvent" && a.type !== "Notify");

/** Claims in the status the spec no longer names: a hand-back is due. */
function staleClaims(w: ModelWorld): number {
  const target = w.spec.targetRef.name;
  const root = w.spec.service!.name ?? target;
  return (w.status?.claims ?? []).filter((c) => c.name !== (c.kind === "Deployment" ? target : root)).length;
}

describe("ownership invariants (property-based)", () => {
  it("a refused Rollout writes nothing but routing all traffic back to its primary", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          if (before.refusals.length === 0) continue;
          for (const a of worldActions(decision.actions))
            assert.ok(a.type === "SetRoutes" && a.weights.canary === 0, `refused, yet ${a.type}`);
          assert.equal(decision.status.phase, "Invalid");
          const degraded = decision.status.conditions?.find((c) => c.type === "Degraded");
          assert.equal(degraded?.reason, "OwnershipConflict");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("while objects a renamed spec left behind are handed back, that is the only change to the world", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          if (before.refusals.length > 0 || staleClaims(before) === 0 || before.handBackSteps === 0) continue;
          assert.deepEqual(
            worldActions(decision.actions).map((a) => a.type),
            ["HandBack"],
          );
          assert.equal(decision.status.phase ?? "Initializing", "Initializing");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("objects are claimed before anything else changes them, and status records only claimed ones", () => {
    fc.assert(
      fc.property(lifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          const changes = worldActions(decision.actions).filter(
            (a) => a.type !== "HandBack" && a.type !== "ClaimObjects",
          );
          const claimed = before.labelled || decision.actions.some((a) => a.type === "ClaimObjects");
          if (changes.some((a) => a.type !== "SetRoutes" || a.weights.canary !== 0))
            assert.ok(claimed, `${changes.map((a) => a.type)} on objects not claimed`);
          const first = worldActions(decision.actions)[0];
          if (decision.actions.some((a) => a.type === "ClaimObjects"))
            assert.ok(first?.type === "ClaimObjects", "the claim comes first");
          const target = before.spec.targetRef.name;
          for (const c of decision.status.claims ?? [])
            if (c.kind === "Deployment" && staleClaims({ ...before, status: decision.status }) === 0)
              assert.equal(c.name, target, "only the spec's target is recorded once hand-backs are done");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("after a rename, a settled world ends Healthy on the new target with only its objects recorded", () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 4 }), (spec, steps) => {
        const events: Event[] = [{ kind: "rename", target: 1 }];
        for (let i = 0; i < 12 + steps * 2; i++) events.push({ kind: "settle" }, { kind: "time", ms: 5000 });
        const { w } = play({ ...spec, startHealthy: true, steps: undefined }, events, (x) => {
          x.nextAnalysis = () => [];
        });
        assert.equal(w.status?.phase, "Healthy", w.status?.message);
        assert.deepEqual(
          (w.status?.claims ?? []).map((c) => `${c.kind}/${c.name}`),
          ["Deployment/app-1", "Service/app-1"],
        );
      }),
      { numRuns: Math.min(RUNS, 200) },
    );
  });
});
