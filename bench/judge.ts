// Decision-quality benchmark: a seeded, pure simulation of canary rollouts judged side by side — a static threshold
// (Flagger/Argo style), Vireo's ratio check, the sequential judge with its old pass rule and with the evidence rule —
// on the same request streams, and the default sequential judge against an oracle that knows the true rates.
//
//   npm run bench:judge                      the default run (≈ 1 min of CPU; 5 min on 2 cores shared with
//                                            other work), prints everything
//   npm run bench:judge -- --quick           a tenth of the rollouts, for development (≈ 10 s of CPU)
//   npm run bench:judge -- --write           also writes docs/analysis/judge-benchmark.md and its section of
//                                            docs/benchmarks/latest.md (appended to history.md)
//   VIREO_JUDGE_ROLLOUTS=2000 VIREO_JUDGE_GRID_ROLLOUTS=500 npm run bench:judge   other sample sizes
//
// The rollout: steps 10, 20, 30, 40, 50 % (then promote), one analysis tick per 1 m interval. A step lasts until the
// judge passes it (next step), fails it (rollback) or its budget (maxStepDuration) runs out: with the default
// noEvidence: pause the rollout is then held, which is neither a promotion nor a rollback. Every tick the canary and
// the primary serve Poisson traffic split by the weight; each request fails with the baseline error rate (× the
// multiplier on the canary) and takes a log-normal latency (median 40 ms, p99 ≈ 128 ms; × 1 + shift on the canary)
// recorded in Linkerd's histogram buckets. The tick data of (rollout, tick, step) comes from its own seed, so judges
// that reach the same step at the same tick see the same requests.
//
// Two parts:
// - "judge targets": for each (rps, baseline), A/A canaries and canaries with 3× the errors, judged on the error
//   metric by the default sequential judge and by the oracle, with a 24 h budget per step so that even 1 rps at
//   0.1 % (where the oracle itself needs hours) reaches verdicts. One machine-readable `judge-target` line per cell.
// - "every cell": the grid of traffic × baseline × error multiplier × p99 shift, judged on errors and latency by all
//   judges with the product's default budget (maxStepDuration 1 h).
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { type Bucket, judgeLatency } from "../src/analysis/judge-latency.ts";
import {
  type ArmCounts,
  type Evidence,
  judgeSequentialCounts,
  NO_EVIDENCE,
  type SequentialJudgement,
  type SequentialSettings,
} from "../src/analysis/judge-sequential-counts.ts";
import { requestsToPass } from "../src/analysis/judge-sequential-estimate.ts";
import { sequentialSettings } from "../src/analysis/judge-sequential-metric.ts";
import {
  binomial,
  bucketProbabilities,
  multinomial,
  requestCount,
  seededRandom,
} from "../src/analysis/testing/random-streams.ts";
import { judgeMeasurement } from "../src/analysis/verdict.ts";
import { parseDuration } from "../src/api/duration.ts";
import { DEFAULT_MAX_STEP_DURATION, MetricSchema, type MetricSpec } from "../src/api/rollout-schema.ts";
import { markedSection, publish, replaceSection, runContext } from "./publish.ts";

const QUICK = process.argv.includes("--quick");
const RPS = [1, 5, 50, 500];
const BASELINES = [0.001, 0.01];
const MULTIPLIERS = [1, 1.5, 2, 3, 10];
const SHIFTS = [0, 0.2, 1];
const STEPS = [10, 20, 30, 40, 50];
const INTERVAL_S = 60;
/** Rollouts per cell and kind (A/A, 3×) in the target part. */
const ROLLOUTS = Number(process.env.VIREO_JUDGE_ROLLOUTS ?? (QUICK ? 100 : 1000));
/** Rollouts per cell of the grid. */
const GRID_ROLLOUTS = Number(process.env.VIREO_JUDGE_GRID_ROLLOUTS ?? (QUICK ? 100 : 1000));
/** The target part's budget per step, in ticks: a day. */
const TARGET_BUDGET = 24 * 60;
/** The grid's budget per step, in ticks: the product's default maxStepDuration. */
const GRID_BUDGET = parseDuration(DEFAULT_MAX_STEP_DURATION) / (INTERVAL_S * 1000);
/** The oracle's error rates: false rollbacks (α) and promoted 3× canaries (β), as the targets ask. */
const ORACLE = { alpha: 0.01, beta: 0.05, bad: 3 };
/** Linkerd's response_latency_ms buckets up to 10 s. */
const BOUNDS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000,
];
const MEDIAN_MS = 40;
const SIGMA = 0.5;
const BASE_P99 = MEDIAN_MS * Math.exp(2.3263 * SIGMA);

