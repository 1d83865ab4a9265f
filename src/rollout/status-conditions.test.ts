// kstatus conditions from the engine: Ready = not Reconciling and not Stalled, and the revision status is about.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import { decide } from "./decide.ts";
import { initialized, makeSpec, newWorld, observe, pushRevision, reconcile, run } from "./testing/world.ts";

const cond = (s: RolloutStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);
/** Ready, Reconciling, Stalled as True/False. */
const kstatus = (s: RolloutStatus | undefined) =>
  ["Ready", "Reconciling", "Stalled"].map((t) => `${t}=${cond(s, t)?.status}`).join(" ");

describe("kstatus conditions", () => {
  it("Initializing is Reconciling; Healthy on the current revision is Ready", () => {
    const w = newWorld();
    reconcile(w);
    assert.equal(kstatus(w.status), "Ready=False Reconciling=True Stalled=False");
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(kstatus(w.status), "Ready=True Reconciling=False Stalled=False");
    assert.equal(w.status?.currentRevision, "rev-1");
    assert.equal(cond(w.status, "Ready")?.observedGeneration, 1);
  });

  it("a rollout in flight, paused or promoting is Reconciling and not Ready, whatever the traffic looks like", () => {
    const spec = makeSpec({
      strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
      skipAnalysis: true,
    });
    const w = initialized(newWorld(spec));
    pushRevision(w, "rev-2");
    reconcile(w);
    assert.equal(w.status?.currentRevision, "rev-2", "the status is about the new revision at once");
    assert.equal(kstatus(w.status), "Ready=False Reconciling=True Stalled=False");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(kstatus(w.status), "Ready=False Reconciling=True Stalled=False");
    assert.equal(cond(w.status, "Reconciling")?.reason, "PauseStep");
    w.requests.promote = "go";
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(kstatus(w.status), "Ready=True Reconciling=False Stalled=False");
    assert.equal(w.status?.stableRevision, w.status?.currentRevision);
  });

  it("a rolled-back revision is Stalled, not Ready, and says which revision failed", () => {
    const w = initialized();
    pushRevision(w, "rev-2");
    w.nextAnalysis = () => [{ metric: "success", value: 50, primaryValue: 99 }];
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(kstatus(w.status), "Ready=False Reconciling=False Stalled=True");
    assert.equal(cond(w.status, "Stalled")?.reason, "AnalysisFailed");
    assert.equal(w.status?.currentRevision, "rev-2");
    assert.notEqual(w.status?.stableRevision, w.status?.currentRevision);
  });

  it("a revision held back by a closed window is Reconciling, not Ready", () => {
    const w = initialized();
    w.window = { open: false, message: "deny window", nextTransitionAt: new Date(w.now + 60_000) };
    pushRevision(w, "rev-2");
    reconcile(w);
    assert.equal(w.status?.phase, "Healthy");
    assert.equal(kstatus(w.status), "Ready=False Reconciling=True Stalled=False");
  });

  it("records the target's generation, so CI can match the decision to its own apply", () => {
    const w = initialized();
    const obs = observe(w);
    obs.canary.generation = 7;
    const d = decide({ generation: 3, spec: w.spec, status: w.status }, obs, new Date(w.now));
    assert.equal(d.status.observedTargetGeneration, 7);
    assert.ok(d.status.conditions?.every((c) => c.observedGeneration === 3));
  });
});
