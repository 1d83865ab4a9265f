// judge: sequential metrics: the words status shows, the evidence carried between steps, and the API's rules.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Measurement, MetricSchema, type MetricSpec } from "../api/rollout-schema.ts";
import {
  carriedEvidence,
  formatCount,
  formatEvidence,
  judgeSequentialMetric,
} from "./judge-sequential-metric.ts";
import { judgeMeasurement } from "./verdict.ts";

const metric = (over: Record<string, unknown> = {}): MetricSpec =>
  MetricSchema.parse({ name: "errors", builtin: "request-success-rate", judge: "sequential", ...over });
const counts = (ce: number, cr: number, pe: number, pr: number) => ({
  metric: "errors",
  value: null,
  counts: { canary: { requests: cr, events: ce }, primary: { requests: pr, events: pe } },
});

describe("judgeSequentialMetric", () => {
  it("says what it saw: counts per version, the evidence and the boundary", () => {
    const r = judgeSequentialMetric(
      metric(),
      counts(14, 812, 31, 3240),
      { step: 2, carriedLogEvidence: 0 },
      "inconclusive",
    );
    assert.equal(r.verdict, "Pass");
    assert.match(
      r.message ?? "",
      /^canary 14\/812 errors vs primary 31\/3,240 in step 2; evidence [\d.]+ of 100 needed to fail$/,
    );
    assert.equal(r.threshold, "evidence < 100 (alpha 0.01, margin 0 %)");
    assert.ok(Math.abs((r.value ?? 0) - (100 - (100 * 14) / 812)) < 1e-9);
    assert.equal(r.sequential?.canaryEvents, 14);
    assert.equal(r.sequential?.step, 2);
  });

  it("fails conclusively once the evidence crosses 1/alpha, counting what earlier steps carried", () => {
    const alone = judgeSequentialMetric(
      metric(),
      counts(3, 200, 5, 800),
      { step: 1, carriedLogEvidence: 0 },
      "inconclusive",
    );
    assert.equal(alone.verdict, "Pass");
    const carried = judgeSequentialMetric(
      metric(),
      counts(3, 200, 5, 800),
      { step: 1, carriedLogEvidence: 4.5 },
      "inconclusive",
    );
    assert.equal(carried.verdict, "Fail");
    assert.equal(carried.conclusive, true);
    assert.match(
      carried.message ?? "",
      /evidence \d+ of 100 needed to fail: the canary is worse than the primary/,
    );
    assert.equal(carried.sequential?.carriedLogEvidence, 4.5);
  });

  it("waits for minSamples, follows noData without traffic, and errors without counts", () => {
    const m = metric({ minSamples: 500, alpha: 0.05 });
    const wait = judgeSequentialMetric(
      m,
      counts(0, 100, 1, 400),
      { step: 0, carriedLogEvidence: 0 },
      "inconclusive",
    );
    assert.equal(wait.verdict, "Inconclusive");
    assert.match(wait.message ?? "", /of 20 needed to fail; waiting for 500 canary requests/);
    const silent = judgeSequentialMetric(m, counts(0, 0, 0, 0), { step: 0, carriedLogEvidence: 0 }, "fail");
    assert.equal(silent.verdict, "Fail");
    assert.equal(silent.conclusive, undefined);
    const none = judgeSequentialMetric(
      m,
      { metric: "errors", value: null },
      { step: 0, carriedLogEvidence: 0 },
      "pass",
    );
    assert.equal(none.verdict, "Error");
    // judgeMeasurement dispatches on the judge.
    assert.equal(judgeMeasurement(m, counts(0, 600, 6, 2400), "inconclusive").verdict, "Pass");
  });

  it("judges latency on the slow requests above the pooled p99 bucket", () => {
    const m = metric({ name: "latency", builtin: "request-duration" });
    const buckets = (fast: number, slow: number) => [
      { le: 100, count: fast },
      { le: 500, count: fast + slow },
      { le: Number.POSITIVE_INFINITY, count: fast + slow },
    ];
    const r = judgeSequentialMetric(
      m,
      { metric: "latency", value: null, buckets: { canary: buckets(190, 10), primary: buckets(1798, 2) } },
      { step: 0, carriedLogEvidence: 0 },
      "inconclusive",
    );
    assert.equal(r.verdict, "Fail");
    assert.match(
      r.message ?? "",
      /^canary 10\/200 requests slower than 100 \(the bucket bound at the pooled p99\) vs primary 2\/1,800/,
    );
    assert.equal(r.sequential?.boundary, 100);
  });
});

describe("carriedEvidence", () => {
  const entry = (metricName: string, step: number, logEvidence: number, carried: number): Measurement => ({
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
    },
  });
  it("keeps the carried part within a step and the whole evidence once the step moved on", () => {
    const history = [entry("errors", 0, -0.5, 0), entry("latency", 1, 2, 1), entry("errors", 1, 0.7, -0.5)];
    assert.equal(carriedEvidence(history, "errors", 1), -0.5);
    assert.equal(carriedEvidence(history, "errors", 2), 0.7);
    assert.equal(carriedEvidence(history, "latency", 1), 1);
    assert.equal(carriedEvidence(history, "other", 1), 0);
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
    const bad = [
      { name: "e", query: "up", judge: "sequential" },
      { name: "e", builtin: "request-success-rate", judge: "sequential", thresholdRange: { min: 99 } },
      { name: "e", builtin: "request-success-rate", judge: "ratio", thresholdRange: { min: 99 } },
      { name: "e", builtin: "request-success-rate", judge: "threshold", compareToPrimary: { maxRatio: 2 } },
      { name: "e", builtin: "request-success-rate", thresholdRange: { min: 99 }, alpha: 0.05 },
      { name: "e", builtin: "request-success-rate", judge: "sequential", alpha: 0.9 },
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
