// The sequential count judge: exact small cases, monotone and deterministic evidence, and both error guarantees —
// false rollbacks ≤ alpha and passes of a bad canary ≤ beta — on thousands of simulated rollouts peeked at every tick,
// with bursty traffic and weights an adversary changes whenever a step's evidence went its way.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type ArmCounts,
  type Evidence,
  judgeSequentialCounts,
  logBayesFactor,
  logFloorRatio,
  logNoWorseRatio,
  NO_EVIDENCE,
  nullCanaryShare,
  SEQUENTIAL_DEFAULTS,
  type SequentialJudgement,
  type SequentialSettings,
} from "./judge-sequential-counts.ts";
import { binomial, requestCount, seededRandom } from "./testing/random-streams.ts";

const settings = (over: Partial<SequentialSettings> = {}): SequentialSettings => ({
  ...SEQUENTIAL_DEFAULTS,
  ...over,
});
const carried = (worse = 0): Evidence => ({ ...NO_EVIDENCE, worse });

test("no events is no evidence, and θ0 follows the share and the margin", () => {
  assert.equal(logBayesFactor(0, 0, 0.2, "worse"), 0);
  assert.equal(nullCanaryShare(1, 3, 0), 0.25);
  // 25 % share and 2× tolerated: odds 1/3 × 2 = 2/3, θ0 = 0.4.
  assert.ok(Math.abs(nullCanaryShare(1, 3, 1) - 0.4) < 1e-12);
  assert.equal(logNoWorseRatio({ requests: 10, events: 0 }, { requests: 90, events: 0 }, 2), 0);
  assert.equal(logFloorRatio({ requests: 1000, events: 0 }, 0), 0);
});

test("the first events all on a 5 % canary is strong evidence; an even split is none", () => {
  // P(3 of 3 events on the canary | θ0 = 0.05) = 1.25e-4: the mixture must call that past 1/α = 100.
  assert.ok(logBayesFactor(3, 0, 0.05, "worse") > Math.log(100));
  assert.ok(logBayesFactor(10, 90, 0.1, "worse") < 0);
  assert.ok(logBayesFactor(10, 90, 0.1, "better") < logBayesFactor(0, 100, 0.1, "better"));
});

test("verdicts: Fail past 1/alpha, Pass only when shown no worse, and never on no evidence", () => {
  const judge = (c: ArmCounts, p: ArmCounts, s = settings(), e = carried()) =>
    judgeSequentialCounts(c, p, e, s);
  const fail = judge({ requests: 100, events: 8 }, { requests: 900, events: 2 });
  assert.deepEqual([fail.verdict, fail.reason], ["Fail", "evidence"]);
  // The old rule passed this step: traffic and no evidence of harm. 1 canary error against 9 is no evidence of
  // anything yet, so the judge keeps gathering.
  const early = judge({ requests: 100, events: 1 }, { requests: 900, events: 9 });
  assert.deepEqual([early.verdict, early.reason], ["Inconclusive", "gathering"]);
  // The same rates with 60 times the data show the canary under 3× the primary: 60 against 540 events at a 10 %
  // share, where a 3× canary would have had a quarter of them.
  const shown = judge({ requests: 6000, events: 60 }, { requests: 54_000, events: 540 });
  assert.deepEqual([shown.verdict, shown.reason], ["Pass", "no-worse"]);
  assert.ok(shown.step.noWorse > Math.log(20));
  // minSamples holds a step that is shown no worse until the canary served that many requests.
  const held = judge(
    { requests: 6000, events: 60 },
    { requests: 54_000, events: 540 },
    settings({ minSamples: 7000 }),
  );
  assert.equal(held.verdict, "Inconclusive");
  // A service without errors: the relative tests see no events. The floor test passes 0 errors in 7,000 canary
  // requests (below 0.1 %); without the floor nothing ever passes it.
  const clean = { requests: 7000, events: 0 };
  const none = { requests: 45_000, events: 0 };
  assert.deepEqual([judge(clean, none).verdict, judge(clean, none).reason], ["Pass", "no-worse"]);
  assert.equal(judge({ requests: 3000, events: 0 }, none).verdict, "Inconclusive");
  assert.equal(judge(clean, none, settings({ floor: 0 })).verdict, "Inconclusive");
  assert.equal(
    judge({ requests: 5_000_000, events: 0 }, none, settings({ floor: 0 })).verdict,
    "Inconclusive",
  );
  const silent = judge({ requests: 0, events: 0 }, { requests: 50, events: 0 });
  assert.deepEqual([silent.verdict, silent.reason], ["Inconclusive", "no-traffic"]);
  // Evidence carried from earlier steps still fails a step that has no traffic yet.
  assert.equal(
    judge({ requests: 0, events: 0 }, { requests: 0, events: 0 }, settings(), carried(5)).verdict,
    "Fail",
  );
  // Pass evidence carried from earlier steps passes a step at its first tick unless the step's own data say otherwise.
  const ahead: Evidence = { worse: 0, noWorse: 4, floor: 0 };
  assert.equal(
    judge({ requests: 60, events: 0 }, { requests: 540, events: 5 }, settings(), ahead).verdict,
    "Pass",
  );
  assert.equal(
    judge({ requests: 60, events: 2 }, { requests: 540, events: 5 }, settings(), ahead).verdict,
    "Inconclusive",
  );
});

