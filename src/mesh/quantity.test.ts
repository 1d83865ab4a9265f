import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalQuantity, parseQuantity, type Rational, toPercentages } from "./quantity.ts";

const r = (num: bigint, den = 1n): Rational => ({ num, den });

describe("parseQuantity", () => {
  const table: [unknown, Rational | undefined][] = [
    ["500m", r(1n, 2n)],
    ["1", r(1n)],
    ["0.5", r(1n, 2n)],
    [50, r(50n)],
    ["50", r(50n)],
    ["1k", r(1000n)],
    ["1Ki", r(1024n)],
    ["2Mi", r(2n * 1024n * 1024n)],
    ["5e-1", r(1n, 2n)],
    ["1E2", r(100n)],
    ["1E", r(10n ** 18n)], // bare E is the exa suffix, not an exponent
    ["900m", r(9n, 10n)],
    ["0.5m", r(1n, 2000n)],
    [".5", r(1n, 2n)],
    ["1.", r(1n)],
    ["+3", r(3n)],
    ["0", r(0n)],
    ["-0", r(0n)],
    [0.1, r(1n, 10n)],
    [1e-7, r(1n, 10_000_000n)],
    ["100n", r(1n, 10_000_000n)],
    ["7u", r(7n, 1_000_000n)],
    ["-1", undefined],
    ["-500m", undefined],
    ["abc", undefined],
    ["", undefined],
    ["1.2.3", undefined],
    ["1 k", undefined],
    ["1Kb", undefined],
    ["1e99999999", undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    [-5, undefined],
    [null, undefined],
    [true, undefined],
    [{ value: 1 }, undefined],
  ];
  for (const [input, want] of table) {
    it(`${JSON.stringify(input) ?? String(input)} → ${want ? `${want.num}/${want.den}` : "invalid"}`, () => {
      assert.deepEqual(parseQuantity(input), want);
    });
  }

  it("spells of one value share a canonical form; different values don't", () => {
    assert.equal(canonicalQuantity("90"), canonicalQuantity(90));
    assert.equal(canonicalQuantity("90000m"), canonicalQuantity("0.09k"));
    assert.notEqual(canonicalQuantity("900m"), canonicalQuantity("90"));
    assert.match(canonicalQuantity("x"), /^invalid:/);
  });
});

describe("toPercentages", () => {
  it("normalises relative weights and rounds half toward primary", () => {
    assert.deepEqual(toPercentages(r(9n, 10n), r(1n, 10n)), { primary: 90, canary: 10 });
    assert.deepEqual(toPercentages(r(1n), r(1n)), { primary: 50, canary: 50 });
    assert.deepEqual(toPercentages(r(1n), r(199n)), { primary: 1, canary: 99 }); // 99.5 → 99
    assert.deepEqual(toPercentages(r(1n), r(2n)), { primary: 33, canary: 67 }); // 66.67 → 67
    assert.deepEqual(toPercentages(r(0n), r(5n)), { primary: 0, canary: 100 });
    assert.equal(toPercentages(r(0n), r(0n)), undefined);
  });

  it("always sums to 100 and depends only on the ratio (property)", () => {
    const rational = fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 10n ** 6n }))
      .map(([num, den]) => r(num, den));
    fc.assert(
      fc.property(rational, rational, fc.bigInt({ min: 1n, max: 10n ** 9n }), (p, c, k) => {
        const w = toPercentages(p, c);
        if (p.num === 0n && c.num === 0n) return w === undefined;
        assert.ok(w);
        assert.equal(w.primary + w.canary, 100);
        assert.ok(Number.isInteger(w.canary) && w.canary >= 0 && w.canary <= 100);
        // Scaling both weights by the same factor never changes the answer.
        assert.deepEqual(toPercentages(r(p.num * k, p.den), r(c.num * k, c.den)), w);
        return true;
      }),
    );
  });
});
