// Life stories of a canary, told through the pure engine and the in-memory world model.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "./decide.ts";
import {
  actionsOf,
  initialized,
  type ModelWorld,
  makeSpec,
  measurements,
  NO_CLAIMS,
  newWorld,
  observe,
  pushRevision,
  reconcile,
  run,
  settle,
} from "./testing/world.ts";

const reasons = (w: ModelWorld) => actionsOf(w, "RecordEvent").map((e) => e.reason);
const condition = (w: ModelWorld, type: string) => w.status?.conditions?.find((c) => c.type === type);

describe("adoption", () => {
  it("creates primary, routes to it once ready, and only then scales the original down", () => {
    const w = newWorld();
    run(w, (x) => x.status?.phase === "Healthy");
    const order = w.log.flatMap((l) => l.decision.actions.map((a) => a.type));
    assert.ok(order.indexOf("EnsureWorkloads") < order.indexOf("SetRoutes"));
    assert.ok(order.indexOf("SetRoutes") < order.indexOf("ScaleCanaryDown"));
    const routeStep = w.log.find((l) => l.decision.actions.some((a) => a.type === "SetRoutes"))!;
    assert.ok(routeStep.observations.primary.readyReplicas > 0, "routes only after primary has ready pods");
    assert.equal(w.status?.stableRevision, "rev-1");
    assert.deepEqual(w.routes, { primary: 100, canary: 0 });
    assert.equal(w.canary.desired, 0);
    assert.equal(condition(w, "Ready")?.status, "True");
  });
});

describe("happy path", () => {
  it("walks 10 → 30 → 50 with a passing analysis at each step, then promotes", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    const weightsSeen: number[] = [];
    run(w, (x) => {
      if (x.routes && weightsSeen.at(-1) !== x.routes.canary) weightsSeen.push(x.routes.canary);
      return x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2";
    });
    assert.deepEqual(weightsSeen, [0, 10, 30, 50, 0]);
    assert.equal(w.primary.revision, "rev-2");
    assert.equal(w.canary.desired, 0);
    assert.equal(w.status?.promotedBy, "Analysis");
    assert.ok(reasons(w).includes("Promoted"));
    const notified = actionsOf(w, "Notify").map((n) => n.event);
    assert.deepEqual([...new Set(notified)], ["Started", "StepAdvanced", "Promoted"]);
    // Each step lasted one analysis interval (10 s) at least.
    const history = w.status?.analysis?.history ?? [];
    assert.deepEqual(history.map((h) => h.weight).slice(-3), [10, 30, 50]);
  });

  it("announces a step earned by analysis with an Event, a step the schedule alone moves only to subscribers", () => {
    const judged = initialized();
    pushRevision(judged, "rev-2");
    run(judged, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    const steps = (w: ModelWorld) => reasons(w).filter((r) => r === "StepAdvanced").length;
    assert.equal(steps(judged), 2, "30 % and 50 %, each after its analysis passed");
    const timed = initialized(newWorld(makeSpec({ skipAnalysis: true })));
    pushRevision(timed, "rev-2");
    run(timed, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    assert.equal(timed.status?.promotedBy, "Steps");
    assert.equal(steps(timed), 0, reasons(timed).join());
    assert.deepEqual(
      actionsOf(timed, "Notify")
        .filter((n) => n.event === "StepAdvanced")
        .map((n) => n.message),
      ["step 2/3: canary weight 30%", "step 3/3: canary weight 50%"],
    );
  });

  it("one tick passes one step, even stamped later than the decision reading it (another node's clock)", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    w.analysisLateMs = 300;
    run(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    const passes = (w.status?.analysis?.history ?? [])
      .filter((h) => h.verdict === "Pass")
      .map((h) => h.weight);
    assert.deepEqual(
      [...new Set(passes)].slice(-3),
      [10, 30, 50],
      "a passing tick at every step's own weight",
    );
  });

  it("never sends traffic to the canary before it is ready", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    w.canary.broken = true;
    for (let i = 0; i < 20; i++) {
      reconcile(w);
      settle(w);
      w.now += 5000;
    }
    assert.equal(w.routes?.canary, 0);
    assert.equal(w.status?.phase, "Progressing");
    assert.equal(w.status?.message?.includes("waiting for the canary"), true);
  });
});