test("the floor's cost as documented: 0 errors in about 6,100 canary requests pass 0.1 %, about 1,200 pass 0.5 %", () => {
  // docs/analysis/evidence-budget.md and the errorFloor description quote these figures.
  const passes = (requests: number, floor: number) =>
    judgeSequentialCounts(
      { requests, events: 0 },
      { requests: 9 * requests, events: 0 },
      NO_EVIDENCE,
      settings({ floor }),
    ).verdict === "Pass";
  assert.deepEqual([passes(6000, 0.001), passes(6200, 0.001)], [false, true]);
  assert.deepEqual([passes(1150, 0.005), passes(1250, 0.005)], [false, true]);
});

test("evidence is monotone: a canary event never helps the canary, a primary event never hurts it", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 400 }),
      fc.integer({ min: 0, max: 400 }),
      fc.double({ min: 0.01, max: 0.95, noNaN: true }),
      fc.integer({ min: 1, max: 5000 }),
      fc.integer({ min: 1, max: 5000 }),
      (x, y, theta0, cr, pr) => {
        const e = logBayesFactor(x, y, theta0, "worse");
        assert.ok(logBayesFactor(x + 1, y, theta0, "worse") >= e - 1e-9);
        assert.ok(logBayesFactor(x, y + 1, theta0, "worse") <= e + 1e-9);
        assert.ok(Number.isFinite(e));
        const c = { requests: cr + x, events: x };
        const p = { requests: pr + y, events: y };
        const n = logNoWorseRatio(c, p, 2);
        assert.ok(logNoWorseRatio({ ...c, events: x + 1 }, p, 2) <= n + 1e-9);
        assert.ok(logNoWorseRatio(c, { ...p, events: y + 1 }, 2) >= n - 1e-9);
        assert.ok(logFloorRatio({ ...c, events: x + 1 }, 0.001) <= logFloorRatio(c, 0.001));
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
      fc.double({ min: -20, max: 2, noNaN: true }),
      (cr, pr, rate, worse, noWorse) => {
        const c = { requests: cr, events: Math.round(cr * rate) };
        const p = { requests: pr, events: Math.round(pr * rate * 0.8) };
        const from: Evidence = { worse, noWorse, floor: -noWorse };
        const a = judgeSequentialCounts(c, p, from, settings());
        assert.deepEqual(judgeSequentialCounts(c, p, from, settings()), a);
        for (const k of ["worse", "noWorse", "floor"] as const)
          assert.ok(Math.abs(a.evidence[k] - (from[k] + a.step[k])) < 1e-9);
      },
    ),
    { numRuns: 300 },
  );
});

/** How an adversary picks the next step: its weight, and when to end the current one. */
type Adversary = "fixed" | "random" | "lock-in" | "extremes";

interface Stream {
  rps: number;
  /** The primary's error rate; the canary's is `canaryRate`. */
  baseline: number;
  canaryRate: number;
  adversary: Adversary;
  /** Ticks of 30 s in the whole rollout. */
  ticks: number;
}

const FIXED = [10, 20, 30, 40, 50];

/**
 * Runs one rollout-shaped stream, evaluating after every tick, with bursty traffic (each tick's rate ×0.2 … ×5) and
 * the adversary's weights; `side` is the test it attacks: "worse" ends a step whenever the step moved the canary
 * towards failing, "noWorse" whenever it moved it towards passing (locking the gain in before luck turns), and both
 * then pick a new weight. Returns whether that side's verdict was ever reached.
 */
function everReached(
  rand: () => number,
  s: Stream,
  judge: SequentialSettings,
  side: "worse" | "noWorse",
): boolean {
  let evidence: Evidence = NO_EVIDENCE;
  let step = 0;
  let weight = FIXED[0] as number;
  let inStep = 0;
  let c = { requests: 0, events: 0 };
  let p = { requests: 0, events: 0 };
  let last: SequentialJudgement | undefined;
  const next = () => {
    if (last) evidence = last.evidence;
    step++;
    inStep = 0;
    c = { requests: 0, events: 0 };
    p = { requests: 0, events: 0 };
    last = undefined;
    weight =
      s.adversary === "fixed"
        ? (FIXED[Math.min(step, FIXED.length - 1)] as number)
        : s.adversary === "extremes"
          ? step % 2 === 0
            ? 1
            : 99
          : 1 + Math.floor(rand() * 98);
  };
  for (let t = 0; t < s.ticks; t++) {
    const burst = [0.2, 1, 5][Math.floor(rand() * 3)] as number;
    const n = requestCount(rand, s.rps * burst, 30);
    const nc = binomial(rand, n, weight / 100);
    c.requests += nc;
    p.requests += n - nc;
    c.events += binomial(rand, nc, s.canaryRate);
    p.events += binomial(rand, n - nc, s.baseline);
    inStep++;
    const j = judgeSequentialCounts(c, p, evidence, judge);
    if (side === "worse" ? j.verdict === "Fail" : j.verdict === "Pass") return true;
    if (c.requests > 0 && p.requests > 0) last = j;
    const gained = last !== undefined && last.step[side] > 0;
    const end =
      s.adversary === "lock-in"
        ? gained || inStep >= 15
        : s.adversary === "fixed"
          ? inStep >= 12
          : inStep >= 1 + Math.floor(rand() * 15);
    if (end) next();
  }
  return false;
}

