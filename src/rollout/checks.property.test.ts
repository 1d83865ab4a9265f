// Property tests of checks in the engine: random lives with checks at every point (analysis ticks among them),
// webhooks that pass, fail or hang, Jobs that complete, fail or vanish, approvals, and the controller killed right
// after a status write.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { CheckRun } from "../api/check-schema.ts";
import { onFailureAt } from "../api/check-schema.ts";
import { attemptIdOfStatus, JOB_MISSING, runDeadline, runKey, sameRun } from "./checks.ts";
import { checkEventArb, checkPlanArb, type Event, play, specArb } from "./testing/lives.ts";
import { type ModelWorld, modelJobName } from "./testing/world.ts";

const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);

/**
 * Lives that all run checks, with kills and check outcomes among their events. Each event comes a millisecond after
 * the last: two rollout attempts never start at the same instant (a retry needs the attempt before it to have
 * ended in an earlier reconcile), and their Jobs are told apart by that start.
 */
const anyCheckLifeArb = fc.tuple(
  specArb.chain((s) => checkPlanArb.map((checks) => ({ ...s, checks }))),
  fc
    .array(checkEventArb, { minLength: 1, maxLength: 120 })
    .map((events) => events.flatMap((e) => [{ kind: "time" as const, ms: 1 }, e])),
);

/**
 * Lives whose analysis runs checks at its ticks (no gate before traffic, analysis on) and whose time moves in steps
 * of ticks, so runs pass, fail, hang into their timeout and are killed mid-tick often enough to be judged.
 */
const analysisLifeArb = fc
  .tuple(
    specArb.chain((s) =>
      checkPlanArb.map((plan) => ({
        ...s,
        skipAnalysis: false,
        checks: {
          ...plan,
          preRollout: [],
          step: undefined,
          prePromotion: [],
          analysis: plan.analysis.length > 0 ? plan.analysis : (["smoke"] as typeof plan.analysis),
        },
      })),
    ),
    fc
      .array(
        fc.oneof(
          { weight: 3, arbitrary: checkEventArb },
          {
            weight: 1,
            arbitrary: fc.integer({ min: 2_000, max: 25_000 }).map((ms) => ({ kind: "time" as const, ms })),
          },
        ),
        { minLength: 1, maxLength: 120 },
      )
      .map((events) => events.flatMap((e) => [{ kind: "time" as const, ms: 1 }, e])),
    // How the receiver answers from the start (a third of them never, so runs time out).
    fc.constantFrom("pass" as const, "fail" as const, "hang" as const),
  )
  .map(([spec, events, outcome]): [typeof spec, Event[]] => [
    spec,
    [{ kind: "webhook", outcome }, ...events],
  ]);

const checkLifeArb = fc.oneof(
  { weight: 2, arbitrary: anyCheckLifeArb },
  { weight: 1, arbitrary: analysisLifeArb },
);

/** True when `x` has its verdict (or it is due) as `before` stands: an answer, a Job ended or gone, its deadline. */
function verdictDue(before: ModelWorld, x: CheckRun, attemptId: string): boolean {
  if (finished(x)) return true;
  if (before.checks.results.some((r) => sameRun(r, x) && r.attemptId === attemptId)) return true;
  const job = before.checks.jobs.get(modelJobName(x, attemptId));
  if (
    x.kind === "job" &&
    (job ? job.state !== "Running" : x.jobRequestedAt !== undefined || x.phase === "Running")
  )
    return true;
  const def = before.spec.checks?.find((c) => c.name === x.name);
  const deadline = def ? runDeadline(def, Date.parse(x.startedAt)) : undefined;
  return deadline !== undefined && before.now >= deadline;
}

const identity = (r: CheckRun, attemptId: string | undefined) => `${runKey(r)}@${attemptId ?? ""}`;
const finished = (r: CheckRun) => r.phase === "Passed" || r.phase === "Failed" || r.phase === "Skipped";

