// Property tests of blue/green: random lives (people, pods, EndpointSlices lagging behind them, analysis, windows,
// drift, deletions) checking that traffic only ever moves all at once, never to a preview its slices do not show
// ready, and that a rollback within the window finds the old version where it was.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseDuration } from "../api/duration.ts";
import { decide } from "./decide.ts";
import { blueGreenLifeArb, type Event, EXAMPLE_SPEC, play, type SpecIn } from "./testing/lives.ts";
import { observe } from "./testing/world.ts";

const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);

/**
 * Someone sends all traffic to the waiting preview while the primary has no ready pods, then edits the managed
 * routes: the engine cannot route back, and its write restoring the managed routes carries the split as observed.
 */
const MANAGED_REWRITE: [SpecIn, Event[]] = [
  {
    ...EXAMPLE_SPEC,
    blueGreen: { autoPromotion: false, previewAnalysis: false, rollbackWindow: "0s", scaleDownDelay: "0s" },
  },
  [
    { kind: "settle" },
    { kind: "primaryFlap", ready: false },
    { kind: "routeDrift", canary: 100 },
    { kind: "managedDrift", edited: true },
  ],
];

describe("blue/green invariants (property-based)", () => {
  it("traffic moves all at once: every route written and every weight in status is 0 or 100", () => {
    fc.assert(
      fc.property(blueGreenLifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          for (const a of decision.actions) {
            // A write of managed routes alone carries the split as observed (someone's edit): Vireo moves nothing.
            if (a.type !== "SetRoutes" || a.weights.canary === before.routes?.canary) continue;
            assert.ok([0, 100].includes(a.weights.canary), JSON.stringify(a));
          }
          assert.ok([0, 100].includes(decision.status.canaryWeight ?? 0));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("the cut-over happens only once the preview's EndpointSlices list the new version ready at full size", () => {
    fc.assert(
      fc.property(blueGreenLifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          // A write of managed routes alone carries the split as observed (someone's edit): Vireo moves nothing.
          const cut = decision.actions.some(
            (a) => a.type === "SetRoutes" && a.weights.canary === 100 && before.routes?.canary !== 100,
          );
          // A primary deleted for good leaves the canary the only backend with pods (PrimaryLost): not a cut-over.
          if (!cut || !before.primary.exists) continue;
          const size = Math.max(before.canary.desired, 1);
          assert.ok(before.canary.ready >= size, `cut over with ${before.canary.ready}/${size} pods ready`);
          assert.ok(
            before.slices.canary >= size,
            `cut over with ${before.slices.canary}/${size} ready endpoints`,
          );
          assert.equal(
            before.slices.preview,
            "canary",
            "cut over before the preview's slices showed the new pods",
          );
        }
      }),
      { numRuns: RUNS, examples: [[MANAGED_REWRITE]] },
    );
  });

  it("the old version stays warm: the primary takes the new template only after the cut-over and the window (or a person's full promotion)", () => {
    fc.assert(
      fc.property(blueGreenLifeArb, ([specIn, events]) => {
        const window = parseDuration(specIn.blueGreen!.rollbackWindow);
        let attempt: string | undefined;
        let cutOverAt: number | undefined;
        for (const { before, decision } of play(specIn, events).steps) {
          if (decision.status.rolloutStartedAt !== attempt) {
            attempt = decision.status.rolloutStartedAt;
            cutOverAt = undefined;
          }
          if ((decision.status.canaryWeight ?? 0) === 100) cutOverAt ??= before.now;
          if (!decision.actions.some((a) => a.type === "PromotePrimary") || !before.primary.exists) continue;
          assert.equal(
            before.routes?.canary,
            100,
            "the primary took the new template while it served traffic",
          );
          if (decision.status.promotedBy === "User") continue;
          assert.ok(
            cutOverAt !== undefined && before.now - cutOverAt >= window,
            "promoted inside the window",
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("a rollback or abort restores the old route and preview before anything is scaled down, with the old version intact", () => {
    fc.assert(
      fc.property(blueGreenLifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          if (decision.actions.some((a) => a.type === "ScaleCanaryDown")) {
            assert.deepEqual(
              before.routes,
              { primary: 100, canary: 0 },
              "scaled down before traffic left it",
            );
            assert.equal(before.slices.preview, "primary", "scaled down while the preview still showed it");
          }
          const ended = ["RolledBack", "Aborted"];
          const phase = decision.status.phase ?? "";
          if (ended.includes(phase) && !ended.includes(before.status?.phase ?? "") && before.primary.exists)
            assert.equal(
              before.primary.revision,
              decision.status.stableRevision,
              "the old version was replaced",
            );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("decide stays a fixed point on its own status (a crash after the status write loses nothing)", () => {
    fc.assert(
      fc.property(blueGreenLifeArb, ([spec, events]) => {
        for (const { before } of play(spec, events).steps) {
          const input = { generation: 1, spec: before.spec, status: before.status };
          const obs = observe(before);
          const now = new Date(before.now);
          const first = decide(input, obs, now);
          const again = decide({ ...input, status: first.status }, { ...obs, analysis: undefined }, now);
          assert.deepEqual(again.status, first.status);
          const world = (d: typeof first) =>
            d.actions.filter((a) => a.type !== "RecordEvent" && a.type !== "Notify");
          assert.deepEqual(world(again), world(first));
          assert.deepEqual(
            again.actions.filter((a) => a.type === "RecordEvent" || a.type === "Notify"),
            [],
          );
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the blue/green lives are not vacuous", () => {
  it("reach the preview, the cut-over, promotion, and rollbacks and aborts after a cut-over", () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(blueGreenLifeArb, ([spec, events]) => {
        const reached = new Set<string>();
        let cut = false;
        for (const { before, decision } of play(spec, events).steps) {
          if (decision.actions.some((a) => a.type === "PointPreview" && a.at === "canary"))
            reached.add("preview");
          if (decision.actions.some((a) => a.type === "SetRoutes" && a.weights.canary === 100)) {
            reached.add("cutOver");
            cut = true;
          }
          if (decision.status.rolloutStartedAt !== before.status?.rolloutStartedAt) cut = false;
          const phase = decision.status.phase;
          if (cut && (phase === "RolledBack" || phase === "Aborted")) reached.add(`${phase}AfterCutOver`);
          if (
            decision.status.stableRevision !== before.status?.stableRevision &&
            before.status?.stableRevision
          )
            reached.add("promoted");
        }
        for (const r of reached) seen.set(r, (seen.get(r) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 42 },
    );
    console.log(`blue/green milestones in ${RUNS} random lives: ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const key of ["preview", "cutOver", "promoted", "RolledBackAfterCutOver", "AbortedAfterCutOver"])
      assert.ok(
        (seen.get(key) ?? 0) >= RUNS * 0.01,
        `only ${seen.get(key) ?? 0} of ${RUNS} lives reached ${key}`,
      );
  });
});
