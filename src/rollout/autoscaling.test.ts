// Tests of the engine rules for a target with an HPA: the primary HPA, no replica fights, the promotion floor.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  actionsOf,
  initialized,
  makeSpec,
  newWorld,
  observe,
  pushRevision,
  reconcile,
  run,
  settle,
} from "./testing/world.ts";

const spec = makeSpec({ skipAnalysis: true, strategy: { canary: { steps: [{ setWeight: 50 }] } } });
const withHpa = () => {
  const w = newWorld(spec);
  w.autoscalers = { user: { min: 2, max: 8, spec: 0 } };
  return initialized(w);
};

describe("a target with an HPA", () => {
  it("gets a primary HPA copied from the user's once the primary exists, and Vireo never scales the primary", () => {
    const w = withHpa();
    assert.deepEqual(w.autoscalers?.primary, { min: 2, max: 8, spec: 0 });
    assert.deepEqual(actionsOf(w, "ScalePrimary"), []);
    assert.equal(
      w.canary.desired,
      0,
      "the canary is scaled down after adoption; its HPA is disabled at zero",
    );
    // The primary HPA scales the primary: the application's count follows it, with no write from Vireo.
    w.primary.desired = 5;
    settle(w);
    const d = reconcile(w);
    assert.equal(d.status.replicas, 5);
    assert.deepEqual(
      d.actions.filter((a) => a.type !== "RecordEvent"),
      [],
    );
  });

  it("keeps the primary HPA in sync when the user's changes, and deletes it when the user's goes", () => {
    const w = withHpa();
    w.autoscalers!.user = { min: 3, max: 4, spec: 1 };
    assert.deepEqual(
      reconcile(w).actions.filter((a) => a.type === "SyncAutoscaler"),
      [{ type: "SyncAutoscaler", minReplicas: 3 }],
    );
    assert.deepEqual(w.autoscalers?.primary, { min: 3, max: 4, spec: 1 });
    delete w.autoscalers!.user;
    assert.deepEqual(
      reconcile(w).actions.map((a) => a.type),
      ["DeleteAutoscaler"],
    );
    assert.equal(observe(w).autoscaler, undefined);
  });

  it("promotes only once the primary HPA scaled the primary for all traffic (primary + canary), then lowers the floor", () => {
    const w = withHpa();
    w.primary.desired = 3;
    settle(w);
    reconcile(w);
    pushRevision(w, "rev-2");
    run(w, (x) => x.canary.desired > 0);
    // The user's HPA scales the canary while it serves its share of the traffic.
    w.canary.desired = 4;
    run(w, (x) => x.status?.phase === "Promoting");
    assert.equal(w.status?.promotionReplicas, 7, "3 primary + 4 canary");
    assert.equal(w.autoscalers?.primary?.min, 7, "the primary HPA's minReplicas is the floor");
    // The primary rolled out the new template but its HPA has not acted yet: still Promoting.
    w.primary.ready = 3;
    assert.equal(reconcile(w).status.phase, "Promoting");
    assert.match(w.status?.message ?? "", /scale to 7 replicas/);
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.primary.desired, 7, "the HPA controller, not Vireo, scaled the primary");
    assert.equal(w.status?.promotionReplicas, undefined);
    assert.equal(w.autoscalers?.primary?.min, 2, "back to the user's minReplicas once Healthy");
    assert.deepEqual(actionsOf(w, "ScalePrimary"), []);
  });

  it("caps the floor at the HPA's maxReplicas", () => {
    const w = withHpa();
    w.autoscalers!.user = { min: 2, max: 5, spec: 0 };
    w.primary.desired = 4;
    settle(w);
    reconcile(w);
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Promoting");
    assert.equal(w.status?.promotionReplicas, 5);
  });

  it("moves the floor inside the user's bounds when they are edited mid-promotion, both ways", () => {
    const w = withHpa();
    w.primary.desired = 3;
    settle(w);
    reconcile(w);
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Promoting");
    assert.equal(w.status?.promotionReplicas, 5, "3 primary + 2 canary");
    // Raised minimum: the primary HPA never goes under what the user now asks for.
    w.autoscalers!.user = { min: 6, max: 8, spec: 1 };
    reconcile(w);
    assert.equal(w.status?.promotionReplicas, 6);
    assert.equal(w.autoscalers?.primary?.min, 6);
    // Lowered maximum: the promotion does not wait for replicas the HPA will never give.
    w.autoscalers!.user = { min: 2, max: 4, spec: 2 };
    reconcile(w);
    assert.equal(w.status?.promotionReplicas, 4);
    assert.equal(w.autoscalers?.primary?.min, 4);
  });
});
