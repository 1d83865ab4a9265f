import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { conditionBounds, nextAfter } from "./argo-condition.ts";

type Op = ">=" | ">" | "<=" | "<" | "==";
const OPS: Op[] = [">=", ">", "<=", "<", "=="];
const holds = (op: Op, x: number, n: number) =>
  op === ">=" ? x >= n : op === ">" ? x > n : op === "<=" ? x <= n : op === "<" ? x < n : x === n;

interface Clause {
  op: Op;
  n: number;
  flipped: boolean;
  indexed: boolean;
}
const FLIP: Record<Op, Op> = { ">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==" };
const text = (cs: Clause[]) =>
  cs
    .map((c) => {
      const r = c.indexed ? "result[0]" : "result";
      return c.flipped ? `${c.n} ${FLIP[c.op]} ${r}` : `${r} ${c.op} ${c.n}`;
    })
    .join(" && ");
const holdsAll = (cs: Clause[], x: number) => cs.every((c) => holds(c.op, x, c.n));

/** Argo's verdict for value x: failureCondition first, then successCondition; neither met with both set → Inconclusive. */
function argo(success: Clause[] | undefined, failure: Clause[] | undefined, x: number) {
  if (failure && holdsAll(failure, x)) return "fail";
  if (success) return holdsAll(success, x) ? "pass" : failure ? "inconclusive" : "fail";
  return "pass";
}

const number = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
const clause = fc.record({
  op: fc.constantFrom(...OPS),
  n: number,
  flipped: fc.boolean(),
  indexed: fc.boolean(),
});
const condition = fc.option(fc.array(clause, { minLength: 1, maxLength: 2 }), { nil: undefined });

describe("conditionBounds", () => {
  it("reads the documented forms", () => {
    assert.deepEqual(conditionBounds("result[0] >= 0.99", undefined), { ok: true, bounds: { min: 0.99 } });
    assert.deepEqual(conditionBounds("result >= 1 && result <= 3", undefined), {
      ok: true,
      bounds: { min: 1, max: 3 },
    });
    assert.deepEqual(conditionBounds(undefined, "result[0] < 95"), { ok: true, bounds: { min: 95 } });
    assert.deepEqual(conditionBounds("result < 5", undefined), {
      ok: true,
      bounds: { max: nextAfter(5, false) },
    });
    assert.deepEqual(conditionBounds("result[0] >= 95", "result[0] < 95"), { ok: true, bounds: { min: 95 } });
  });

  it("refuses what a thresholdRange cannot hold, saying why", () => {
    const refused = (s: string | undefined, f: string | undefined, why: RegExp) => {
      const r = conditionBounds(s, f);
      assert.equal(r.ok, false);
      assert.match(r.ok ? "" : r.message, why);
    };
    refused("len(result) == 0 || result[0] >= 0.95", undefined, /successCondition .* is not one of/);
    refused("result[0] >= 0.95 || result[1] > 2", undefined, /is not one of/);
    refused("isNaN(result)", undefined, /is not one of/);
    refused(undefined, "result > 1 && result < 3", /must be one-sided/);
    refused("result < 5", "result >= 10", /neither \(Argo's Inconclusive\)/);
    refused("result > 5 && result < 1", undefined, /hold for no value/);
    refused(undefined, undefined, /neither successCondition nor failureCondition/);
  });

  it("property: a value passes the thresholdRange exactly when Argo would call it Successful", () => {
    fc.assert(
      fc.property(condition, condition, fc.array(number, { maxLength: 8 }), (s, f, xs) => {
        const r = conditionBounds(s && text(s), f && text(f));
        if (!r.ok) return;
        const ends = [...(s ?? []), ...(f ?? [])].flatMap((c) => [
          c.n,
          nextAfter(c.n, true),
          nextAfter(c.n, false),
        ]);
        for (const x of [...xs, ...ends]) {
          const inRange: boolean =
            (r.bounds.min === undefined || x >= r.bounds.min) &&
            (r.bounds.max === undefined || x <= r.bounds.max);
          const verdict = argo(s, f, x);
          assert.notEqual(verdict, "inconclusive", `${x}: an accepted pair has no Inconclusive band`);
          assert.equal(inRange, verdict === "pass", `${x} against ${JSON.stringify(r.bounds)}`);
        }
      }),
    );
  });

  it("property: nextAfter is the adjacent double", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), (x) => {
        const up = nextAfter(x, true);
        const down = nextAfter(x, false);
        assert.ok(up > x && down < x);
        assert.ok((x + up) / 2 === x || (x + up) / 2 === up, "nothing between x and next up");
        assert.ok((x + down) / 2 === x || (x + down) / 2 === down, "nothing between x and next down");
      }),
    );
  });
});
