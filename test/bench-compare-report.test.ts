// The side-by-side table's detection rows and the order statistics behind them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectionAnalysis } from "../bench/compare/flagger.ts";
import { type Side, table, writesByResource } from "../bench/compare/report.ts";
import { median, spread } from "../bench/detection/stats.ts";

const side = (controller: string, totalSeconds: number): Side => ({
  controller,
  n: 10,
  completed: 10,
  failed: 0,
  setupSeconds: 5,
  totalSeconds,
  idealSeconds: 50,
  requests: {
    reads: 250,
    writes: 150,
    eventWrites: 50,
    electionReads: 0,
    electionWrites: 0,
    byVerb: {},
    writesByResource: { events: 50, "rollouts/status": 100 },
    readsByResource: {},
    conflictsByResource: { "rollouts/status": 5 },
  },
  readsPerStepPerRollout: 5,
  writesPerStepPerRollout: 3,
  peakRssMb: 100,
  peakAnonMb: 60,
  settledRssMb: 90,
  hwmMb: 120,
  cpuSeconds: 2,
  startWaitP50: 1.5,
  startWaitP99: totalSeconds / 10,
});
const row = (t: string, name: string) => t.split("\n").find((l) => l.startsWith(`| ${name}`));

describe("detection order statistics", () => {
  it("median of odd and even samples, unsorted input left as it was", () => {
    const xs = [9, 1, 5];
    assert.equal(median(xs), 5);
    assert.deepEqual(xs, [9, 1, 5]);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it("spread is min/median/max and the count; an empty sample is NaN, not 0", () => {
    assert.deepEqual(spread([7000, 2000, 3000, 12000]), { n: 4, min: 2000, median: 5000, max: 12000 });
    const none = spread([]);
    assert.equal(none.n, 0);
    assert.ok(Number.isNaN(none.min) && Number.isNaN(none.median) && Number.isNaN(none.max));
  });
});

describe("bench:compare table", () => {
  const detection = {
    vireo: spread([4000, 6000, 9000]),
    flagger: spread([12000, 15000, 24000]),
    runs: 3,
  };

  it("shows how long rollouts waited for their first step, and the writes by resource largest first, with their conflicts", () => {
    const t = table({ v: side("Vireo", 60), f: side("Flagger", 80) });
    assert.equal(
      row(t, "wait for the first step s, p99"),
      "| wait for the first step s, p99 | 6.0 | 8.0 | 0.75 |",
    );
    assert.deepEqual(writesByResource([side("Vireo", 60)]), [
      "- Vireo writes / step / rollout by resource: rollouts/status 2.00, events 1.00; of these answered 409 Conflict: rollouts/status 0.10",
    ]);
  });

  it("adds detection seconds with the Vireo/Flagger ratio after the throughput rows", () => {
    const t = table({ v: side("Vireo", 60), f: side("Flagger", 80) }, detection);
    assert.equal(row(t, "total time s"), "| total time s | 60.0 | 80.0 | 0.75 |");
    assert.equal(row(t, "detection s, min"), "| detection s, min (bad → 0 % canary) | 4.00 | 12.00 | 0.33 |");
    assert.equal(
      row(t, "detection s, median"),
      "| detection s, median (bad → 0 % canary) | 6.00 | 15.00 | 0.40 |",
    );
    assert.equal(row(t, "detection s, max"), "| detection s, max (bad → 0 % canary) | 9.00 | 24.00 | 0.38 |");
    assert.equal(row(t, "detection runs measured"), "| detection runs measured | 3/3 | 3/3 | |");
    const lines = t.split("\n");
    assert.ok(
      lines.findIndex((l) => l.includes("CPU ms")) < lines.findIndex((l) => l.includes("detection s")),
    );
  });

  it("detection alone, and a side without measurements shows – instead of a ratio", () => {
    const t = table(undefined, { ...detection, flagger: spread([]) });
    assert.equal(row(t, "completed"), undefined);
    assert.equal(row(t, "total time s"), undefined);
    assert.equal(row(t, "detection s, median"), "| detection s, median (bad → 0 % canary) | 6.00 | – | – |");
    assert.equal(row(t, "detection runs measured"), "| detection runs measured | 3/3 | 0/3 | |");
  });

  it("without detection there are no detection rows", () => {
    const t = table({ v: side("Vireo", 60), f: side("Flagger", 80) });
    assert.equal(
      t.split("\n").some((l) => l.includes("detection")),
      false,
    );
  });
});

describe("Flagger's detection analysis", () => {
  it("matches Vireo's settings: threshold 1, builtin success rate ≥ 99 % over the window, ascending 1 % steps", () => {
    const a = detectionAnalysis("10s", "1m") as {
      interval: string;
      threshold: number;
      stepWeights: number[];
      metrics: unknown[];
    };
    assert.equal(a.interval, "10s");
    assert.equal(a.threshold, 1);
    assert.deepEqual(a.metrics, [
      { name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" },
    ]);
    assert.equal(a.stepWeights[0], 20);
    assert.equal(a.stepWeights.at(-1), 50);
    assert.ok(a.stepWeights.every((w, i) => i === 0 || w === a.stepWeights[i - 1]! + 1));
  });
});