describe("failing analysis", () => {
  it("rolls back at step 3 after failureLimit failed checks, then scales the canary down", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 50);
    w.nextAnalysis = (spec) => measurements(spec, "fail");
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.status?.analysis?.failedChecks, 2);
    run(w, (x) => x.routes?.canary === 0 && x.canary.desired === 0);
    assert.equal(condition(w, "Degraded")?.reason, "AnalysisFailed");
    assert.equal(w.primary.revision, "rev-1", "primary never took the bad revision");
    const failed = actionsOf(w, "Notify").filter((n) => n.event === "RolledBack");
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.failing?.metric, "success");
    // One Event per decision: the first failed check, then the rollback that names the second one.
    assert.deepEqual(
      actionsOf(w, "RecordEvent")
        .filter((e) => e.reason === "AnalysisFailed")
        .map((e) => e.message.replace(/: success.*/, "")),
      ["analysis failed (1/2)", "rolled back: analysis failed (2/2)"],
    );
    // Later reconciles stay put and keep the reason.
    const before = structuredClone(w.status);
    w.now += 60_000;
    const again = reconcile(w);
    assert.deepEqual(again.actions, []);
    assert.deepEqual(w.status, before);
  });

  it("keeps ticking at the interval through a timed pause: a canary turning bad there rolls back long before it ends", () => {
    const w = initialized(
      newWorld(
        makeSpec({ strategy: { canary: { steps: [{ setWeight: 20 }, { pause: { duration: "5m" } }] } } }),
      ),
    );
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.message?.includes("pausing for 5m") === true);
    const pauseStarted = w.now;
    w.nextAnalysis = (spec) => measurements(spec, "fail");
    run(w, (x) => x.status?.phase === "RolledBack");
    // failureLimit 2 at a 10 s interval: two ticks, not the 5 minutes of the pause.
    assert.ok(
      w.now - pauseStarted <= 30_000,
      `rolled back ${(w.now - pauseStarted) / 1000} s into the pause`,
    );
  });

  it("rolls back after consecutiveErrorLimit errors in a row", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    w.nextAnalysis = (spec) => measurements(spec, "error");
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(condition(w, "Degraded")?.reason, "AnalysisErrors");
    assert.equal(w.status?.analysis?.consecutiveErrors, 4);
    const errors = actionsOf(w, "RecordEvent").filter((e) => e.reason === "AnalysisErrors");
    assert.equal(
      errors.length,
      4,
      "three errors, then one rollback Event, not a fourth error Event beside it",
    );
    assert.match(errors.at(-1)?.message ?? "", /^rolled back: .*\(4\/4 in a row\)/);
  });

  it("holds on no data and pauses for a person after inconclusiveLimit; never promotes on silence", () => {
    const w = initialized(
      newWorld(
        makeSpec({
          analysis: { interval: "10s", inconclusiveLimit: 3, metrics: makeSpec().analysis.metrics },
        }),
      ),
    );
    pushRevision(w, "rev-2");
    w.nextAnalysis = (spec) => measurements(spec, "nodata");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(w.status?.pauseReason, "Inconclusive");
    assert.equal(w.routes?.canary, 10, "held at the first step");
    assert.notEqual(w.primary.revision, "rev-2");
    // The tick that pauses is counted once, although the rules run again for the Paused phase.
    assert.equal(w.status?.analysis?.inconclusiveCount, 3);
    const ticks = w.status?.analysis?.history ?? [];
    assert.equal(ticks.length, 3);
    assert.equal(new Set(ticks.map((m) => m.at)).size, 3, "one history entry per tick");
  });
});

