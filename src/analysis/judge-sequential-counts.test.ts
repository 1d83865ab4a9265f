// The sequential count judge: exact small cases, monotone and deterministic evidence, and its type-I guarantee on
// thousands of simulated A/A canaries peeked at every tick, across step changes.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  judgeSequentialCounts,
  logBayesFactor,
  nullCanaryShare,
  type SequentialSettings,
} from "./judge-sequential-counts.ts";
import { binomial, requestCount, seededRandom } from "./testing/random-streams.ts";

const settings = (over: Partial<SequentialSettings> = {}): SequentialSettings => ({
  alpha: 0.01,
  margin: 0,
  minSamples: 0,
  ...over,
});

test("no events is no evidence, and θ0 follows the share and the margin", () => {
  assert.equal(logBayesFactor(0, 0, 0.2, "worse"), 0);
  assert.equal(nullCanaryShare(1, 3, 0), 0.25);
  // 25 % share and 2× tolerated: odds 1/3 × 2 = 2/3, θ0 = 0.4.
  assert.ok(Math.abs(nullCanaryShare(1, 3, 1) - 0.4) < 1e-12);
});

test("the first events all on a 5 % canary is strong evidence; an even split is none", () => {
  // P(3 of 3 events on the canary | θ0 = 0.05) = 1.25e-4: the mixture must call that past 1/α = 100.
  assert.ok(logBayesFactor(3, 0, 0.05, "worse") > Math.log(100));
  assert.ok(logBayesFactor(10, 90, 0.1, "worse") < 0);
  assert.ok(logBayesFactor(10, 90, 0.1, "better") < logBayesFactor(0, 100, 0.1, "better"));
});

test("verdicts: Fail past 1/α, Pass after minSamples or when shown no worse, Inconclusive while waiting", () => {
  const fail = judgeSequentialCounts(
    { requests: 100, events: 8 },
    { requests: 900, events: 2 },
    0,
    settings(),
  );
  assert.equal(fail.verdict, "Fail");
  assert.equal(fail.reason, "evidence");
  const waiting = judgeSequentialCounts(
    { requests: 100, events: 1 },
    { requests: 900, events: 9 },
    0,
    settings({ minSamples: 500 }),
  );
  assert.equal(waiting.verdict, "Inconclusive");
  assert.equal(waiting.reason, "waiting");
  const enough = judgeSequentialCounts(
    { requests: 600, events: 6 },
    { requests: 5400, events: 54 },
    0,
    settings({ minSamples: 500 }),
  );
  assert.equal(enough.verdict, "Pass");
  assert.equal(enough.reason, "min-samples");
  const better = judgeSequentialCounts(
    { requests: 5000, events: 5 },
    { requests: 5000, events: 400 },
    0,
    settings({ minSamples: 1e9, margin: 0.2 }),
  );
  assert.equal(better.verdict, "Pass");
  assert.equal(better.reason, "no-worse");
  const silent = judgeSequentialCounts(
    { requests: 0, events: 0 },
    { requests: 50, events: 0 },
    0,
    settings(),
  );
  assert.equal(silent.verdict, "Inconclusive");
  assert.equal(silent.reason, "no-traffic");
  // Evidence carried from earlier steps still fails a step that has no traffic yet.
  const carried = judgeSequentialCounts(
    { requests: 0, events: 0 },
    { requests: 0, events: 0 },
    5,
    settings(),
  );
  assert.equal(carried.verdict, "Fail");
});

test("evidence is monotone: one more canary event never lowers it, one more primary event never raises it", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 400 }),
      fc.integer({ min: 0, max: 400 }),
      fc.double({ min: 0.01, max: 0.95, noNaN: true }),
      (x, y, theta0) => {
        const e = logBayesFactor(x, y, theta0, "worse");
        assert.ok(logBayesFactor(x + 1, y, theta0, "worse") >= e - 1e-9);
        assert.ok(logBayesFactor(x, y + 1, theta0, "worse") <= e + 1e-9);
        assert.ok(Number.isFinite(e));
      },
    ),
    { numRuns: 500 },
  );
});

