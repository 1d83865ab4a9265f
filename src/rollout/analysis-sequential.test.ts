// judge: sequential through the pure engine: evidence carried across steps into status, an A/A canary promotes,
// and a conclusive Fail rolls back at once, without waiting for failureLimit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetricMeasurement } from "../analysis/types.ts";
import { initialized, type ModelWorld, makeSpec, newWorld, pushRevision, run } from "./testing/world.ts";

/** Counts since the step started: `perTick` canary requests per tick at the step's weight, errors at the given rates. */
function counting(w: ModelWorld, canaryRate: number, primaryRate: number) {
  let step = -1;
  let ticks = 0;
  return (): MetricMeasurement[] => {
    const s = w.status?.currentStepIndex ?? 0;
    if (s !== step) [step, ticks] = [s, 0];
    ticks++;
    const weight = (w.status?.canaryWeight ?? 0) / 100;
    const total = 2000 * ticks;
    const cr = total * weight;
    const pr = total - cr;
    return [
      {
        metric: "errors",
        value: null,
        counts: {
          canary: { requests: cr, events: cr * canaryRate },
          primary: { requests: pr, events: pr * primaryRate },
        },
      },
    ];
  };
}

const sequentialWorld = () =>
  newWorld(
    makeSpec({
      analysis: {
        interval: "10s",
        failureLimit: 3,
        metrics: [{ name: "errors", builtin: "request-success-rate", judge: "sequential", minSamples: 150 }],
      },
    }),
  );

describe("judge: sequential in the engine", () => {
  it("promotes an A/A canary, carrying each step's evidence into the next", () => {
    const w = initialized(sequentialWorld());
    pushRevision(w, "rev-2");
    w.nextAnalysis = counting(w, 0.01, 0.01);
    run(w, (x) => x.status?.phase === "Healthy" && x.primary.revision === "rev-2");
    const history = (w.status?.analysis?.history ?? []).filter((m) => m.sequential);
    assert.ok(history.length >= 3);
    const steps = [...new Set(history.map((m) => m.sequential?.step))];
    assert.ok(steps.length >= 2, `measured in steps ${steps.join(", ")}`);
    for (let i = 1; i < history.length; i++) {
      const prev = history[i - 1]?.sequential;
      const cur = history[i]?.sequential;
      if (!prev || !cur) continue;
      // Within a step the carried part stays; across a step boundary it is the previous step's final evidence.
      assert.equal(
        cur.carriedLogEvidence,
        cur.step === prev.step ? prev.carriedLogEvidence : prev.logEvidence,
      );
    }
    assert.match(
      history.at(-1)?.message ?? "",
      /^canary 10\/1,000 errors vs primary 10\/1,000 in step 2; evidence [\d.]+ of 100 needed to fail \(minSamples 150 reached\)$/,
    );
  });

  it("rolls back on the first sequential Fail, with the evidence in the message", () => {
    const w = initialized(sequentialWorld());
    pushRevision(w, "rev-2");
    w.nextAnalysis = counting(w, 0.05, 0.01);
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.status?.analysis?.failedChecks, 1, "failureLimit 3 was not waited for");
    assert.equal(w.primary.revision, "rev-1");
    assert.match(
      w.status?.message ?? "",
      /analysis failed \(conclusive\): errors canary \d+\/\d+ errors vs primary/,
    );
    const last = w.status?.analysis?.history.at(-1);
    assert.equal(last?.verdict, "Fail");
    assert.ok((last?.sequential?.logEvidence ?? 0) >= Math.log(100));
  });
});
