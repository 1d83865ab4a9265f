// Decision-quality benchmark: a seeded, pure simulation of canary rollouts judged side by side by a static threshold
// (Flagger/Argo style), Vireo's ratio check and the sequential judge, on the same request streams.
//
//   npm run bench:judge                      1000 rollouts per cell, prints the tables
//   npm run bench:judge -- --write           also writes docs/analysis/judge-benchmark.md and its section of
//                                            docs/benchmarks/latest.md (appended to history.md)
//   VIREO_JUDGE_ROLLOUTS=200 npm run bench:judge
//
// The rollout: steps 10, 20, 30, 40, 50 % (then promote), one analysis tick per 1 m interval, a step advancing on a
// passing tick, giving up after 30 ticks (a rollout still running then counts as stalled). Every tick the canary and
// the primary serve Poisson traffic split by the weight; each request fails with the baseline error rate (× the
// multiplier on the canary) and takes a log-normal latency (median 40 ms, p99 ≈ 128 ms; × 1 + shift on the canary)
// recorded in Linkerd's histogram buckets. The tick data of (rollout, tick, step) comes from its own seed, so judges
// that reach the same step at the same tick see the same requests.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Bucket, judgeLatency } from "../src/analysis/judge-latency.ts";
import { judgeSequentialCounts, type SequentialSettings } from "../src/analysis/judge-sequential-counts.ts";
import {
  binomial,
  bucketProbabilities,
  multinomial,
  requestCount,
  seededRandom,
} from "../src/analysis/testing/random-streams.ts";
import { judgeMeasurement } from "../src/analysis/verdict.ts";
import { MetricSchema, type MetricSpec } from "../src/api/rollout-schema.ts";
import { publish } from "./publish.ts";

const RPS = [1, 5, 50, 500];
const BASELINES = [0.001, 0.01];
const MULTIPLIERS = [1, 1.5, 2, 3, 10];
const SHIFTS = [0, 0.2, 1];
const STEPS = [10, 20, 30, 40, 50];
const INTERVAL_S = 60;
const MAX_TICKS = 30;
const ROLLOUTS = Number(process.env.VIREO_JUDGE_ROLLOUTS ?? "1000");
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
  cb: number[];
  pb: number[];
}

interface Cell {
  rps: number;
  baseline: number;
  multiplier: number;
  shift: number;
}

type Verdict = "Pass" | "Fail" | "Inconclusive";
/** A judge for one rollout: sees each tick's data (non-cumulative) and its step; "rollback" ends at once. */
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

/** The sequential judges on errors and latency, counting since the step started and carrying evidence across steps. */
function sequentialJudge(settings: SequentialSettings): RolloutJudge {
  let step = -1;
  let c = { requests: 0, events: 0 };
  let p = { requests: 0, events: 0 };
  let cb: number[] = [];
  let pb: number[] = [];
  let carried = { errors: 0, latency: 0 };
  let last = { errors: 0, latency: 0 };
  return {
    failureLimit: 2,
    tick(d, s) {
      if (s !== step) {
        if (step >= 0)
          carried = { errors: carried.errors + last.errors, latency: carried.latency + last.latency };
        step = s;
        c = { requests: 0, events: 0 };
        p = { requests: 0, events: 0 };
        cb = new Array(BOUNDS.length + 1).fill(0);
        pb = new Array(BOUNDS.length + 1).fill(0);
      }
      c = { requests: c.requests + d.cr, events: c.events + d.ce };
      p = { requests: p.requests + d.pr, events: p.events + d.pe };
      for (let i = 0; i < cb.length; i++) {
        cb[i] = (cb[i] as number) + (d.cb[i] as number);
        pb[i] = (pb[i] as number) + (d.pb[i] as number);
      }
      const e = judgeSequentialCounts(c, p, carried.errors, settings);
      const l = judgeLatency(cumulative(cb), cumulative(pb), carried.latency, settings);
      last = { errors: e.stepLogEvidence, latency: l.stepLogEvidence };
      if (e.verdict === "Fail" || l.verdict === "Fail") return "Rollback";
      return worst([e.verdict, l.verdict]);
    },
  };
}