describe("people", () => {
  it("pause then resume", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 10);
    w.requests.pause = "1";
    reconcile(w);
    assert.equal(w.status?.phase, "Paused");
    const weight = w.routes?.canary;
    for (let i = 0; i < 10; i++) {
      w.now += 10_000;
      reconcile(w);
    }
    assert.equal(w.routes?.canary, weight, "no progress while paused");
    w.requests.resume = "1";
    run(w, (x) => x.status?.stableRevision === "rev-2" && x.status.phase === "Healthy");
  });

  it("promote on a pause step advances; the same value never fires twice", () => {
    const w = initialized(
      newWorld(
        makeSpec({ strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 40 }] } } }),
      ),
    );
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(w.status?.pauseReason, "PauseStep");
    w.requests.promote = "a";
    reconcile(w);
    assert.equal(w.status?.currentStepIndex, 2);
    assert.equal(w.status?.handledRequests?.promote, "a");
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.stableRevision, "rev-2");
    // A later rollout is not promoted by the stale value.
    pushRevision(w, "rev-3");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(w.status?.currentStepIndex, 1);
  });

  it("promote on the last step starts the promotion with one Event, not a step Event beside it", () => {
    const w = initialized(
      newWorld(makeSpec({ strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } })),
    );
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Paused");
    w.requests.promote = "a";
    const d = reconcile(w);
    assert.equal(w.status?.phase, "Promoting");
    assert.deepEqual(
      d.actions.flatMap((a) => (a.type === "RecordEvent" ? [`${a.reason}: ${a.message}`] : [])),
      ["PromotedByUser: all 2 steps passed; promoting rev-2"],
    );
  });

  it("promote=full skips the remaining steps", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 10);
    w.requests.promote = "full";
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.promotedBy, "User");
    assert.equal(w.primary.revision, "rev-2");
  });

  it("full-<token> is a full promotion with a fresh value, so a second one is a new request", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 10);
    w.requests.promote = "full-a";
    run(w, (x) => x.status?.phase === "Healthy");
    pushRevision(w, "rev-3");
    run(w, (x) => x.routes?.canary === 10);
    w.requests.promote = "full-b";
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.promotedBy, "User");
    assert.equal(w.primary.revision, "rev-3");
  });

  it("abort during a pause sends all traffic back and scales the canary down", () => {
    const w = initialized(
      newWorld(makeSpec({ strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } })),
    );
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Paused");
    w.requests.abort = "now";
    run(w, (x) => x.status?.phase === "Aborted" && x.routes?.canary === 0 && x.canary.desired === 0);
    assert.equal(condition(w, "Degraded")?.reason, "Aborted");
    w.requests.retry = "1";
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(w.status?.pauseReason, "PauseStep");
  });

  it("requests with nothing to do are visible and harmless", () => {
    const w = initialized();
    const before = structuredClone(w.routes);
    w.requests.abort = "x";
    w.requests.promote = "y";
    const d = reconcile(w);
    const ignored = d.actions.filter((a) => a.type === "RecordEvent" && a.reason === "RequestIgnored");
    assert.equal(ignored.length, 2);
    assert.deepEqual(w.routes, before);
    assert.equal(w.status?.phase, "Healthy");
    assert.deepEqual(reconcile(w).actions, [], "a handled request never fires again");
  });
});

describe("revisions", () => {
  it("a new revision mid-rollout goes back to primary first and restarts from step 1", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 30);
    pushRevision(w, "rev-3");
    const d = reconcile(w);
    assert.deepEqual(
      d.actions.find((a) => a.type === "SetRoutes"),
      { type: "SetRoutes", weights: { primary: 100, canary: 0 } },
    );
    assert.equal(w.status?.canaryRevision, "rev-3");
    assert.equal(w.status?.currentStepIndex, 0);
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.stableRevision, "rev-3");
  });

  it("reverting the target to the stable revision cancels the rollout", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 10);
    pushRevision(w, "rev-1");
    run(w, (x) => x.status?.phase === "Healthy" && x.routes?.canary === 0 && x.canary.desired === 0);
    assert.equal(w.status?.stableRevision, "rev-1");
  });
});

