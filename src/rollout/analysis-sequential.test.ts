// judge: sequential through the pure engine: evidence carried across steps into status, an A/A canary promotes on
// evidence, a conclusive Fail rolls back at once, and a step short of traffic says so in advance
// (InsufficientTraffic) and is paused, promoted or rolled back by noEvidence when its maxStepDuration runs out.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetricMeasurement } from "../analysis/types.ts";
import type { RolloutSpecInput } from "../api/rollout-schema.ts";
import { decide } from "./decide.ts";
import {
  actionsOf,
  initialized,
  type ModelWorld,
  makeSpec,
  newWorld,
  observe,
  pushRevision,
  run,
} from "./testing/world.ts";

/**
 * Counts since the step started, as Prometheus's increase() would give them: `rps` requests a second split by the
 * step's weight, errors at the given rates (expected values, so the test is deterministic).
 */
function traffic(w: ModelWorld, rps: number, canaryRate: number, primaryRate: number) {
  return (): MetricMeasurement[] => {
    const started = Date.parse(w.status?.stepStartedAt ?? "");
    const seconds = Number.isFinite(started) ? Math.max(0, (w.now - started) / 1000) : 0;
    const weight = (w.status?.canaryWeight ?? 0) / 100;
    const cr = rps * seconds * weight;
    const pr = rps * seconds - cr;
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

const sequentialWorld = (analysis: Partial<NonNullable<RolloutSpecInput["analysis"]>> = {}) =>
  newWorld(
    makeSpec({
      strategy: { canary: { steps: [{ setWeight: 10 }, { setWeight: 30 }, { setWeight: 50 }] } },
      analysis: {
        interval: "1m",
        failureLimit: 3,
        inconclusiveLimit: 2,
        metrics: [{ name: "errors", builtin: "request-success-rate", judge: "sequential" }],
        ...analysis,
      },
    }),
  );
const condition = (w: ModelWorld) => w.status?.conditions?.find((c) => c.type === "InsufficientTraffic");
const events = (w: ModelWorld, reason: string) =>
  actionsOf(w, "RecordEvent").filter((e) => e.reason === reason);

describe("judge: sequential in the engine", () => {
  it("promotes an A/A canary on evidence, carrying both evidences from step to step", () => {
    const w = initialized(sequentialWorld());
    pushRevision(w, "rev-2");
    w.nextAnalysis = traffic(w, 50, 0.01, 0.01);
    let sawEnough = false;
    run(w, (x) => {
      if (condition(x)?.reason === "EnoughTraffic") sawEnough = true;
      return x.status?.phase === "Healthy" && x.primary.revision === "rev-2";
    });
    assert.ok(sawEnough, "InsufficientTraffic was False (EnoughTraffic) while the steps ran");
    assert.equal(condition(w), undefined, "the condition is gone once nothing is in flight");
    const history = (w.status?.analysis?.history ?? []).filter((m) => m.sequential);
    const steps = [...new Set(history.map((m) => m.sequential?.step))];
    assert.ok(steps.length >= 2, `measured in steps ${steps.join(", ")}`);
    // Gathering ticks are not silence: two in a row would have paused with inconclusiveLimit 2.
    assert.ok(
      history.some((m) => m.verdict === "Inconclusive"),
      "some ticks were still gathering",
    );
    assert.equal(
      w.log.some((l) => l.decision.status.phase === "Paused"),
      false,
    );
    for (let i = 1; i < history.length; i++) {
      const prev = history[i - 1]?.sequential;
      const cur = history[i]?.sequential;
      if (!prev || !cur) continue;
      // Within a step the carried parts stay; across a step boundary they are the previous step's final evidence.
      const same = cur.step === prev.step;
      assert.equal(cur.carriedLogEvidence, same ? prev.carriedLogEvidence : prev.logEvidence);
      assert.equal(
        cur.carriedNoWorseLogEvidence,
        same ? prev.carriedNoWorseLogEvidence : prev.noWorseLogEvidence,
      );
    }
    const last = history.at(-1);
    assert.equal(last?.verdict, "Pass");
    assert.equal(last?.sequential?.passed, true);
    assert.match(
      last?.message ?? "",
      /^canary [\d,]+\/[\d,]+ errors vs primary [\d,]+\/[\d,]+ in step 2; evidence [\d.,<> ]+ of 100 needed to fail, [\d.,<> ]+ of 20 needed to pass; shown no worse/,
    );
    assert.equal(w.status?.promotedBy, "Analysis");
    assert.equal(events(w, "Promoted")[0]?.eventType, "Normal");
  });

  it("rolls back on the first sequential Fail, with the evidence in the message", () => {
    const w = initialized(sequentialWorld());
    pushRevision(w, "rev-2");
    w.nextAnalysis = traffic(w, 50, 0.05, 0.01);
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.status?.analysis?.failedChecks, 1, "failureLimit 3 was not waited for");
    assert.equal(w.primary.revision, "rev-1");
    assert.match(
      w.status?.message ?? "",
      /analysis failed \(conclusive\): errors canary [\d,]+\/[\d,]+ errors vs primary/,
    );
    const last = w.status?.analysis?.history.at(-1);
    assert.equal(last?.verdict, "Fail");
    assert.ok((last?.sequential?.logEvidence ?? 0) >= Math.log(100));
  });

  it("says in advance that a low-traffic step will not make it, then pauses for a person instead of promoting", () => {
    const w = initialized(sequentialWorld({ maxStepDuration: "10m" }));
    pushRevision(w, "rev-2");
    w.nextAnalysis = traffic(w, 1, 0.01, 0.01);
    // The first tick: the estimate is in status and the condition says the step's evidence is due too late.
    run(w, (x) => x.status?.analysis?.evidence !== undefined);
    const e = w.status?.analysis?.evidence;
    assert.equal(e?.metric, "errors");
    assert.equal(e?.step, 0);
    assert.ok(Math.abs((e?.canaryRequestsPerMinute ?? 0) - 6) < 0.01, JSON.stringify(e));
    assert.ok(
      (e?.requestsNeeded ?? 0) > 200,
      `a 1 % baseline needs hundreds of canary requests: ${JSON.stringify(e)}`,
    );
    assert.ok(e?.eta && e.eta > e.budgetEndsAt, JSON.stringify(e));
    assert.equal(condition(w)?.status, "True");
    assert.equal(condition(w)?.reason, "EtaPastBudget");
    assert.match(
      condition(w)?.message ?? "",
      /^step 1: 6 of about [\d,]+ canary requests, evidence due at \S+Z at 6 requests\/min \(errors\); its maxStepDuration 10m runs out at /,
    );
    assert.match(w.status?.message ?? "", /step 1\/3, canary weight 10%: gathering evidence, 6 of about/);
    // Between ticks the clock moves but nothing else does: the status (messages included) stays as written.
    const between = decide(
      { generation: w.generation, spec: w.spec, status: w.status },
      observe(w),
      new Date(w.now + 20_000),
    );
    assert.deepEqual(between.status, w.status, "no status write between ticks");
    const stepStarted = Date.parse(w.status?.stepStartedAt ?? "");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(w.status?.pauseReason, "NoEvidence");
    assert.equal(w.now - stepStarted, 10 * 60_000, "paused exactly when maxStepDuration ran out");
    assert.equal(w.status?.currentStepIndex, 0);
    assert.equal(w.primary.revision, "rev-1", "not promoted");
    assert.equal(condition(w)?.reason, "NoEvidence");
    const paused = events(w, "Paused").at(-1);
    assert.match(
      paused?.message ?? "",
      /no verdict within maxStepDuration 10m .*set vireo\.dev\/resume to wait another 10m/,
    );
    const notified = actionsOf(w, "Notify").filter((n) => n.event === "Paused");
    assert.equal(notified.at(-1)?.severity, "warning");
    // It stays paused while ticks go on; resuming gives the step a fresh budget.
    const later = w.now + 30 * 60_000;
    run(w, (x) => Date.parse(x.status?.analysis?.lastRunAt ?? "") > later);
    assert.equal(w.status?.phase, "Paused");
    w.requests = { resume: "1" };
    const resumedAt = w.now;
    run(w, (x) => x.status?.phase === "Progressing");
    run(w, (x) => x.status?.phase === "Paused");
    assert.ok(w.now - resumedAt >= 10 * 60_000 && w.now - resumedAt < 11 * 60_000, `${w.now - resumedAt} ms`);
  });

  it("noEvidence: promote moves on without evidence, and the Events and notifications say so", () => {
    const w = initialized(sequentialWorld({ maxStepDuration: "5m", noEvidence: "promote" }));
    pushRevision(w, "rev-2");
    w.nextAnalysis = traffic(w, 1, 0.01, 0.01);
    run(w, (x) => x.status?.phase === "Healthy" && x.primary.revision === "rev-2");
    const moved = events(w, "PromotedWithoutEvidence");
    assert.equal(moved.length, 3);
    assert.equal(moved[0]?.eventType, "Warning");
    assert.match(
      moved[0]?.message ?? "",
      /^promoted without evidence: step 1\/3, canary weight 10%: no verdict within maxStepDuration 5m/,
    );
    const promoted = events(w, "Promoted").at(-1);
    assert.equal(promoted?.eventType, "Warning");
    assert.match(
      promoted?.message ?? "",
      /promoted without evidence \(3 steps passed on noEvidence: promote\)$/,
    );
    const notes = actionsOf(w, "Notify");
    assert.equal(notes.find((n) => n.event === "Promoted")?.severity, "warning");
    assert.equal(
      notes.filter((n) => n.event === "StepAdvanced" && /without evidence/.test(n.message)).length,
      3,
    );
  });

  it("noEvidence: rollback sends traffic back to the primary", () => {
    const w = initialized(sequentialWorld({ maxStepDuration: "5m", noEvidence: "rollback" }));
    pushRevision(w, "rev-2");
    w.nextAnalysis = traffic(w, 1, 0.01, 0.01);
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.routes?.canary, 0);
    const degraded = w.status?.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.reason, "NoEvidence");
    assert.match(
      degraded?.message ?? "",
      /^rolled back: step 1\/3, canary weight 10%: no verdict within maxStepDuration 5m/,
    );
  });
});