const adversaries = fc.constantFrom<Adversary>("fixed", "random", "lock-in", "extremes");

test("false rollbacks stay below alpha over thousands of A/A rollouts peeked at every tick, whatever the weights", () => {
  const streamArb = fc.record({
    rps: fc.constantFrom(1, 5, 50, 500),
    baseline: fc.constantFrom(0.001, 0.01, 0.05),
    adversary: adversaries,
    alpha: fc.constantFrom(0.01, 0.05),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
  let runs = 0;
  let fails = 0;
  fc.assert(
    fc.property(streamArb, (cfg) => {
      const rand = seededRandom(cfg.seed);
      const stream: Stream = { ...cfg, canaryRate: cfg.baseline, ticks: 60 };
      let cellFails = 0;
      const n = 300;
      // margin 0: an A/A canary sits exactly on the null's boundary, the hardest case for the guarantee.
      for (let i = 0; i < n; i++)
        if (everReached(rand, stream, settings({ alpha: cfg.alpha, margin: 0 }), "worse")) cellFails++;
      runs += n;
      fails += cellFails;
      // Per configuration, allow binomial noise around α (3 standard deviations); overall it must stay below α.
      const slack = 3 * Math.sqrt((cfg.alpha * (1 - cfg.alpha)) / n);
      assert.ok(
        cellFails / n <= cfg.alpha + slack,
        `${cellFails}/${n} A/A rollouts failed: ${JSON.stringify(cfg)}`,
      );
    }),
    { numRuns: 16, seed: 20261202 },
  );
  assert.ok(runs >= 4000);
  assert.ok(fails / runs <= 0.02, `${fails}/${runs} A/A rollouts failed`);
});

test("a canary worse than passMargin (and above the floor) passes with probability below beta, whatever the weights", () => {
  // Bad canaries on the pass rule's null: exactly 3× the primary (its boundary) or 4×, and a zero-error primary
  // whose canary fails exactly at the floor, so the relative and the floor tests are both attacked.
  const streamArb = fc.record({
    rps: fc.constantFrom(1, 5, 50, 500),
    bad: fc.constantFrom(
      { baseline: 0.001, canaryRate: 0.003 },
      { baseline: 0.01, canaryRate: 0.03 },
      { baseline: 0.05, canaryRate: 0.2 },
      { baseline: 0, canaryRate: 0.001 },
    ),
    adversary: adversaries,
    beta: fc.constantFrom(0.05, 0.1),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
  let runs = 0;
  let passes = 0;
  let betas = 0;
  fc.assert(
    fc.property(streamArb, (cfg) => {
      const rand = seededRandom(cfg.seed);
      const stream: Stream = { ...cfg, ...cfg.bad, ticks: 60 };
      let cellPasses = 0;
      const n = 300;
      for (let i = 0; i < n; i++)
        if (everReached(rand, stream, settings({ beta: cfg.beta }), "noWorse")) cellPasses++;
      runs += n;
      passes += cellPasses;
      betas += cfg.beta * n;
      const slack = 3 * Math.sqrt((cfg.beta * (1 - cfg.beta)) / n);
      assert.ok(
        cellPasses / n <= cfg.beta + slack,
        `${cellPasses}/${n} bad canaries passed: ${JSON.stringify(cfg)}`,
      );
    }),
    { numRuns: 16, seed: 20261207 },
  );
  assert.ok(runs >= 4000);
  assert.ok(passes <= betas, `${passes}/${runs} bad canaries passed, more than the betas allow (${betas})`);
});

test("a good canary passes at ordinary traffic, and the margin keeps a 3× canary caught", () => {
  const rand = seededRandom(7);
  const stream: Stream = { rps: 50, baseline: 0.01, canaryRate: 0.01, adversary: "fixed", ticks: 60 };
  let passed = 0;
  let caught = 0;
  for (let i = 0; i < 300; i++) {
    if (everReached(rand, stream, settings(), "noWorse")) passed++;
    if (everReached(rand, { ...stream, canaryRate: 0.03 }, settings({ margin: 0.2 }), "worse")) caught++;
  }
  assert.ok(passed >= 290, `only ${passed}/300 A/A canaries passed a step within 30 minutes at 50 rps`);
  assert.ok(caught >= 295, `only ${caught}/300 3× canaries caught at 50 rps`);
});