describe("deadlines and windows", () => {
  it("rolls back when the canary never becomes ready within progressDeadlineSeconds", () => {
    const w = initialized(newWorld(makeSpec({ progressDeadlineSeconds: 60 })));
    pushRevision(w, "rev-2", true);
    const started = w.now;
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.ok(
      w.now - started >= 60_000 && w.now - started < 70_000,
      `rolled back after ${w.now - started} ms`,
    );
    assert.equal(condition(w, "Degraded")?.reason, "ProgressDeadlineExceeded");
  });

  it("a window closing mid-rollout holds the weight; reopening resumes", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 10);
    w.window = { open: false, message: "deny window active", nextTransitionAt: new Date(w.now + 60_000) };
    for (let i = 0; i < 5; i++) {
      reconcile(w);
      w.now += 10_000;
    }
    assert.equal(w.routes?.canary, 10);
    w.window = { open: true, message: "no window active" };
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.stableRevision, "rev-2");
  });

  it("a window closing mid-rollout never gates a rollback", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 30);
    w.window = { open: false, message: "deny window active", nextTransitionAt: new Date(w.now + 3_600_000) };
    for (let i = 0; i < 10; i++) {
      reconcile(w);
      w.now += 10_000;
    }
    assert.equal(w.status?.phase, "Paused");
    assert.equal(w.status?.pauseReason, "WindowClosed");
    assert.equal(w.routes?.canary, 30);
    assert.equal(condition(w, "Progressing")?.reason, "WindowClosed");
    // Rollback is never gated by a window.
    w.nextAnalysis = (spec) => measurements(spec, "fail");
    run(w, (x) => x.status?.phase === "RolledBack" && x.routes?.canary === 0);
  });

  it("a closed window keeps a new revision from starting and wakes at the window edge", () => {
    const w = initialized();
    const edge = new Date(w.now + 600_000);
    w.window = { open: false, message: "outside every allow window", nextTransitionAt: edge };
    pushRevision(w, "rev-2");
    const d = reconcile(w);
    assert.equal(w.status?.phase, "Healthy");
    assert.equal(d.requeueAfterMs, 600_000);
    assert.equal(condition(w, "Progressing")?.reason, "WindowClosed");
  });
});

describe("invalid spec and missing target", () => {
  it("an invalid spec changes no traffic and names the field", () => {
    const w = initialized();
    const d = decide(
      { generation: 2, spec: undefined, status: w.status },
      {
        ...reconcileObservations(w),
        specIssues: [{ path: "spec.strategy.canary.steps[0].setWeight", message: "Too big" }],
      },
      new Date(w.now),
    );
    assert.equal(d.status.phase, "Invalid");
    assert.ok(d.actions.every((a) => a.type === "RecordEvent"));
    assert.match(
      d.status.conditions?.find((c) => c.type === "Degraded")?.message ?? "",
      /steps\[0\]\.setWeight/,
    );
    assert.equal(d.status.conditions?.find((c) => c.type === "Degraded")?.observedGeneration, 2);
  });

  it("a promotion an invalid spec interrupted is finished, not rolled out again, once the spec is valid", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Promoting" && x.primary.revision === "rev-2");
    // The primary took rev-2's template; before the promotion is recorded as done, the spec turns invalid.
    const invalid = decide(
      { generation: 2, spec: undefined, status: w.status },
      { ...observe(w), specIssues: [{ path: "spec.analysis.interval", message: "not a duration" }] },
      new Date(w.now),
    );
    w.status = invalid.status;
    assert.equal(w.status.phase, "Invalid");
    const startedBefore = reasons(w).filter((r) => r === "RolloutStarted").length;
    w.generation = 3;
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.stableRevision, "rev-2", "status names the revision the primary runs");
    assert.equal(reasons(w).filter((r) => r === "RolloutStarted").length, startedBefore, "no second rollout");
    assert.ok(reasons(w).includes("Promoted"));
  });

  it("a missing target leaves traffic alone", () => {
    const w = initialized();
    w.canary.exists = false;
    const d = reconcile(w);
    assert.ok(d.actions.every((a) => a.type === "RecordEvent"));
    assert.equal(condition(w, "Degraded")?.reason, "TargetNotFound");
  });
});

function reconcileObservations(w: ModelWorld) {
  return {
    specIssues: [],
    canary: {
      exists: true,
      revision: w.canary.revision,
      desiredReplicas: w.canary.desired,
      readyReplicas: w.canary.ready,
      rolledOut: true,
    },
    primary: {
      exists: true,
      revision: w.primary.revision,
      desiredReplicas: w.primary.desired,
      readyReplicas: w.primary.ready,
      rolledOut: true,
    },
    servicesReady: true,
    routes: w.routes,
    accessPolicyInSync: true,
    requests: {},
    window: w.window,
    refusals: [],
    ownership: NO_CLAIMS,
  };
}
