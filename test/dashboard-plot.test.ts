// The dashboard's plot data: series from measurements, milestones and live points; domains and SVG paths.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Frame,
  linePath,
  metricPlots,
  normalise,
  valueDomain,
  weightSeries,
} from "../dashboard/src/plot.ts";
import { NOW, progressingRollout } from "../src/cli/testing/fixtures.ts";

const t = (secondsAgo: number) => NOW.getTime() - secondsAgo * 1000;

describe("dashboard plot data", () => {
  it("weight over time merges measurements, milestones and live updates in time order; never Events", () => {
    const r = progressingRollout();
    r.status = {
      ...r.status,
      milestones: [
        { at: new Date(t(120)).toISOString(), reason: "RolloutStarted", revision: "5c4d3e2f", message: "go" },
        { at: new Date(t(50)).toISOString(), reason: "AnalysisFailed", revision: "5c4d3e2f", message: "x" },
      ],
    };
    const series = weightSeries(r, [
      { t: t(0), v: 40 },
      { t: t(100), v: 10 },
    ]);
    assert.deepEqual(series, [
      { t: t(120), v: 0 },
      { t: t(100), v: 10 },
      { t: t(80), v: 10 },
      { t: t(20), v: 40 },
      { t: t(0), v: 40 },
    ]);
  });

  it("one plot per metric with canary, primary and bounds", () => {
    const [rate, latency] = metricPlots(progressingRollout());
    assert.equal(rate?.name, "success-rate");
    assert.equal(rate?.min, 99);
    assert.equal(rate?.max, undefined);
    assert.deepEqual(
      rate?.canary.map((p) => p.v),
      [99.8, 99.5],
    );
    assert.deepEqual(rate?.primary, []);
    assert.deepEqual(
      latency?.primary.map((p) => p.v),
      [100, 100],
    );
    assert.deepEqual(
      latency?.verdicts.map((v) => v.verdict),
      ["Pass", "Fail"],
    );
    assert.equal(latency?.threshold, "ratio ≤ 1.2 of primary");
  });

  it("domains include the thresholds and never collapse", () => {
    const [lo, hi] = valueDomain([99.5, 99.8], [99]);
    assert.ok(lo < 99 && hi > 99.8);
    const [a, b] = valueDomain([5, 5]);
    assert.ok(a < 5 && b > 5);
    assert.deepEqual(valueDomain([]), [0, 1]);
  });

  it("paths: straight lines for metrics, steps for weights", () => {
    const f: Frame = { t0: 0, t1: 10, lo: 0, hi: 100, x: 0, y: 0, width: 100, height: 100 };
    const pts = [
      { t: 0, v: 0 },
      { t: 5, v: 50 },
      { t: 10, v: 100 },
    ];
    assert.equal(linePath(pts, f), "M0 100L50 50L100 0");
    assert.equal(linePath(pts, f, true), "M0 100H50V50H100V0");
    assert.equal(linePath([], f), "");
  });

  it("normalise keeps the last value at one instant and drops bad times", () => {
    assert.deepEqual(
      normalise([
        { t: 2, v: 1 },
        { t: 1, v: 5 },
        { t: 2, v: 3 },
        { t: Number.NaN, v: 9 },
      ]),
      [
        { t: 1, v: 5 },
        { t: 2, v: 3 },
      ],
    );
  });
});