function worst(vs: readonly string[]): Verdict {
  if (vs.includes("Fail") || vs.includes("Error")) return "Fail";
  if (vs.includes("Inconclusive")) return "Inconclusive";
  return "Pass";
}

interface Outcome {
  result: "promoted" | "rolledBack" | "stalled";
  ticks: number;
  canaryRequests: number;
}

function simulate(judge: RolloutJudge, data: (tick: number, step: number) => TickData): Outcome {
  let step = 0;
  let failed = 0;
  let served = 0;
  for (let t = 0; t < MAX_TICKS; t++) {
    const d = data(t, step);
    served += d.cr;
    const v = judge.tick(d, step);
    if (v === "Rollback" || (v === "Fail" && ++failed >= judge.failureLimit))
      return { result: "rolledBack", ticks: t + 1, canaryRequests: served };
    if (v === "Pass" && ++step === STEPS.length)
      return { result: "promoted", ticks: t + 1, canaryRequests: served };
  }
  return { result: "stalled", ticks: MAX_TICKS, canaryRequests: served };
}

/** The tick data every judge of one rollout shares, generated on first use from its own seed. */
function streamFor(cellIndex: number, rollout: number, cell: Cell): (tick: number, step: number) => TickData {
  const cache = new Map<number, TickData>();
  const base = bucketProbabilities(BOUNDS, MEDIAN_MS, SIGMA);
  const slow = bucketProbabilities(BOUNDS, MEDIAN_MS * (1 + cell.shift), SIGMA);
  return (tick, step) => {
    const key = tick * 16 + step;
    let d = cache.get(key);
    if (!d) {
      const rand = seededRandom((((cellIndex * 100_003 + rollout) * 97 + tick) * 31 + step) >>> 0);
      const n = requestCount(rand, cell.rps, INTERVAL_S);
      const cr = binomial(rand, n, (STEPS[step] as number) / 100);
      const pr = n - cr;
      d = {
        cr,
        pr,
        ce: binomial(rand, cr, Math.min(1, cell.baseline * cell.multiplier)),
        pe: binomial(rand, pr, cell.baseline),
        cb: multinomial(rand, cr, slow),
        pb: multinomial(rand, pr, base),
      };
      cache.set(key, d);
    }
    return d;
  };
}

const JUDGES: [string, (cell: Cell) => RolloutJudge][] = [
  ["static threshold", staticJudge],
  ["Vireo ratio", ratioJudge],
  ["sequential", () => sequentialJudge({ alpha: 0.01, margin: 0, minSamples: 0 })],
  ["sequential, minSamples 300", () => sequentialJudge({ alpha: 0.01, margin: 0, minSamples: 300 })],
];

interface Row {
  cell: Cell;
  judge: string;
  promoted: number;
  rolledBack: number;
  stalled: number;
  within2: number;
  medianTicks: number;
  p90Ticks: number;
  medianRequests: number;
  medianPromoteTicks: number;
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};