interface TickData {
  cr: number;
  ce: number;
  pr: number;
  pe: number;
  /** Latency buckets (non-cumulative); empty in error-only streams. */
  cb: number[];
  pb: number[];
}

interface Cell {
  rps: number;
  baseline: number;
  multiplier: number;
  shift: number;
  /**
   * Synthetic requests topping the traffic up, sent through the root Service (so split by the same weight) at the
   * same baseline error rate; `multiplier` is the canary's on them (1 when the regression is on a path they miss).
   */
  synthetic?: { rps: number; multiplier: number };
}

type Verdict = "Pass" | "Fail" | "Inconclusive";
/** A judge for one rollout: sees each tick's data (non-cumulative) and its step; "Rollback" ends at once. */
interface RolloutJudge {
  tick(d: TickData, step: number): Verdict | "Rollback";
  failureLimit: number;
}

const cumulative = (counts: readonly number[]): Bucket[] => {
  let sum = 0;
  return counts.map((c, i) => {
    sum += c;
    return { le: BOUNDS[i] ?? Number.POSITIVE_INFINITY, count: sum };
  });
};

/** Prometheus's histogram_quantile: linear interpolation inside the bucket holding the rank; NaN without data. */
function histogramQuantile(q: number, counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (cum + c >= rank) {
      if (i >= BOUNDS.length) return BOUNDS[BOUNDS.length - 1] as number;
      const lower = i === 0 ? 0 : (BOUNDS[i - 1] as number);
      const upper = BOUNDS[i] as number;
      return lower + ((upper - lower) * (rank - cum)) / c;
    }
    cum += c;
  }
  return BOUNDS[BOUNDS.length - 1] as number;
}

const metric = (m: Record<string, unknown>): MetricSpec => MetricSchema.parse(m);

/** Flagger/Argo style: fixed bounds over the last interval, tuned to the baseline (2× its error rate, 1.5× its p99). */
function staticJudge(cell: Cell): RolloutJudge {
  const success = metric({
    name: "s",
    builtin: "request-success-rate",
    thresholdRange: { min: 100 - 200 * cell.baseline },
  });
  const latency = metric({ name: "l", builtin: "request-duration", thresholdRange: { max: 1.5 * BASE_P99 } });
  return {
    failureLimit: 5,
    tick(d) {
      const s = d.cr > 0 ? 100 * (1 - d.ce / d.cr) : null;
      const p99 = histogramQuantile(0.99, d.cb);
      return worst([
        judgeMeasurement(success, { metric: "s", value: s }, "inconclusive").verdict,
        judgeMeasurement(latency, { metric: "l", value: Number.isNaN(p99) ? null : p99 }, "inconclusive")
          .verdict,
      ]);
    },
  };
}

/** Vireo's relative check as in the examples: success ≥ primary − 1 point, p99 ≤ 1.2 × primary, failureLimit 2. */
function ratioJudge(): RolloutJudge {
  const success = metric({
    name: "s",
    builtin: "request-success-rate",
    compareToPrimary: { maxDecrease: 1 },
  });
  const latency = metric({ name: "l", builtin: "request-duration", compareToPrimary: { maxRatio: 1.2 } });
  return {
    failureLimit: 2,
    tick(d) {
      const rate = (r: number, e: number) => (r > 0 ? 100 * (1 - e / r) : null);
      const q = (c: number[]) => {
        const v = histogramQuantile(0.99, c);
        return Number.isNaN(v) ? null : v;
      };
      return worst([
        judgeMeasurement(
          success,
          { metric: "s", value: rate(d.cr, d.ce), primaryValue: rate(d.pr, d.pe) },
          "inconclusive",
        ).verdict,
        judgeMeasurement(latency, { metric: "l", value: q(d.cb), primaryValue: q(d.pb) }, "inconclusive")
          .verdict,
      ]);
    },
  };
}

