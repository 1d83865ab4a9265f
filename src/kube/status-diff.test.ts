import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createMergePatch, jsonEqual, statusMergePatch } from "./status-diff.ts";

/** RFC 7386 apply, to check that our patches do what they claim. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

describe("jsonEqual", () => {
  it("ignores undefined members and key order, compares dates by ISO", () => {
    assert.ok(jsonEqual({ a: 1, b: undefined, c: { d: [1, 2] } }, { c: { d: [1, 2] }, a: 1 }));
    assert.ok(!jsonEqual({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(jsonEqual({ t: new Date(0) }, { t: "1970-01-01T00:00:00.000Z" }));
    assert.ok(!jsonEqual({ a: null }, {}));
  });
});

describe("statusMergePatch", () => {
  it("returns undefined when nothing changed", () => {
    const s = { phase: "Progressing", canaryWeight: 20, conditions: [{ type: "Ready", status: "False" }] };
    assert.equal(statusMergePatch(s, structuredClone(s)), undefined);
  });

  it("contains only changed top-level fields, null for removed ones", () => {
    const prev = { phase: "Progressing", canaryWeight: 20, step: 1, message: "x", pauseStartTime: "t" };
    const next = { phase: "Progressing", canaryWeight: 40, step: 2, message: "x" };
    assert.deepEqual(statusMergePatch(prev, next), { canaryWeight: 40, step: 2, pauseStartTime: null });
  });

  it("diffs nested objects so removed nested keys are deleted, replaces arrays whole", () => {
    const prev = { analysis: { a: 1, b: 2 }, conditions: [{ type: "A" }, { type: "B" }] };
    const next = { analysis: { a: 1 }, conditions: [{ type: "A" }] };
    assert.deepEqual(statusMergePatch(prev, next), { analysis: { b: null }, conditions: [{ type: "A" }] });
  });

  it("treats a missing previous status as empty", () => {
    assert.deepEqual(statusMergePatch(undefined, { phase: "Initializing" }), { phase: "Initializing" });
  });

  it("applying the patch to previous yields next (property, 1000 runs)", () => {
    const value = fc.letrec((tie) => ({
      json: fc.oneof(
        { depthSize: "small" },
        fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.boolean()),
        fc.array(tie("json"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom("a", "b", "c", "d"), tie("json"), {
          maxKeys: 4,
          noNullPrototype: true,
        }),
      ),
    })).json;
    const obj = fc.dictionary(fc.constantFrom("phase", "weight", "analysis", "conditions"), value, {
      maxKeys: 4,
      noNullPrototype: true,
    });
    fc.assert(
      fc.property(obj, obj, (prev, next) => {
        const patch = createMergePatch(prev, next);
        if (patch === undefined) {
          assert.ok(jsonEqual(prev, next));
          return;
        }
        assert.deepEqual(applyMergePatch(prev, patch), next);
        // Only changed top-level fields appear.
        for (const k of Object.keys(patch as object)) assert.ok(!jsonEqual(prev[k], next[k]), k);
      }),
      { numRuns: 1000 },
    );
  });
});
