// The latency judge: pooled bucket boundary, slow-request counts, A/A false alarms under per-tick evaluation, and
// detection of a shifted tail.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Bucket, judgeLatency, slowBoundary, slowCounts } from "./judge-latency.ts";
import { type Evidence, NO_EVIDENCE, SEQUENTIAL_DEFAULTS } from "./judge-sequential-counts.ts";
import {
  binomial,
  bucketProbabilities,
  multinomial,
  requestCount,
  seededRandom,
} from "./testing/random-streams.ts";

const BOUNDS = [5, 10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500];
/** The defaults, but failing on any increase at all: the strictest test of the A/A guarantee. */
const settings = { ...SEQUENTIAL_DEFAULTS, margin: 0 };

const cumulative = (counts: readonly number[]): Bucket[] => {
  let sum = 0;
  return counts.map((c, i) => {
    sum += c;
    return { le: BOUNDS[i] ?? Number.POSITIVE_INFINITY, count: sum };
  });
};

test("the boundary is the pooled quantile's bucket; slow counts are what lies above it", () => {
  const canary = cumulative([0, 50, 30, 10, 5, 3, 1, 1, 0, 0, 0, 0]);
  const primary = cumulative([0, 500, 300, 100, 50, 30, 10, 10, 0, 0, 0, 0]);
  // Pooled 1100 requests; 99 % is 1089, first reached at le=150 (1089 of 1100).
  assert.equal(slowBoundary(canary, primary, 0.99), 150);
  assert.deepEqual(slowCounts(canary, 150), { requests: 100, events: 1 });
  assert.deepEqual(slowCounts(primary, 150), { requests: 1000, events: 10 });
  assert.equal(slowBoundary([], [], 0.99), undefined);
  // Everything in +Inf: no finite bound reaches the quantile, so nothing can be called slow.
  const inf = [{ le: Number.POSITIVE_INFINITY, count: 10 }];
  assert.equal(judgeLatency(inf, inf, NO_EVIDENCE, settings).boundary, undefined);
});

test("a canary with many more requests above the pooled p99 fails; a matching one does not", () => {
  const primary = cumulative([0, 5000, 3000, 1000, 500, 300, 100, 80, 20, 0, 0, 0]);
  const slow = cumulative([0, 500, 300, 100, 40, 20, 10, 10, 20, 0, 0, 0]);
  const same = cumulative([0, 500, 300, 100, 50, 30, 10, 8, 2, 0, 0, 0]);
  assert.equal(judgeLatency(slow, primary, NO_EVIDENCE, settings).verdict, "Fail");
  const matching = judgeLatency(same, primary, NO_EVIDENCE, settings);
  assert.equal(matching.verdict, "Pass", JSON.stringify(matching));
  assert.equal(matching.reason, "no-worse");
});

/** One rollout's latency stream: first tick at which the judge fails, or -1. */
function firstLatencyFail(rand: () => number, rps: number, shift: number, alpha: number): number {
  const base = bucketProbabilities(BOUNDS, 40, 0.6);
  const shifted = bucketProbabilities(BOUNDS, 40 * (1 + shift), 0.6);
  let carried: Evidence = NO_EVIDENCE;
  let tick = 0;
  for (const w of [10, 20, 50]) {
    const c = new Array(BOUNDS.length + 1).fill(0);
    const p = new Array(BOUNDS.length + 1).fill(0);
    let last = NO_EVIDENCE;
    for (let t = 0; t < 10; t++, tick++) {
      const n = requestCount(rand, rps, 30);
      const nc = binomial(rand, n, w / 100);
      for (const [i, k] of multinomial(rand, nc, shifted).entries()) c[i] += k;
      for (const [i, k] of multinomial(rand, n - nc, base).entries()) p[i] += k;
      const j = judgeLatency(cumulative(c), cumulative(p), carried, { ...settings, alpha });
      if (j.verdict === "Fail") return tick;
      last = j.step;
    }
    carried = { worse: carried.worse + last.worse, noWorse: carried.noWorse + last.noWorse, floor: 0 };
  }
  return -1;
}

test("A/A latency false alarms stay below α when judged every tick, with the boundary moving", () => {
  let runs = 0;
  let fails = 0;
  fc.assert(
    fc.property(fc.constantFrom(1, 5, 50, 500), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (rps, seed) => {
      const rand = seededRandom(seed);
      for (let i = 0; i < 400; i++, runs++) if (firstLatencyFail(rand, rps, 0, 0.05) >= 0) fails++;
    }),
    { numRuns: 8, seed: 42 },
  );
  assert.ok(fails / runs <= 0.05, `${fails}/${runs} A/A rollouts failed on latency at α = 0.05`);
});

test("a doubled latency is caught at 50 rps", () => {
  const rand = seededRandom(3);
  let caught = 0;
  for (let i = 0; i < 200; i++) if (firstLatencyFail(rand, 50, 1, 0.01) >= 0) caught++;
  assert.ok(caught >= 190, `only ${caught}/200 slow canaries caught`);
});
