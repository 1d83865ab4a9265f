// Step expansion and the weight in force at each step.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expandSteps, weightAt } from "./steps.ts";

describe("steps", () => {
  it("expands stepWeight/maxWeight and always ends at maxWeight", () => {
    assert.deepEqual(
      expandSteps({ canary: { stepWeight: 10, maxWeight: 30 } }).map((s) => s.setWeight),
      [10, 20, 30],
    );
    assert.deepEqual(
      expandSteps({ canary: { stepWeight: 20, maxWeight: 50 } }).map((s) => s.setWeight),
      [20, 40, 50],
    );
    assert.deepEqual(
      expandSteps({ canary: { stepWeight: 25 } }).map((s) => s.setWeight),
      [25, 50],
    );
  });

  it("a pause holds the weight before it", () => {
    const steps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 40 }];
    assert.deepEqual(
      [0, 1, 2].map((i) => weightAt(steps, i)),
      [10, 10, 40],
    );
    assert.equal(weightAt([{ pause: {} }], 0), 0);
  });
});
