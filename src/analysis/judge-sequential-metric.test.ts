// judge: sequential metrics: the words status shows, the evidence carried between steps, and the API's rules.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatCount } from "../api/evidence-view.ts";
import { type Measurement, MetricSchema, type MetricSpec } from "../api/rollout-schema.ts";
import {
  FRESH_CONTEXT,
  formatEvidence,
  judgeSequentialMetric,
  type SequentialContext,
  sequentialContext,
} from "./judge-sequential-metric.ts";
import { judgeMeasurement } from "./verdict.ts";

const metric = (over: Record<string, unknown> = {}): MetricSpec =>
  MetricSchema.parse({ name: "errors", builtin: "request-success-rate", judge: "sequential", ...over });
const counts = (ce: number, cr: number, pe: number, pr: number) => ({
  metric: "errors",
  value: null,
  counts: { canary: { requests: cr, events: ce }, primary: { requests: pr, events: pe } },
});

const at = (step: number, over: Partial<SequentialContext> = {}): SequentialContext => ({
  ...FRESH_CONTEXT,
  step,
  ...over,
});

describe("judgeSequentialMetric", () => {
  it("says what it saw: counts per version, both evidences, and how much more traffic it needs", () => {
    const r = judgeSequentialMetric(metric(), counts(14, 812, 31, 3240), at(2), "inconclusive");
    assert.equal(r.verdict, "Inconclusive");
    assert.equal(r.gathering, true);
    assert.match(
      r.message ?? "",
      /^canary 14\/812 errors vs primary 31\/3,240 in step 2; evidence [\d.]+ of 100 needed to fail, [\d.]+ of 20 needed to pass; about [\d,]+ more canary requests needed$/,
    );
    assert.equal(
      r.threshold,
      "fail at evidence 100 that it is over 1.1× the primary; pass at 20 that it is under 3× or below 0.1 % errors",
    );
    assert.ok(Math.abs((r.value ?? 0) - (100 - (100 * 14) / 812)) < 1e-9);
    assert.equal(r.sequential?.canaryEvents, 14);
    assert.equal(r.sequential?.step, 2);
    assert.ok((r.sequential?.requestsNeeded ?? 0) > 812, JSON.stringify(r.sequential));
  });

  it("passes once shown no worse, stays passed for the step, and fails conclusively on evidence", () => {
    const shown = judgeSequentialMetric(metric(), counts(60, 6000, 540, 54_000), at(0), "inconclusive");
    assert.equal(shown.verdict, "Pass");
    assert.match(
      shown.message ?? "",
      /; shown no worse \(under 3× the primary or its errors under 0\.1 %\)$/,
    );
    assert.equal(shown.sequential?.passed, true);
    assert.equal(shown.sequential?.requestsNeeded, 6000);
    // A later tick of the same step whose own data dip below 1/beta keeps the pass (the test stopped at its crossing).
    const later = judgeSequentialMetric(
      metric(),
      counts(3, 200, 5, 800),
      at(0, { passedInStep: true }),
      "inconclusive",
    );
    assert.equal(later.verdict, "Pass");
    assert.match(later.message ?? "", /shown no worse earlier in this step$/);
    const alone = judgeSequentialMetric(metric(), counts(3, 200, 5, 800), at(1), "inconclusive");
    assert.equal(alone.verdict, "Inconclusive");
    const carried = judgeSequentialMetric(
      metric(),
      counts(3, 200, 5, 800),
      at(1, { carried: { worse: 5, noWorse: 0, floor: 0 }, passedInStep: true }),
      "inconclusive",
    );
    assert.equal(carried.verdict, "Fail");
    assert.equal(carried.conclusive, true);
    assert.match(
      carried.message ?? "",
      /evidence \d+ of 100 needed to fail, .*: the canary is worse than the primary$/,
    );
    assert.equal(carried.sequential?.carriedLogEvidence, 5);
  });

  it("follows noData without traffic, errors without counts, and says when it cannot estimate", () => {
    const m = metric({ minSamples: 500, alpha: 0.05, errorFloor: 0 });
    const silent = judgeSequentialMetric(m, counts(0, 0, 0, 0), at(0), "fail");
    assert.equal(silent.verdict, "Fail");
    assert.equal(silent.conclusive, undefined);
    assert.equal(silent.gathering, undefined);
    const none = judgeSequentialMetric(m, { metric: "errors", value: null }, at(0), "pass");
    assert.equal(none.verdict, "Error");
    // No errors anywhere and no floor: the estimate is for the highest error rate the silence leaves plausible, and
    // it grows as the silence goes on (only errorFloor can pass a service without errors).
    const clean = judgeSequentialMetric(m, counts(0, 600, 0, 2400), at(0), "inconclusive");
    assert.equal(clean.verdict, "Inconclusive");
    assert.match(
      clean.message ?? "",
      /of 20 needed to fail, 1 of 20 needed to pass; about [\d,]+ more canary requests needed$/,
    );
    const longer = judgeSequentialMetric(m, counts(0, 6000, 0, 24_000), at(0), "inconclusive");
    assert.ok(
      (longer.sequential?.requestsNeeded ?? 0) >
        5 * (clean.sequential?.requestsNeeded ?? Number.POSITIVE_INFINITY),
      JSON.stringify([clean.sequential, longer.sequential]),
    );
    // judgeMeasurement dispatches on the judge; minSamples holds a step shown no worse.
    assert.equal(judgeMeasurement(m, counts(6, 400, 54, 3600), "inconclusive").verdict, "Inconclusive");
    assert.equal(judgeMeasurement(metric(), counts(60, 6000, 540, 54_000), "inconclusive").verdict, "Pass");
  });

  it("judges latency on the slow requests above the pooled p99 bucket, without a floor", () => {
    const m = metric({ name: "latency", builtin: "request-duration" });
    const buckets = (fast: number, slow: number) => [
      { le: 100, count: fast },
      { le: 500, count: fast + slow },
      { le: Number.POSITIVE_INFINITY, count: fast + slow },
    ];
    const r = judgeSequentialMetric(
      m,
      { metric: "latency", value: null, buckets: { canary: buckets(190, 10), primary: buckets(1798, 2) } },
      at(0),
      "inconclusive",
    );
    assert.equal(r.verdict, "Fail");
    assert.match(
      r.message ?? "",
      /^canary 10\/200 requests slower than 100 \(the bucket bound at the pooled p99\) vs primary 2\/1,800/,
    );
    assert.equal(r.sequential?.boundary, 100);
    assert.equal(r.sequential?.floorLogEvidence, undefined);
    assert.match(r.threshold, /under 3×$/);
  });
});