describe("checks (property-based)", () => {
  it("creates at most one Job per run, whatever is killed or deleted", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        const { w } = play(spec, events);
        for (const [job, n] of w.checks.creations) assert.ok(n <= 1, `Job ${job} created ${n} times`);
      }),
      { numRuns: RUNS },
    );
  });

  it("fails a job run whose Job was asked for and is gone (deleted unseen, or never created) at the next look", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          const attemptId = attemptIdOfStatus(before.status ?? {});
          for (const r of before.status?.checks ?? []) {
            if (r.kind !== "job" || r.phase !== "Pending" || r.jobRequestedAt === undefined) continue;
            if (before.checks.jobs.has(modelJobName(r, attemptId))) continue;
            const now = decision.status.checks?.find((x) => sameRun(x, r));
            if (!now || attemptIdOfStatus(decision.status) !== attemptId) continue;
            assert.ok(now.phase === "Failed" || now.phase === "Skipped", `${runKey(r)} still ${now.phase}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("records a run's verdict once: a finished run never changes phase or finish time", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        const verdicts = new Map<string, string>();
        for (const { decision } of play(spec, events).steps) {
          const attemptId = attemptIdOfStatus(decision.status);
          for (const r of decision.status.checks ?? []) {
            if (!finished(r)) continue;
            const id = identity(r, attemptId);
            const v = `${r.phase}@${r.finishedAt}`;
            assert.equal(verdicts.get(id) ?? v, v, `${id} recorded twice`);
            verdicts.set(id, v);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("gives the canary no traffic before its preRollout checks passed", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        for (const { decision } of play(spec, events).steps) {
          if ((decision.status.canaryWeight ?? 0) === 0) continue;
          for (const r of decision.status.checks ?? []) {
            if (r.point !== "preRollout" || r.phase === "Passed" || r.phase === "Skipped") continue;
            const def = decision.status.lastValidSpec?.checks?.find((c) => c.name === r.name);
            if (r.phase === "Failed" && def && onFailureAt(def, "preRollout") === "continue") continue;
            assert.fail(`canary weight ${decision.status.canaryWeight} with preRollout ${r.name} ${r.phase}`);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("never passes a webhook run the receiver did not pass (a timeout is a failure)", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        const { w, steps } = play(spec, events);
        const passedByReceiver = new Set(w.checks.passed);
        for (const { decision } of steps)
          for (const r of decision.status.checks ?? [])
            if (r.kind === "webhook" && r.phase === "Passed")
              assert.ok(
                passedByReceiver.has(identity(r, attemptIdOfStatus(decision.status))),
                `${runKey(r)} passed without a 2xx`,
              );
      }),
      { numRuns: RUNS },
    );
  });

  it("counts every analysis run that fails or times out against failureLimit, in the write that records it", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          const attemptId = attemptIdOfStatus(decision.status);
          if (attemptIdOfStatus(before.status ?? {}) !== attemptId) continue;
          let failed = 0;
          for (const r of decision.status.checks ?? []) {
            if (r.point !== "analysis" || r.phase !== "Failed") continue;
            const was = before.status?.checks?.find((x) => sameRun(x, r));
            if (was && !finished(was)) failed++;
          }
          const counted =
            (decision.status.analysis?.failedChecks ?? 0) - (before.status?.analysis?.failedChecks ?? 0);
          assert.ok(counted >= failed, `${failed} analysis runs failed, ${counted} failures counted`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("starts an analysis check at a tick, with the tick's number, never while its last run has no verdict", () => {
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        for (const { before, decision } of play(spec, events).steps) {
          const attemptId = attemptIdOfStatus(decision.status);
          const sameAttempt = attemptIdOfStatus(before.status ?? {}) === attemptId;
          const ticksBefore = sameAttempt ? (before.status?.analysis?.ticks ?? 0) : 0;
          const ticks = decision.status.analysis?.ticks ?? 0;
          for (const r of decision.status.checks ?? []) {
            if (r.point !== "analysis") continue;
            const was = sameAttempt
              ? before.status?.checks?.filter((x) => x.point === r.point && x.name === r.name)
              : [];
            if (was?.some((x) => sameRun(x, r))) continue; // not new
            assert.ok(
              ticks > ticksBefore && r.attempt === ticks,
              `${runKey(r)} started without tick ${ticks}`,
            );
            for (const x of was ?? [])
              assert.ok(
                verdictDue(before, x, attemptId),
                `${runKey(r)} started while ${runKey(x)} ${x.phase}`,
              );
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("is not vacuous: kills, webhooks called again and timed out, approvals given, rollbacks by checks", () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(checkLifeArb, ([spec, events]) => {
        const reached = new Set<string>();
        const { w, steps } = play(spec, events);
        if (w.checks.kills > 0) reached.add("killed");
        if (w.checks.lostUnseen > 0) reached.add("Job deleted before the controller saw it");
        if ([...w.checks.calls.values()].some((n) => n > 1)) reached.add("webhook called again, same key");
        for (const { decision } of steps) {
          for (const r of decision.status.checks ?? []) {
            reached.add(`${r.kind}:${r.phase}`);
            if (r.point === "analysis") reached.add(`analysis ${r.kind}:${r.phase}`);
            if (r.point === "analysis" && r.message?.startsWith("timed out"))
              reached.add("analysis timed out");
            if (r.message?.startsWith("timed out")) reached.add("timed out");
            if (r.message === JOB_MISSING) reached.add("failed: Job missing");
            if (r.message?.startsWith("could not create its Job")) reached.add("failed: Job create refused");
          }
          if (
            decision.status.lastValidSpec &&
            decision.status.message?.includes("check") &&
            decision.status.phase === "RolledBack"
          )
            reached.add("rolled back by a check");
          if (decision.status.pauseReason === "CheckFailed") reached.add("paused by a check");
          if (decision.status.phase === "RolledBack" && decision.status.message?.includes("(tick "))
            reached.add("rolled back by an analysis check");
        }
        for (const r of reached) seen.set(r, (seen.get(r) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 42 },
    );
    console.log(`check outcomes in ${RUNS} random lives: ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const key of [
      "killed",
      "Job deleted before the controller saw it",
      "failed: Job missing",
      "failed: Job create refused",
      "webhook called again, same key",
      "job:Passed",
      "job:Failed",
      "webhook:Passed",
      "webhook:Failed",
      "approval:Passed",
      "timed out",
      "rolled back by a check",
      "paused by a check",
      "analysis webhook:Passed",
      "analysis webhook:Failed",
      "analysis job:Passed",
      "analysis job:Failed",
      "analysis timed out",
      "rolled back by an analysis check",
    ])
      assert.ok((seen.get(key) ?? 0) > 0, `no life reached ${key}`);
  });
});
