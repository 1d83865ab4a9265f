// Pure latency judge: from cumulative histogram buckets, tests whether the canary has more slow requests than the primary.
//
// Method and why: a fixed-sample comparison of two quantiles (or a Mann-Whitney test) re-run at every tick has the
// peeking problem the count judge exists to avoid — its false-alarm rate grows with every look. Instead the latency
// question is turned into a count question. The boundary is the bucket bound at the quantile of the POOLED histogram
// (canary + primary, arm labels ignored), e.g. the largest bound with at most 99 % of all requests below it. A request above it is an
// "event". If the canary's latency distribution is the primary's, every request is equally likely to be slow
// whichever arm served it, so an event lands on the canary with probability equal to its share of the requests —
// whatever boundary was picked from label-free data. That is exactly the null of the sequential count test (see
// judge-sequential-counts.ts), which keeps P(false alarm) ≤ α however often it is evaluated. A canary whose p99 (or
// tail in general) is shifted up sends more than its share of requests above the pooled bound, and the evidence grows.
// The boundary may move to a neighbouring bucket between ticks while data accrue; the property tests check the
// A/A false-alarm rate with that movement included. Resolution is the bucket layout's: a shift that stays inside one
// bucket is invisible to any method reading buckets.
import {
  type ArmCounts,
  type Evidence,
  judgeSequentialCounts,
  type SequentialJudgement,
  type SequentialSettings,
} from "./judge-sequential-counts.ts";

/** One cumulative histogram bucket: requests at most `le` (ms or s, as the metric has it); `le` may be Infinity. */
export interface Bucket {
  le: number;
  count: number;
}

/** Cumulative count of `buckets` at `le`: the count of the largest own bound ≤ le (buckets need not share bounds). */
function countAt(buckets: readonly Bucket[], le: number): number {
  let best = 0;
  let bestLe = Number.NEGATIVE_INFINITY;
  for (const b of buckets) if (b.le <= le && b.le >= bestLe) [best, bestLe] = [b.count, b.le];
  return Math.max(0, best);
}

/** All requests of a histogram: its +Inf bucket, else its largest count. */
export function totalOf(buckets: readonly Bucket[]): number {
  return buckets.reduce((m, b) => Math.max(m, b.count), 0);
}

/**
 * The bucket bound at the pooled `quantile`: the largest finite bound with some but at most `quantile` of all
 * requests at or below it (so at least 1 − quantile of them count as slow — more events, more power), else the
 * smallest bound reaching the quantile, else undefined (no finite bound holds any request: none can be called slow).
 */
export function slowBoundary(
  canary: readonly Bucket[],
  primary: readonly Bucket[],
  quantile: number,
): number | undefined {
  const total = totalOf(canary) + totalOf(primary);
  if (total <= 0) return undefined;
  const bounds = [...new Set([...canary, ...primary].map((b) => b.le))]
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const pooled = (le: number) => countAt(canary, le) + countAt(primary, le);
  const below = bounds.filter((le) => pooled(le) > 0 && pooled(le) <= quantile * total).at(-1);
  return below ?? bounds.find((le) => pooled(le) >= quantile * total);
}

/** Requests of one arm and how many of them were slower than `boundary`. */
export function slowCounts(buckets: readonly Bucket[], boundary: number): ArmCounts {
  const requests = totalOf(buckets);
  return { requests, events: Math.max(0, requests - countAt(buckets, boundary)) };
}

/** A latency judgement: the count judgement plus the boundary and the counts it was made on. */
export interface LatencyJudgement extends SequentialJudgement {
  boundary?: number;
  canary: ArmCounts;
  primary: ArmCounts;
}

/**
 * Judges canary latency against the primary's from the buckets of the current step so far, carrying the
 * evidence of finished steps. Inconclusive (no traffic) while there is no finite boundary. The floor test is an
 * error-rate question: slow requests are defined relative to the pooled quantile, so it never applies here.
 */
export function judgeLatency(
  canary: readonly Bucket[],
  primary: readonly Bucket[],
  carried: Evidence,
  settings: SequentialSettings,
  quantile = 0.99,
): LatencyJudgement {
  const boundary = slowBoundary(canary, primary, quantile);
  const c = boundary === undefined ? { requests: totalOf(canary), events: 0 } : slowCounts(canary, boundary);
  const p =
    boundary === undefined ? { requests: totalOf(primary), events: 0 } : slowCounts(primary, boundary);
  const judged = judgeSequentialCounts(c, p, carried, { ...settings, floor: 0 });
  return { ...judged, ...(boundary !== undefined ? { boundary } : {}), canary: c, primary: p };
}