/** The default settings of a `judge: sequential` metric, as the API fills them in. */
const SETTINGS = {
  errors: sequentialSettings(metric({ name: "e", builtin: "request-success-rate", judge: "sequential" })),
  latency: sequentialSettings(metric({ name: "l", builtin: "request-duration", judge: "sequential" })),
};
/** The rule before issue 25: fail at 1/α with margin 0, pass on any tick that did not fail. */
const OLD_RULE = { ...SETTINGS.errors, margin: 0 };

/** One sequential metric over a rollout: its counts since the step started and what earlier steps carried. */
class SequentialTrack {
  #step = -1;
  #carried: Evidence = NO_EVIDENCE;
  #passed = false;
  /** The step's latest judgement with traffic. */
  last: SequentialJudgement | undefined;

  /** Starts counting afresh when the step changed, carrying the finished step's evidence. */
  enter(step: number): void {
    if (step === this.#step) return;
    if (this.last) this.#carried = this.last.evidence;
    this.#step = step;
    this.last = undefined;
    this.#passed = false;
  }

  /** Judges the step so far; a metric shown no worse stays passed for the step unless it fails (as the engine does). */
  judge(j: (carried: Evidence) => SequentialJudgement, oldRule: boolean): Verdict | "Rollback" {
    const judged = j(this.#carried);
    if (judged.reason !== "no-traffic") this.last = judged;
    if (judged.verdict === "Fail") return "Rollback";
    if (oldRule) return judged.reason === "no-traffic" ? "Inconclusive" : "Pass";
    this.#passed ||= judged.verdict === "Pass";
    return this.#passed ? "Pass" : "Inconclusive";
  }
}

/** Counts (and buckets) of one step, accumulated tick by tick. */
class StepCounts {
  c: ArmCounts = { requests: 0, events: 0 };
  p: ArmCounts = { requests: 0, events: 0 };
  cb: number[] = [];
  pb: number[] = [];
  add(d: TickData): void {
    this.c = { requests: this.c.requests + d.cr, events: this.c.events + d.ce };
    this.p = { requests: this.p.requests + d.pr, events: this.p.events + d.pe };
    if (this.cb.length === 0) {
      this.cb = new Array(d.cb.length).fill(0);
      this.pb = new Array(d.pb.length).fill(0);
    }
    for (let i = 0; i < d.cb.length; i++) {
      this.cb[i] = (this.cb[i] as number) + (d.cb[i] as number);
      this.pb[i] = (this.pb[i] as number) + (d.pb[i] as number);
    }
  }
}

/**
 * The sequential judge on errors (and on latency unless `errorsOnly`), with the default settings; `oldRule` judges
 * with the pass rule it had before (a step passes on any tick that did not fail). `onTick` sees each tick's error
 * judgement (once the step has traffic), for the estimate.
 */
function sequentialJudge(
  options: { oldRule?: boolean; errorsOnly?: boolean } = {},
  onTick?: (step: number, ticks: number, counts: StepCounts, judged: SequentialJudgement) => void,
): RolloutJudge {
  const errors = new SequentialTrack();
  const latency = new SequentialTrack();
  const errorSettings: SequentialSettings = options.oldRule ? OLD_RULE : SETTINGS.errors;
  const latencySettings: SequentialSettings = options.oldRule ? { ...OLD_RULE, floor: 0 } : SETTINGS.latency;
  let step = -1;
  let ticks = 0;
  let counts = new StepCounts();
  return {
    failureLimit: 2,
    tick(d, s) {
      if (s !== step) {
        step = s;
        ticks = 0;
        counts = new StepCounts();
      }
      ticks++;
      errors.enter(s);
      latency.enter(s);
      counts.add(d);
      const e = errors.judge(
        (carried) => judgeSequentialCounts(counts.c, counts.p, carried, errorSettings),
        !!options.oldRule,
      );
      const last = errors.last;
      if (last && onTick) onTick(s, ticks, counts, last);
      if (e === "Rollback") return e;
      if (options.errorsOnly) return e;
      const l = latency.judge(
        (carried) => judgeLatency(cumulative(counts.cb), cumulative(counts.pb), carried, latencySettings),
        !!options.oldRule,
      );
      if (l === "Rollback") return l;
      return worst([e, l]);
    },
  };
}

/**
 * The oracle: Wald's SPRT of "the canary fails at the true baseline p" against "at 3p" on the canary's requests,
 * knowing p, with α = 1 % and β = 5 %, over the whole rollout. A step passes once it has accepted the first
 * hypothesis (one tick each after that), and it rolls back when it accepts the second. No test that does not know p
 * can be faster on average at these error rates (Wald and Wolfowitz, 1948).
 */
function oracleJudge(cell: Cell): RolloutJudge {
  const p = cell.baseline;
  const up = Math.log(ORACLE.bad);
  const down = Math.log((1 - ORACLE.bad * p) / (1 - p));
  const reject = Math.log((1 - ORACLE.beta) / ORACLE.alpha);
  const accept = Math.log(ORACLE.beta / (1 - ORACLE.alpha));
  let llr = 0;
  let accepted = false;
  return {
    failureLimit: 1,
    tick(d) {
      if (accepted) return "Pass";
      llr += d.ce * up + (d.cr - d.ce) * down;
      if (llr >= reject) return "Rollback";
      accepted = llr <= accept;
      return accepted ? "Pass" : "Inconclusive";
    },
  };
}

function worst(vs: readonly string[]): Verdict {
  if (vs.includes("Fail") || vs.includes("Error")) return "Fail";
  if (vs.includes("Inconclusive")) return "Inconclusive";
  return "Pass";
}

interface Outcome {
  result: "promoted" | "rolledBack" | "held";
  ticks: number;
  canaryRequests: number;
  /** Ticks the first step took to pass; undefined when it did not. */
  firstStepTicks?: number;
}

/** Walks the steps: each lasts until the judge passes it, fails it (failureLimit times) or `budget` ticks pass. */
function simulate(
  judge: RolloutJudge,
  data: (tick: number, step: number) => TickData,
  budget: number,
): Outcome {
  let failed = 0;
  let served = 0;
  let t = 0;
  let first: { firstStepTicks?: number } = {};
  for (let step = 0; step < STEPS.length; step++) {
    let passed = false;
    for (let inStep = 0; inStep < budget && !passed; inStep++, t++) {
      const d = data(t, step);
      served += d.cr;
      const v = judge.tick(d, step);
      if (v === "Rollback" || (v === "Fail" && ++failed >= judge.failureLimit))
        return { result: "rolledBack", ticks: t + 1, canaryRequests: served, ...first };
      passed = v === "Pass";
    }
    if (!passed) return { result: "held", ticks: t, canaryRequests: served, ...first };
    if (step === 0) first = { firstStepTicks: t };
  }
  return { result: "promoted", ticks: t, canaryRequests: served, ...first };
}

/** The tick data every judge of one rollout shares, generated on first use from its own seed. */
function streamFor(
  cellIndex: number,
  rollout: number,
  cell: Cell,
  withLatency: boolean,
): (tick: number, step: number) => TickData {
  const cache = new Map<number, TickData>();
  const base = bucketProbabilities(BOUNDS, MEDIAN_MS, SIGMA);
  const slow = bucketProbabilities(BOUNDS, MEDIAN_MS * (1 + cell.shift), SIGMA);
  return (tick, step) => {
    const key = tick * 16 + step;
    let d = cache.get(key);
    if (!d) {
      const rand = seededRandom((((cellIndex * 100_003 + rollout) * 97 + tick) * 31 + step) >>> 0);
      const weight = (STEPS[step] as number) / 100;
      const n = requestCount(rand, cell.rps, INTERVAL_S);
      const cr = binomial(rand, n, weight);
      const pr = n - cr;
      d = {
        cr,
        pr,
        ce: binomial(rand, cr, Math.min(1, cell.baseline * cell.multiplier)),
        pe: binomial(rand, pr, cell.baseline),
        cb: withLatency ? multinomial(rand, cr, slow) : [],
        pb: withLatency ? multinomial(rand, pr, base) : [],
      };
      if (cell.synthetic) {
        // The judge counts what the mesh counts: synthetic and organic requests alike.
        const ns = requestCount(rand, cell.synthetic.rps, INTERVAL_S);
        const cs = binomial(rand, ns, weight);
        d.cr += cs;
        d.pr += ns - cs;
        d.ce += binomial(rand, cs, Math.min(1, cell.baseline * cell.synthetic.multiplier));
        d.pe += binomial(rand, ns - cs, cell.baseline);
      }
      cache.set(key, d);
    }
    return d;
  };
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};
/** The median time to promote, a rollout that did not promote counting as never (Infinity). */
const medianPromote = (os: readonly Outcome[]) =>
  quantile(
    os.map((o) => (o.result === "promoted" ? o.ticks : Number.POSITIVE_INFINITY)),
    0.5,
  );
const share = (os: readonly Outcome[], r: Outcome["result"]) =>
  os.filter((o) => o.result === r).length / os.length;
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const num = (x: number) => (Number.isNaN(x) ? "–" : Number.isFinite(x) ? String(Math.round(x)) : "never");

// ---------------------------------------------------------------------------------------------------------------
// Part 1: the judge targets.

interface TargetRow {
  rps: number;
  baseline: number;
  promoteBad: number;
  falseRollback: number;
  aaHeld: number;
  badHeld: number;
  aaMedian: number;
  oracleMedian: number;
  oraclePromoteBad: number;
  oracleFalseRollback: number;
  oldPromoteBad: number;
  oldFalseRollback: number;
  /**
   * A/A first steps: the time the step still took over the estimate of it (median, p90), made at the step's first
   * tick and a quarter of the way through.
   */
  eta: { first: [number, number]; quarter: [number, number] };
}

function runTargets(): TargetRow[] {
  const rows: TargetRow[] = [];
  let cellIndex = 10_000;
  for (const rps of RPS)
    for (const baseline of BASELINES) {
      const aa: Cell = { rps, baseline, multiplier: 1, shift: 0 };
      const bad: Cell = { ...aa, multiplier: ORACLE.bad };
      const out = { aa: [] as Outcome[], bad: [] as Outcome[], oa: [] as Outcome[], ob: [] as Outcome[] };
      const old = { aa: [] as Outcome[], bad: [] as Outcome[] };
      const eta = { first: [] as number[], quarter: [] as number[] };
      for (let r = 0; r < ROLLOUTS; r++) {
        const aaData = streamFor(cellIndex, r, aa, false);
        const badData = streamFor(cellIndex + 1, r, bad, false);
        // What status.analysis.evidence would say at each tick of step 1: ticks still needed at the rate so far.
        const remaining: number[] = [];
        const judge = sequentialJudge({ errorsOnly: true }, (step, ticks, counts, judged) => {
          if (step !== 0) return;
          const needed = requestsToPass(counts.c, counts.p, judged, SETTINGS.errors);
          remaining[ticks] = (needed - counts.c.requests) / (counts.c.requests / ticks);
        });
        const o = simulate(judge, aaData, TARGET_BUDGET);
        out.aa.push(o);
        const took = o.firstStepTicks;
        if (took !== undefined)
          for (const [at, list] of [
            [1, eta.first],
            [Math.ceil(took / 4), eta.quarter],
          ] as const) {
            // A step can only pass at a tick: the estimate's tick is the next whole one.
            const guess = remaining[at];
            if (guess !== undefined && at < took) list.push((took - at) / Math.max(1, Math.ceil(guess)));
          }
        out.bad.push(simulate(sequentialJudge({ errorsOnly: true }), badData, TARGET_BUDGET));
        out.oa.push(simulate(oracleJudge(aa), aaData, TARGET_BUDGET));
        out.ob.push(simulate(oracleJudge(aa), badData, TARGET_BUDGET));
        old.aa.push(simulate(sequentialJudge({ errorsOnly: true, oldRule: true }), aaData, TARGET_BUDGET));
        old.bad.push(simulate(sequentialJudge({ errorsOnly: true, oldRule: true }), badData, TARGET_BUDGET));
      }
      cellIndex += 2;
      rows.push({
        rps,
        baseline,
        promoteBad: share(out.bad, "promoted"),
        falseRollback: share(out.aa, "rolledBack"),
        aaHeld: share(out.aa, "held"),
        badHeld: share(out.bad, "held"),
        aaMedian: medianPromote(out.aa),
        oracleMedian: medianPromote(out.oa),
        oraclePromoteBad: share(out.ob, "promoted"),
        oracleFalseRollback: share(out.oa, "rolledBack"),
        oldPromoteBad: share(old.bad, "promoted"),
        oldFalseRollback: share(old.aa, "rolledBack"),
        eta: {
          first: [quantile(eta.first, 0.5), quantile(eta.first, 0.9)],
          quarter: [quantile(eta.quarter, 0.5), quantile(eta.quarter, 0.9)],
        },
      });
    }
  return rows;
}

const ratioText = (r: TargetRow) => {
  const x = r.aaMedian / r.oracleMedian;
  return Number.isFinite(x) ? x.toFixed(2) : "inf";
};

/** The machine-readable lines the issue asks for, one per (rps, baseline). */
function targetLines(rows: TargetRow[]): string[] {
  return rows.map(
    (r) =>
      `judge-target rps=${r.rps} baseline=${r.baseline * 100}% promote_bad_3x=${(100 * r.promoteBad).toFixed(1)}% false_rollback=${(100 * r.falseRollback).toFixed(1)}% time_vs_oracle=${ratioText(r)}`,
  );
}

function targetTable(rows: TargetRow[]): string {
  const head =
    "| rps | baseline | promoted 3× (new / old rule / oracle) | false rollbacks (new / old / oracle) | A/A held, 3× held | A/A median min to promote (new / oracle) | time vs oracle | step 1: actual ÷ estimate at its first tick, at a quarter (median, p90) |\n|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.rps} | ${r.baseline * 100} % | ${pct(r.promoteBad)} / ${pct(r.oldPromoteBad)} / ${pct(r.oraclePromoteBad)} | ${pct(r.falseRollback)} / ${pct(r.oldFalseRollback)} / ${pct(r.oracleFalseRollback)} | ${pct(r.aaHeld)}, ${pct(r.badHeld)} | ${num(r.aaMedian)} / ${num(r.oracleMedian)} | ${ratioText(r)} | ${[r.eta.first, r.eta.quarter].map((e) => e.map((x) => (Number.isNaN(x) ? "–" : x.toFixed(1))).join(", ")).join("; ")} |`,
  );
  return [head, ...lines].join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Part 3: topping traffic up with synthetic load.

/** Organic and synthetic traffic of the top-up part: a 1 rps service topped up to 50 rps. */
const TOP_UP = { organic: 1, synthetic: 49 };

interface TopUpRow {
  baseline: number;
  falseRollback: number;
  aaMedian: number;
  /** Promoted 3× canaries: the regression on every request, and on organic requests only. */
  promoteBadAll: number;
  promoteBadOrganicOnly: number;
}

/** The default judge on errors at 1 rps topped up to 50 rps, with the regression on all requests or organic ones only. */
function runTopUp(): TopUpRow[] {
  let cellIndex = 20_000;
  return BASELINES.map((baseline) => {
    const base: Cell = { rps: TOP_UP.organic, baseline, multiplier: 1, shift: 0 };
    const cells = {
      aa: { ...base, synthetic: { rps: TOP_UP.synthetic, multiplier: 1 } },
      all: { ...base, multiplier: ORACLE.bad, synthetic: { rps: TOP_UP.synthetic, multiplier: ORACLE.bad } },
      organic: { ...base, multiplier: ORACLE.bad, synthetic: { rps: TOP_UP.synthetic, multiplier: 1 } },
    };
    const out = { aa: [] as Outcome[], all: [] as Outcome[], organic: [] as Outcome[] };
    for (let r = 0; r < ROLLOUTS; r++)
      for (const [i, k] of (["aa", "all", "organic"] as const).entries())
        out[k].push(
          simulate(
            sequentialJudge({ errorsOnly: true }),
            streamFor(cellIndex + i, r, cells[k], false),
            TARGET_BUDGET,
          ),
        );
    cellIndex += 3;
    return {
      baseline,
      falseRollback: share(out.aa, "rolledBack"),
      aaMedian: medianPromote(out.aa),
      promoteBadAll: share(out.all, "promoted"),
      promoteBadOrganicOnly: share(out.organic, "promoted"),
    };
  });
}

function topUpTable(rows: TopUpRow[], organic: TargetRow[]): string {
  const head =
    "| baseline | A/A median min to promote (1 rps alone / topped up) | false rollbacks topped up | promoted 3× topped up: regression on every request | … on organic requests only |\n|---|---|---|---|---|";
  const lines = rows.map((r) => {
    const alone = organic.find((o) => o.rps === TOP_UP.organic && o.baseline === r.baseline);
    return `| ${r.baseline * 100} % | ${num(alone?.aaMedian ?? Number.NaN)} / ${num(r.aaMedian)} | ${pct(r.falseRollback)} | ${pct(r.promoteBadAll)} | ${pct(r.promoteBadOrganicOnly)} |`;
  });
  return [head, ...lines].join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Part 2: every cell, every judge.

const GRID_JUDGES: [string, (cell: Cell) => RolloutJudge][] = [
  ["static threshold", staticJudge],
  ["Vireo ratio", ratioJudge],
  ["sequential, old pass rule", () => sequentialJudge({ oldRule: true })],
  ["sequential", () => sequentialJudge()],
];

interface Row {
  cell: Cell;
  judge: string;
  promoted: number;
  rolledBack: number;
  held: number;
  within2: number;
  medianTicks: number;
  p90Ticks: number;
  medianRequests: number;
  medianPromoteTicks: number;
}

function runGrid(): Row[] {
  const rows: Row[] = [];
  let cellIndex = 0;
  for (const rps of RPS)
    for (const baseline of BASELINES)
      for (const multiplier of MULTIPLIERS)
        for (const shift of SHIFTS) {
          const cell = { rps, baseline, multiplier, shift };
          const outcomes = GRID_JUDGES.map(() => [] as Outcome[]);
          for (let r = 0; r < GRID_ROLLOUTS; r++) {
            const data = streamFor(cellIndex, r, cell, true);
            for (const [j, [, make]] of GRID_JUDGES.entries())
              outcomes[j]?.push(simulate(make(cell), data, GRID_BUDGET));
          }
          GRID_JUDGES.forEach(([judge], j) => {
            const os = outcomes[j] ?? [];
            const back = os.filter((o) => o.result === "rolledBack");
            rows.push({
              cell,
              judge,
              promoted: share(os, "promoted"),
              rolledBack: back.length / os.length,
              held: share(os, "held"),
              within2: back.filter((o) => o.ticks <= 2).length / os.length,
              medianTicks: quantile(
                back.map((o) => o.ticks),
                0.5,
              ),
              p90Ticks: quantile(
                back.map((o) => o.ticks),
                0.9,
              ),
              medianRequests: quantile(
                back.map((o) => o.canaryRequests),
                0.5,
              ),
              medianPromoteTicks: quantile(
                os.filter((o) => o.result === "promoted").map((o) => o.ticks),
                0.5,
              ),
            });
          });
          cellIndex++;
        }
  return rows;
}

const isAA = (c: Cell) => c.multiplier === 1 && c.shift === 0;
const cellName = (c: Cell) =>
  `${c.rps} | ${c.baseline * 100} % | ${c.multiplier}× | ${c.shift === 0 ? "0" : `+${c.shift * 100} %`}`;

function fullTable(rows: Row[]): string {
  const head =
    "| rps | baseline | errors × | p99 shift | judge | rolled back | promoted | held | ≤ 2 intervals | median / p90 min to roll back | median canary requests to roll back | median min to promote |\n|---|---|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${cellName(r.cell)} | ${r.judge} | ${pct(r.rolledBack)} | ${pct(r.promoted)} | ${pct(r.held)} | ${pct(r.within2)} | ${num(r.medianTicks)} / ${num(r.p90Ticks)} | ${num(r.medianRequests)} | ${num(r.medianPromoteTicks)} |`,
  );
  return [head, ...lines].join("\n");
}

/** Per judge and traffic: false rollbacks on A/A, P(promote) over all bad cells (mean over cells), held A/A. */
function summary(rows: Row[]): string {
  const head =
    "| rps | judge | false rollbacks (A/A, 0.1 % / 1 %) | P(promote bad), mean over bad cells | A/A held (0.1 % / 1 %) | A/A median min to promote |\n|---|---|---|---|---|---|";
  const lines: string[] = [];
  for (const rps of RPS)
    for (const [judge] of GRID_JUDGES) {
      const mine = rows.filter((r) => r.cell.rps === rps && r.judge === judge);
      const aa = mine.filter((r) => isAA(r.cell));
      const bad = mine.filter((r) => !isAA(r.cell));
      const meanPromote = bad.reduce((s, r) => s + r.promoted, 0) / bad.length;
      lines.push(
        `| ${rps} | ${judge} | ${aa.map((r) => pct(r.rolledBack)).join(" / ")} | ${pct(meanPromote)} | ${aa.map((r) => pct(r.held)).join(" / ")} | ${aa.map((r) => num(r.medianPromoteTicks)).join(" / ")} |`,
      );
    }
  return [head, ...lines].join("\n");
}

const load0 = loadavg();
const t0 = performance.now();
const targets = runTargets();
const t1 = performance.now();
const lines = targetLines(targets);
for (const l of lines) console.log(l);
const topUp = runTopUp();
const t1b = performance.now();
const grid = runGrid();
const t2 = performance.now();
const focus = grid.filter(
  (r) => r.cell.rps === 5 && r.cell.baseline === 0.01 && r.cell.multiplier === 3 && r.cell.shift === 0,
);
const secs = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
/** The target lines and their table: in the report and in the evidence budget's page. */
const targetFigures = ["```", ...lines, "```", "", targetTable(targets)];
const report = [
  `Judge targets: ${ROLLOUTS} rollouts per cell and kind, ${secs(t1 - t0)}; top-up ${secs(t1b - t1)}; every cell: ${GRID_ROLLOUTS} rollouts per cell, ${grid.length / GRID_JUDGES.length} cells, ${secs(t2 - t1b)}.`,
  "",
  "### Judge targets: the default sequential judge against the oracle",
  "",
  "Errors only, A/A and 3× the primary's error rate, 24 h budget per step (noEvidence: pause, so a held rollout is",
  "not promoted). Targets for every line: promote_bad_3x ≤ 5 %, false_rollback ≤ 1 %, time_vs_oracle ≤ 2.",
  "",
  ...targetFigures,
  "",
  `### Topping traffic up: ${TOP_UP.organic} rps organic + ${TOP_UP.synthetic} rps synthetic, split by the same weights`,
  "",
  "The judge counts synthetic requests like organic ones. A regression the synthetic requests also hit is caught as",
  "at 50 rps; one on a path they never call is diluted fifty-fold and promoted: synthetic load vouches only for what",
  "it exercises.",
  "",
  topUpTable(topUp, targets),
  "",
  `### Every cell: summary (budget ${DEFAULT_MAX_STEP_DURATION} per step, errors and latency)`,
  "",
  summary(grid),
  "",
  "### 5 rps, 1 % baseline, 3× errors, no latency shift",
  "",
  fullTable(focus),
  "",
].join("\n");
console.log(report);
if (process.argv.includes("--write")) {
  // Before the first write, so a run on a clean commit says so on every page it writes.
  const context = runContext(new Date(), load0);
  const doc = [
    "# Canary judge benchmark",
    "",
    "Generated by `npm run bench:judge -- --write` (bench/judge.ts): a seeded, pure simulation. How to read it and",
    "what it does not show: [the sequential judge](sequential-judge.md#benchmark) and [the evidence budget](evidence-budget.md).",
    "",
    report,
    "### Every cell",
    "",
    'Time is in analysis intervals (1 m). "≤ 2 intervals" is the share of all rollouts rolled back within two ticks.',
    "",
    fullTable(grid),
    "",
  ].join("\n");
  const analysis = join(import.meta.dirname, "..", "docs", "analysis");
  writeFileSync(join(analysis, "judge-benchmark.md"), doc);
  console.log("wrote docs/analysis/judge-benchmark.md");
  // The evidence budget's page shows the targets and the top-up beside its explanation.
  const budgetPage = join(analysis, "evidence-budget.md");
  const figures = [
    `\`npm run bench:judge -- --write\` — ${context}; ${ROLLOUTS} rollouts per cell and kind.`,
    "",
    ...targetFigures,
    "",
    `Topped up (${TOP_UP.organic} rps organic + ${TOP_UP.synthetic} rps synthetic, split by the same weights):`,
    "",
    topUpTable(topUp, targets),
  ].join("\n");
  writeFileSync(
    budgetPage,
    replaceSection(
      readFileSync(budgetPage, "utf8"),
      "judge-targets",
      markedSection("judge-targets", figures),
    ),
  );
  console.log("wrote the judge-targets section of docs/analysis/evidence-budget.md");
  publish({
    id: "judge",
    title: "Canary judges",
    command: "npm run bench:judge -- --write",
    context,
    body: [
      "A seeded simulation, so the figures change only with the code (the judges or the simulation).",
      "[Every cell](../analysis/judge-benchmark.md); how to read it: [the sequential judge](../analysis/sequential-judge.md#benchmark).",
      "",
      report.replaceAll("\n### ", "\n#### "),
    ].join("\n"),
  });
}
