import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FairQueue } from "./fair-queue.ts";

describe("FairQueue", () => {
  it("serves groups in turn, each in push order", () => {
    const q = new FairQueue<string>();
    for (const x of ["a1", "a2", "a3", "b1", "a4", "c1", "b2"]) q.push(x[0] as string, x);
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    assert.deepEqual(out, ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]);
    assert.equal(q.size, 0);
  });

  it("skips groups that may not take a turn, without losing their place or items", () => {
    const q = new FairQueue<string>();
    for (const x of ["a1", "a2", "b1", "c1"]) q.push(x[0] as string, x);
    assert.equal(
      q.shift((g) => g !== "a"),
      "b1",
    );
    assert.equal(
      q.shift((g) => g === "z"),
      undefined,
    );
    assert.equal(q.shift(), "c1");
    assert.equal(q.shift(), "a1");
    assert.equal(q.size, 1);
  });

  it("remove and shiftFrom keep the round consistent", () => {
    const q = new FairQueue<string>();
    for (const x of ["a1", "b1", "b2"]) q.push(x[0] as string, x);
    assert.equal(q.remove("a", "a1"), true);
    assert.equal(q.remove("a", "a1"), false);
    q.push("a", "a2");
    assert.equal(q.shiftFrom("b"), "b1");
    assert.deepEqual([q.shift(), q.shift(), q.shift()], ["b2", "a2", undefined]);
  });

  it("property: an item pushed into an idle group comes before any other group's second item", () => {
    const op = fc.oneof(fc.constantFrom("a", "b", "c", "d", "e"), fc.constant(undefined));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new FairQueue<number>();
        const groupOf: string[] = [];
        /** Items pushed into an idle group, with how often each other group was served since. */
        const watched = new Map<number, { group: string; served: Map<string, number> }>();
        for (const group of ops) {
          if (group !== undefined) {
            if (q.sizeOf(group) === 0) watched.set(groupOf.length, { group, served: new Map() });
            q.push(group, groupOf.length);
            groupOf.push(group);
            continue;
          }
          const item = q.shift();
          if (item === undefined) continue;
          watched.delete(item);
          const served = groupOf[item] as string;
          for (const w of watched.values()) {
            if (w.group === served) continue;
            const n = (w.served.get(served) ?? 0) + 1;
            w.served.set(served, n);
            assert.ok(n <= 1, `${served} served twice while an item of ${w.group} waited at its head`);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