function runAll(): Row[] {
  const rows: Row[] = [];
  let cellIndex = 0;
  for (const rps of RPS)
    for (const baseline of BASELINES)
      for (const multiplier of MULTIPLIERS)
        for (const shift of SHIFTS) {
          const cell = { rps, baseline, multiplier, shift };
          const outcomes = JUDGES.map(() => [] as Outcome[]);
          for (let r = 0; r < ROLLOUTS; r++) {
            const data = streamFor(cellIndex, r, cell);
            for (const [j, [, make]] of JUDGES.entries()) outcomes[j]?.push(simulate(make(cell), data));
          }
          JUDGES.forEach(([judge], j) => {
            const os = outcomes[j] ?? [];
            const back = os.filter((o) => o.result === "rolledBack");
            rows.push({
              cell,
              judge,
              promoted: os.filter((o) => o.result === "promoted").length / os.length,
              rolledBack: back.length / os.length,
              stalled: os.filter((o) => o.result === "stalled").length / os.length,
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

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const num = (x: number) => (Number.isNaN(x) ? "–" : String(Math.round(x)));
const isAA = (c: Cell) => c.multiplier === 1 && c.shift === 0;
const cellName = (c: Cell) =>
  `${c.rps} | ${c.baseline * 100} % | ${c.multiplier}× | ${c.shift === 0 ? "0" : `+${c.shift * 100} %`}`;

function fullTable(rows: Row[]): string {
  const head =
    "| rps | baseline | errors × | p99 shift | judge | rolled back | promoted | stalled | ≤ 2 intervals | median / p90 min to roll back | median canary requests to roll back | median min to promote |\n|---|---|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map(
    (r) =>
      `| ${cellName(r.cell)} | ${r.judge} | ${pct(r.rolledBack)} | ${pct(r.promoted)} | ${pct(r.stalled)} | ${pct(r.within2)} | ${num(r.medianTicks)} / ${num(r.p90Ticks)} | ${num(r.medianRequests)} | ${num(r.medianPromoteTicks)} |`,
  );
  return [head, ...lines].join("\n");
}

/** Per judge and traffic: false rollbacks on A/A, and P(promote) over all bad cells (mean over cells). */
function summary(rows: Row[]): string {
  const head =
    "| rps | judge | false rollbacks (A/A, 0.1 % / 1 %) | P(promote bad), mean over bad cells | A/A median min to promote |\n|---|---|---|---|---|";
  const lines: string[] = [];
  for (const rps of RPS)
    for (const [judge] of JUDGES) {
      const mine = rows.filter((r) => r.cell.rps === rps && r.judge === judge);
      const aa = mine.filter((r) => isAA(r.cell));
      const bad = mine.filter((r) => !isAA(r.cell));
      const meanPromote = bad.reduce((s, r) => s + r.promoted, 0) / bad.length;
      lines.push(
        `| ${rps} | ${judge} | ${aa.map((r) => pct(r.rolledBack)).join(" / ")} | ${pct(meanPromote)} | ${aa.map((r) => num(r.medianPromoteTicks)).join(" / ")} |`,
      );
    }
  return [head, ...lines].join("\n");
}

const t0 = performance.now();
const rows = runAll();
const seconds = (performance.now() - t0) / 1000;
const target = rows.filter(
  (r) => r.cell.rps === 5 && r.cell.baseline === 0.01 && r.cell.multiplier === 3 && r.cell.shift === 0,
);
const report = [
  `${ROLLOUTS} rollouts per cell, ${rows.length / JUDGES.length} cells, ${seconds.toFixed(1)} s.`,
  "",
  "### Summary",
  "",
  summary(rows),
  "",
  "### Target cell: 5 rps, 1 % baseline, 3× errors, no latency shift",
  "",
  fullTable(target),
  "",
].join("\n");
console.log(report);
if (process.argv.includes("--write")) {
  const doc = [
    "# Canary judge benchmark",
    "",
    "Generated by `npm run bench:judge -- --write` (bench/judge.ts): a seeded, pure simulation. How to read it and",
    "what it does not show: [the sequential judge](sequential-judge.md#benchmark).",
    "",
    report,
    "### Every cell",
    "",
    'Time is in analysis intervals (1 m). "≤ 2 intervals" is the share of all rollouts rolled back within two ticks.',
    "",
    fullTable(rows),
    "",
  ].join("\n");
  writeFileSync(join(import.meta.dirname, "..", "docs", "analysis", "judge-benchmark.md"), doc);
  console.log("wrote docs/analysis/judge-benchmark.md");
  publish({
    id: "judge",
    title: "Canary judges",
    command: "npm run bench:judge -- --write",
    body: [
      "A seeded simulation, so the figures change only with the code (the judges or the simulation).",
      "[Every cell](../analysis/judge-benchmark.md); how to read it: [the sequential judge](../analysis/sequential-judge.md#benchmark).",
      "",
      report.replaceAll("\n### ", "\n#### "),
    ].join("\n"),
  });
}