test("the judge is deterministic and carried evidence adds up", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 1, max: 10_000 }),
      fc.double({ min: 0, max: 0.2, noNaN: true }),
      fc.double({ min: -20, max: 3, noNaN: true }),
      (cr, pr, rate, carried) => {
        const c = { requests: cr, events: Math.round(cr * rate) };
        const p = { requests: pr, events: Math.round(pr * rate * 0.8) };
        const a = judgeSequentialCounts(c, p, carried, settings());
        assert.deepEqual(judgeSequentialCounts(c, p, carried, settings()), a);
        assert.ok(Math.abs(a.logEvidence - (carried + a.stepLogEvidence)) < 1e-9);
      },
    ),
    { numRuns: 300 },
  );
});

interface Stream {
  rps: number;
  baseline: number;
  multiplier: number;
  /** Canary weight of each step (percent). */
  weights: readonly number[];
  ticksPerStep: number;
  seconds: number;
}

/** Runs one rollout-shaped stream, evaluating after every tick; returns the tick of the first Fail, or -1. */
function firstFail(rand: () => number, s: Stream, judge: SequentialSettings): number {
  let carried = 0;
  let tick = 0;
  for (const w of s.weights) {
    const c = { requests: 0, events: 0 };
    const p = { requests: 0, events: 0 };
    let last = 0;
    for (let t = 0; t < s.ticksPerStep; t++, tick++) {
      const n = requestCount(rand, s.rps, s.seconds);
      const nc = binomial(rand, n, w / 100);
      c.requests += nc;
      p.requests += n - nc;
      c.events += binomial(rand, nc, Math.min(1, s.baseline * s.multiplier));
      p.events += binomial(rand, n - nc, s.baseline);
      const j = judgeSequentialCounts(c, p, carried, judge);
      if (j.verdict === "Fail") return tick;
      last = j.stepLogEvidence;
    }
    carried += last;
  }
  return -1;
}

test("type-I error stays below α over thousands of A/A rollouts peeked at every tick", () => {
  const streamArb = fc.record({
    rps: fc.constantFrom(1, 5, 50, 500),
    baseline: fc.constantFrom(0.001, 0.01, 0.05),
    weights: fc.constantFrom([5, 10, 20, 50], [10, 20, 30, 40, 50], [50]),
    alpha: fc.constantFrom(0.01, 0.05),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
  let runs = 0;
  let fails = 0;
  fc.assert(
    fc.property(streamArb, (cfg) => {
      const rand = seededRandom(cfg.seed);
      const stream: Stream = { ...cfg, multiplier: 1, ticksPerStep: 10, seconds: 30 };
      let cellFails = 0;
      const n = 400;
      for (let i = 0; i < n; i++)
        if (firstFail(rand, stream, settings({ alpha: cfg.alpha })) >= 0) cellFails++;
      runs += n;
      fails += cellFails;
      // Per configuration, allow binomial noise around α (3 standard deviations); overall it must stay below α.
      const slack = 3 * Math.sqrt((cfg.alpha * (1 - cfg.alpha)) / n);
      assert.ok(
        cellFails / n <= cfg.alpha + slack,
        `${cellFails}/${n} A/A rollouts failed: ${JSON.stringify(cfg)}`,
      );
    }),
    { numRuns: 12, seed: 20261202 },
  );
  assert.ok(runs >= 4000);
  assert.ok(fails / runs <= 0.01, `${fails}/${runs} A/A rollouts failed`);
});

test("a margin makes an A/A canary even safer and a 3× canary is still caught", () => {
  const rand = seededRandom(7);
  const stream: Stream = {
    rps: 50,
    baseline: 0.01,
    multiplier: 1,
    weights: [10, 20, 50],
    ticksPerStep: 10,
    seconds: 30,
  };
  let aaFails = 0;
  let caught = 0;
  for (let i = 0; i < 500; i++) {
    if (firstFail(rand, stream, settings({ alpha: 0.05, margin: 0.2 })) >= 0) aaFails++;
    if (firstFail(rand, { ...stream, multiplier: 3 }, settings({ margin: 0.2 })) >= 0) caught++;
  }
  assert.ok(aaFails <= 5, `${aaFails}/500 A/A rollouts failed with a 20 % margin`);
  assert.ok(caught >= 490, `only ${caught}/500 3× canaries caught at 50 rps`);
});
