// The evidence budget's pieces: when a step's budget ends (a resume restarts it; a budget of 10^31 hours is "never"),
// which metric the estimate follows, and the InsufficientTraffic condition's states.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetricResult } from "../analysis/types.ts";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import { type Ctx, Draft } from "./draft.ts";
import { budgetEndsAt, recordEvidence, setInsufficientTraffic } from "./evidence-budget.ts";
import { expandSteps } from "./steps.ts";
import { makeSpec, newWorld, observe } from "./testing/world.ts";

const T0 = Date.parse("2026-12-01T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const spec = (maxStepDuration = "1h") =>
  makeSpec({
    analysis: {
      interval: "1m",
      maxStepDuration,
      metrics: [
        { name: "errors", builtin: "request-success-rate", judge: "sequential" },
        { name: "latency", builtin: "request-duration", judge: "sequential" },
      ],
    },
  });
const inStep = (over: Partial<RolloutStatus> = {}): RolloutStatus => ({
  phase: "Progressing",
  currentStepIndex: 0,
  stepStartedAt: iso(T0),
  analysis: { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0, history: [] },
  ...over,
});
const sequentialResult = (metric: string, canaryRequests: number, requestsNeeded?: number): MetricResult => ({
  metric,
  verdict: "Inconclusive",
  threshold: "",
  gathering: true,
  sequential: {
    step: 0,
    canaryRequests,
    canaryEvents: 0,
    primaryRequests: canaryRequests * 9,
    primaryEvents: 0,
    logEvidence: 0,
    carriedLogEvidence: 0,
    ...(requestsNeeded !== undefined ? { requestsNeeded } : {}),
  },
});

function ctxAt(status: RolloutStatus, now: number, maxStepDuration = "1h"): Ctx {
  const s = spec(maxStepDuration);
  const d = new Draft(structuredClone({ ...status, lastValidSpec: s }), new Date(now));
  return { d, spec: s, obs: observe(newWorld(s)), steps: expandSteps(s.strategy), generation: 1 };
}

describe("the evidence budget", () => {
  it("ends maxStepDuration after the step started or the last resume, whichever is later; a huge one is never", () => {
    assert.equal(budgetEndsAt(spec(), inStep()), T0 + 3600_000);
    const resumed = inStep({
      analysis: { ...inStep().analysis!, budgetStartedAt: iso(T0 + 600_000) },
    });
    assert.equal(budgetEndsAt(spec(), resumed), T0 + 4200_000);
    assert.equal(budgetEndsAt(spec(), inStep({ stepStartedAt: undefined })), undefined);
    const never = budgetEndsAt(spec(`${"9".repeat(31)}h`), inStep());
    assert.ok(never !== undefined && Number.isFinite(new Date(never).getTime()), "still a valid date");
  });

  it("follows the metric furthest from its evidence, and one that never gets there beats any ETA", () => {
    const ctx = ctxAt(inStep(), T0 + 120_000);
    recordEvidence(
      ctx,
      [sequentialResult("errors", 120, 600), sequentialResult("latency", 120, 240)],
      new Date(T0 + 120_000),
    );
    const e = ctx.d.status.analysis?.evidence;
    assert.equal(e?.metric, "errors");
    assert.equal(e?.canaryRequestsPerMinute, 60);
    assert.equal(e?.eta, iso(T0 + 120_000 + 8 * 60_000), "480 more at 60 a minute");
    assert.equal(e?.budgetEndsAt, iso(T0 + 3600_000));
    recordEvidence(
      ctx,
      [sequentialResult("errors", 120, 600), sequentialResult("latency", 120)],
      new Date(T0 + 120_000),
    );
    assert.equal(ctx.d.status.analysis?.evidence?.metric, "latency");
    assert.equal(ctx.d.status.analysis?.evidence?.eta, undefined);
    // A tick without sequential results (a query error) keeps the last estimate.
    recordEvidence(ctx, [{ metric: "errors", verdict: "Error", threshold: "" }], new Date(T0 + 180_000));
    assert.equal(ctx.d.status.analysis?.evidence?.metric, "latency");
  });

  it("InsufficientTraffic: Unknown before the first tick, True past the budget, False within it, gone when nothing is in flight", () => {
    const condition = (status: RolloutStatus, now: number) => {
      const ctx = ctxAt(status, now);
      setInsufficientTraffic(ctx.d, 1);
      return ctx.d.status.conditions?.find((c) => c.type === "InsufficientTraffic");
    };
    assert.equal(condition(inStep(), T0)?.status, "Unknown");
    const evidence = (eta: number) => ({
      metric: "errors",
      step: 0,
      canaryRequests: 120,
      requestsNeeded: 600,
      canaryRequestsPerMinute: 60,
      eta: iso(eta),
      budgetEndsAt: iso(T0 + 3600_000),
      at: iso(T0 + 120_000),
    });
    const measured = (eta: number) =>
      inStep({ analysis: { ...inStep().analysis!, evidence: evidence(eta) } });
    const late = condition(measured(T0 + 2 * 3600_000), T0 + 120_000);
    assert.deepEqual([late?.status, late?.reason], ["True", "EtaPastBudget"]);
    assert.match(
      late?.message ?? "",
      /^step 1: 120 of about 600 canary requests, evidence due at 2026-12-01T14:00:00\.000Z at 60 requests\/min \(errors\); its maxStepDuration 1h runs out at /,
    );
    const fine = condition(measured(T0 + 600_000), T0 + 120_000);
    assert.deepEqual([fine?.status, fine?.reason], ["False", "EnoughTraffic"]);
    const spent = condition(
      { ...measured(T0 + 2 * 3600_000), phase: "Paused", pauseReason: "NoEvidence" },
      T0 + 3600_000,
    );
    assert.deepEqual([spent?.status, spent?.reason], ["True", "NoEvidence"]);
    // An estimate left from the previous step says nothing about this one.
    assert.equal(
      condition({ ...measured(T0), currentStepIndex: 1, stepStartedAt: iso(T0 + 200_000) }, T0 + 300_000)
        ?.status,
      "Unknown",
    );
    const ended = ctxAt({ ...measured(T0), phase: "Healthy" }, T0);
    ended.d.status.conditions = [
      {
        type: "InsufficientTraffic",
        status: "True",
        reason: "EtaPastBudget",
        message: "",
        lastTransitionTime: iso(T0),
        observedGeneration: 1,
      },
    ];
    setInsufficientTraffic(ended.d, 1);
    assert.equal(ended.d.status.conditions?.length, 0);
  });
});
