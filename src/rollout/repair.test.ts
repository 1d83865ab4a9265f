// The engine's self-healing rules: lost or drifted objects repaired in every phase, replicas following the user,
// safe traffic when the target, the spec or the primary is gone, and Ready computed from the world.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "./decide.ts";
import {
  actionsOf,
  initialized,
  type ModelWorld,
  makeSpec,
  newWorld,
  observe,
  pushRevision,
  reconcile,
  run,
  settle,
  syncEndpoints,
} from "./testing/world.ts";

const condition = (w: ModelWorld, type: string) => w.status?.conditions?.find((c) => c.type === type);
/** Runs a rollout of rev-2 until the canary holds `weight`. */
function atWeight(w: ModelWorld, weight: number): ModelWorld {
  pushRevision(w, "rev-2");
  run(w, (x) => x.routes?.canary === weight && x.status?.phase === "Progressing");
  return w;
}

describe("self-healing", () => {
  it("a primary deleted while Healthy is recreated from the stable target with the app's replicas", () => {
    const w = initialized();
    w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
    const d = reconcile(w);
    assert.equal(condition(w, "Ready")?.status, "False", "a missing primary is never Ready");
    assert.equal(condition(w, "Ready")?.reason, "PrimaryNotReady");
    const ensure = d.actions.find((a) => a.type === "EnsureWorkloads");
    assert.deepEqual(ensure, { type: "EnsureWorkloads", revision: "rev-1", replicas: 2 });
    assert.equal(w.primary.exists, true);
    assert.equal(w.primary.desired, 2);
    settle(w);
    run(w, (x) => x.status?.conditions?.find((c) => c.type === "Ready")?.status === "True");
    assert.equal(w.status?.phase, "Healthy");
  });

  it("drifted Services are repaired in flight too, without touching the rollout's progress", () => {
    const w = atWeight(initialized(), 10);
    const step = w.status?.currentStepIndex;
    w.servicesReady = false;
    const d = reconcile(w);
    assert.ok(d.actions.some((a) => a.type === "EnsureWorkloads"));
    assert.equal(w.status?.currentStepIndex, step);
    assert.equal(w.status?.phase, "Progressing");
  });

  it("a primary lost mid-rollout: traffic goes to the ready canary, Degraded=PrimaryLost, never recreated from it", () => {
    const w = atWeight(initialized(), 30);
    w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
    const d = reconcile(w);
    assert.deepEqual(w.routes, { primary: 0, canary: 100 });
    assert.equal(w.primary.exists, false, "the unverified template must not become the primary by itself");
    assert.equal(condition(w, "Degraded")?.reason, "PrimaryLost");
    assert.equal(condition(w, "Degraded")?.status, "True");
    assert.ok(!d.actions.some((a) => a.type === "PromotePrimary"));
  });

  it("a person's promote=full after a lost primary makes the canary the new primary", () => {
    const w = atWeight(initialized(), 30);
    w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
    reconcile(w);
    w.requests = { promote: "full" };
    const d = reconcile(w);
    assert.ok(d.actions.some((a) => a.type === "PromotePrimary" && a.revision === "rev-2"));
  });
});

describe("a lost primary is judged the same in whichever phase a decision settles", () => {
  it("lost while finalizing, with the target already moved on: PrimaryLost now, and deciding again agrees", () => {
    // Found by the fixed-point property (seed 461590677): Finalizing → Healthy → Progressing in one decision.
    const w = initialized();
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Finalizing");
    pushRevision(w, "rev-3");
    w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
    settle(w);
    const obs = observe(w);
    const now = new Date(w.now);
    const first = decide({ generation: 1, spec: w.spec, status: w.status }, obs, now);
    const again = decide({ generation: 1, spec: w.spec, status: first.status }, obs, now);
    assert.deepEqual(again.status, first.status);
    assert.equal(first.status.conditions?.find((c) => c.type === "Degraded")?.reason, "PrimaryLost");
  });
});

describe("Ready from the world", () => {
  it("an access policy written on the way to Healthy: Ready=False with a recheck a poll later, then True", () => {
    const w = newWorld(makeSpec({ accessPolicy: { sources: [{ serviceAccount: "frontend" }] } }));
    let d = reconcile(w);
    for (let i = 0; i < 20 && w.status?.phase !== "Healthy"; i++) {
      settle(w);
      syncEndpoints(w);
      w.now += d.requeueAfterMs ?? 1000;
      d = reconcile(w);
    }
    assert.equal(w.status?.phase, "Healthy");
    assert.equal(
      condition(w, "Ready")?.reason,
      "PolicyNotInSync",
      "judged on what was observed before the write",
    );
    assert.ok((d.requeueAfterMs ?? Number.POSITIVE_INFINITY) <= 1000, "and looked at again a poll later");
    w.now += d.requeueAfterMs ?? 0;
    reconcile(w);
    assert.equal(condition(w, "Ready")?.status, "True");
  });
});

describe("replicas follow the user", () => {
  it("a new count in the user's Deployment (Healthy, scaled to 0 by Vireo) goes to the primary", () => {
    const w = initialized();
    assert.equal(w.canary.desired, 0);
    w.canary.desired = 5; // a GitOps sync of replicas: 5
    const d = reconcile(w);
    assert.deepEqual(
      d.actions.find((a) => a.type === "ScalePrimary"),
      { type: "ScalePrimary", replicas: 5 },
    );
    assert.equal(w.status?.replicas, 5);
    assert.ok(
      d.actions.some((a) => a.type === "ScaleCanaryDown"),
      "the user's Deployment goes back to 0",
    );
  });

  it("a hand-scaled primary is scaled back; a canary scaled up by Vireo is not mistaken for a user change", () => {
    const w = initialized();
    w.primary.desired = 1;
    assert.ok(reconcile(w).actions.some((a) => a.type === "ScalePrimary" && a.replicas === 2));
    atWeight(w, 10);
    assert.equal(w.canary.desired, 2);
    assert.equal(actionsOf(w, "ScalePrimary").filter((a) => a.replicas !== 2).length, 0);
  });
});

describe("safe states", () => {
  it("the target deleted at 30 %: all traffic back to primary, Degraded=TargetNotFound, Ready=False", () => {
    const w = atWeight(initialized(), 30);
    w.canary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
    reconcile(w);
    assert.deepEqual(w.routes, { primary: 100, canary: 0 });
    assert.equal(condition(w, "Degraded")?.reason, "TargetNotFound");
    assert.equal(condition(w, "Ready")?.status, "False");
    assert.match(w.status?.message ?? "", /all traffic on primary/);
  });

  it("a spec turning invalid at 30 %: all traffic back to primary; deciding again repeats no Event", () => {
    const w = atWeight(initialized(), 30);
    const obs = {
      ...observe(w),
      specIssues: [{ path: "spec.windows[0].timeZone", message: "unknown time zone" }],
    };
    const input = { generation: 2, spec: undefined, status: w.status };
    const first = decide(input, obs, new Date(w.now));
    assert.ok(first.actions.some((a) => a.type === "SetRoutes" && a.weights.canary === 0));
    assert.equal(first.status.phase, "Invalid");
    assert.ok(first.status.lastValidSpec, "the last valid spec stays in status");
    const again = decide(
      { ...input, status: first.status },
      { ...obs, routes: { primary: 100, canary: 0 } },
      new Date(w.now + 1000),
    );
    assert.deepEqual(again.actions, []);
  });
});
