// Deleting a Rollout whose workload cannot be handed back yet: it says why and until when, and it is released at the
// deadline or on request — never earlier, never later.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { getCondition } from "./conditions.ts";
import { type DeletionInput, decideDeletion } from "./deletion.ts";

const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);
const deletedAt = new Date("2026-12-07T00:00:00Z");
const input = (over: Partial<DeletionInput> = {}): DeletionInput => ({
  generation: 3,
  status: { phase: "Healthy", message: "primary serves revision abc" },
  deletedAt,
  timeoutMs: 600_000,
  forceRequested: false,
  gap: { what: "Deployment podinfo has 1/3 pods of the stable template ready" },
  ...over,
});
const at = (ms: number) => new Date(deletedAt.getTime() + ms);

describe("deletion decision", () => {
  it("waits with Ready=False, Reconciling=True, the reason and the deadline in status, and a Warning Event", () => {
    const quota =
      'FailedCreate: pods "podinfo-7d9-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=4, limited: pods=4';
    const d = decideDeletion(
      input({
        gap: { what: "Deployment podinfo has 1/3 pods of the stable template ready", blocker: quota },
      }),
      at(2000),
    );
    assert.equal(d.release, false);
    if (d.release) return;
    const expected =
      `deleting: waiting for Deployment podinfo has 1/3 pods of the stable template ready (${quota}) before the root ` +
      "Service selects its pods again; released without it at 2026-12-07T00:10:00.000Z (annotate vireo.dev/force-release=true to release now)";
    assert.equal(d.status.message, expected);
    for (const [type, value] of [
      ["Ready", "False"],
      ["Reconciling", "True"],
      ["Stalled", "True"],
      ["Degraded", "True"],
    ] as const) {
      const c = getCondition(d.status.conditions, type);
      assert.equal(c?.status, value, type);
      assert.equal(c?.reason, "DeletionWaiting", type);
      assert.equal(c?.observedGeneration, 3);
    }
    assert.deepEqual(d.actions, [
      { type: "RecordEvent", eventType: "Warning", reason: "DeletionWaiting", message: expected },
    ]);
    assert.equal(d.requeueAfterMs, 5000);
    // Deciding again on its own status: nothing new to say, so no second Event and no status change.
    const again = decideDeletion(
      input({
        status: d.status,
        gap: { what: "Deployment podinfo has 1/3 pods of the stable template ready", blocker: quota },
      }),
      at(4000),
    );
    assert.ok(!again.release);
    if (again.release) return;
    assert.deepEqual(again.actions, []);
    assert.deepEqual(again.status, d.status);
  });

  it("without a visible blocker it is not Stalled; it releases at the deadline or at once on request", () => {
    const waiting = decideDeletion(input(), at(599_000));
    assert.ok(!waiting.release);
    if (waiting.release) return;
    assert.equal(getCondition(waiting.status.conditions, "Stalled")?.status, "False");
    assert.equal(waiting.requeueAfterMs, 1000, "woken at the deadline, not a poll later");
    assert.deepEqual(decideDeletion(input(), at(600_000)), {
      release: true,
      why: "deletion deadline of 600 s passed",
    });
    assert.deepEqual(decideDeletion(input({ forceRequested: true }), at(0)), {
      release: true,
      why: "release forced by annotation vireo.dev/force-release",
    });
  });

  it("never releases before the deadline unless forced, always at or after it, and wakes up no later than it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 86_400_000 }),
        fc.integer({ min: -60_000, max: 90_000_000 }),
        fc.boolean(),
        fc.option(fc.string({ maxLength: 3000 }), { nil: undefined }),
        (timeoutMs, elapsed, forceRequested, blocker) => {
          const d = decideDeletion(
            input({
              timeoutMs,
              forceRequested,
              gap: { what: "x", ...(blocker !== undefined ? { blocker } : {}) },
            }),
            at(elapsed),
          );
          assert.equal(d.release, forceRequested || elapsed >= timeoutMs);
          if (d.release) return;
          assert.ok(d.requeueAfterMs >= 1 && d.requeueAfterMs <= Math.max(1, timeoutMs - elapsed));
          assert.ok((d.status.message ?? "").length <= 2048);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