describe("sequentialContext", () => {
  const entry = (
    metricName: string,
    step: number,
    logEvidence: number,
    carried: number,
    extra: Partial<NonNullable<Measurement["sequential"]>> = {},
  ): Measurement => ({
    metric: metricName,
    verdict: "Pass",
    threshold: "",
    weight: 10,
    at: "2026-12-02T00:00:00Z",
    sequential: {
      step,
      canaryRequests: 1,
      canaryEvents: 0,
      primaryRequests: 1,
      primaryEvents: 0,
      logEvidence,
      carriedLogEvidence: carried,
      ...extra,
    },
  });
  it("keeps the carried part within a step and the whole evidence once the step moved on", () => {
    const history = [
      entry("errors", 0, -0.5, 0, { noWorseLogEvidence: 1.5, carriedNoWorseLogEvidence: 0 }),
      entry("latency", 1, 2, 1),
      entry("errors", 1, 0.7, -0.5, {
        noWorseLogEvidence: 2.5,
        carriedNoWorseLogEvidence: 1.5,
        floorLogEvidence: -1,
        carriedFloorLogEvidence: -0.25,
        passed: true,
      }),
    ];
    assert.deepEqual(sequentialContext(history, "errors", 1), {
      step: 1,
      carried: { worse: -0.5, noWorse: 1.5, floor: -0.25 },
      passedInStep: true,
    });
    assert.deepEqual(sequentialContext(history, "errors", 2), {
      step: 2,
      carried: { worse: 0.7, noWorse: 2.5, floor: -1 },
      passedInStep: false,
    });
    // Measurements stored before the pass evidence existed carry none of it.
    assert.deepEqual(sequentialContext(history, "latency", 1).carried, { worse: 1, noWorse: 0, floor: 0 });
    assert.deepEqual(sequentialContext(history, "other", 1), { ...FRESH_CONTEXT, step: 1 });
  });
});

describe("formatting and the API's rules", () => {
  it("formats counts and evidence for people", () => {
    assert.equal(formatCount(3240.4), "3,240");
    assert.equal(formatCount(1234567), "1,234,567");
    assert.equal(formatEvidence(Math.log(3.2111)), "3.2");
    assert.equal(formatEvidence(Math.log(1234.4)), "1,234");
    assert.equal(formatEvidence(-10), "< 0.01");
  });

  it("accepts sequential metrics alone and rejects mixed or incomplete ones", () => {
    assert.ok(
      MetricSchema.safeParse({ name: "e", builtin: "request-success-rate", judge: "sequential" }).success,
    );
    const tuned = {
      name: "e",
      builtin: "request-success-rate",
      judge: "sequential",
      margin: 2,
      passMargin: 4,
    };
    assert.ok(MetricSchema.safeParse({ ...tuned, beta: 0.1, errorFloor: 0 }).success);
    const bad = [
      { name: "e", query: "up", judge: "sequential" },
      { name: "e", builtin: "request-success-rate", judge: "sequential", thresholdRange: { min: 99 } },
      { name: "e", builtin: "request-success-rate", judge: "ratio", thresholdRange: { min: 99 } },
      { name: "e", builtin: "request-success-rate", judge: "threshold", compareToPrimary: { maxRatio: 2 } },
      { name: "e", builtin: "request-success-rate", thresholdRange: { min: 99 }, alpha: 0.05 },
      { name: "e", builtin: "request-success-rate", judge: "sequential", alpha: 0.9 },
      { name: "e", builtin: "request-success-rate", thresholdRange: { min: 99 }, beta: 0.05 },
      { name: "e", builtin: "request-success-rate", judge: "sequential", margin: 2 },
      { name: "e", builtin: "request-success-rate", judge: "sequential", margin: 0.5, passMargin: 0.5 },
      { name: "e", builtin: "request-duration", judge: "sequential", errorFloor: 0.1 },
    ];
    for (const m of bad) assert.equal(MetricSchema.safeParse(m).success, false, JSON.stringify(m));
  });

  it("judge threshold and ratio check only their own bounds", () => {
    const both = {
      name: "s",
      builtin: "request-success-rate",
      thresholdRange: { min: 99 },
      compareToPrimary: { maxDecrease: 1 },
    };
    const m = { metric: "s", value: 98.5, primaryValue: 99.2 };
    assert.equal(judgeMeasurement(MetricSchema.parse(both), m, "inconclusive").verdict, "Fail");
    assert.equal(
      judgeMeasurement(MetricSchema.parse({ ...both, judge: "ratio" }), m, "inconclusive").verdict,
      "Pass",
    );
    assert.equal(
      judgeMeasurement(MetricSchema.parse({ ...both, judge: "threshold" }), m, "inconclusive").verdict,
      "Fail",
    );
  });
});
