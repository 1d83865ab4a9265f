// The ownership rules told through the engine and the world model: refusal, claims, and a rename's hand-back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { REASONS } from "../api/constants.ts";
import { actionsOf, initialized, newWorld, reconcile, rename, run } from "./testing/world.ts";

const CONFLICT = {
  reason: REASONS.OwnershipConflict,
  message: "Deployment shop/podinfo-primary (spec.targetRef) was created by Vireo for Rollout podinfo",
};

describe("ownership rules", () => {
  it("refuses what another Rollout holds: Invalid, Degraded OwnershipConflict, one Event, no write; resumes once it clears", () => {
    const w = newWorld();
    w.refusals = [CONFLICT];
    for (let i = 0; i < 3; i++) reconcile(w);
    assert.equal(w.status?.phase, "Invalid");
    const degraded = w.status?.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.status, "True");
    assert.equal(degraded?.reason, "OwnershipConflict");
    assert.match(
      w.status?.message ?? "",
      /^refused, all traffic on primary: Deployment shop\/podinfo-primary/,
    );
    assert.equal(actionsOf(w, "RecordEvent").length, 1, "the refusal is announced once");
    assert.deepEqual(
      w.log.flatMap((l) => l.decision.actions.filter((a) => a.type !== "RecordEvent")),
      [],
      "nothing is claimed, created or routed",
    );
    assert.equal(w.status?.lastValidSpec, undefined, "a refused spec is not one Vireo acted on");
    assert.ok((w.log.at(-1)?.decision.requeueAfterMs ?? 0) > 0, "it looks again for the conflict to clear");
    w.refusals = [];
    run(w, (x) => x.status?.phase === "Healthy");
    assert.deepEqual(
      w.status?.claims?.map((c) => `${c.kind}/${c.name}`),
      ["Deployment/podinfo", "Service/podinfo"],
    );
  });

  it("claims the target and root Service before creating anything, and records them", () => {
    const w = newWorld();
    const first = reconcile(w);
    assert.deepEqual(
      first.actions.filter((a) => a.type !== "RecordEvent").map((a) => a.type),
      ["ClaimObjects", "EnsureWorkloads"],
    );
    assert.deepEqual(
      first.status.claims?.map((c) => `${c.kind}/${c.name}`),
      ["Deployment/podinfo", "Service/podinfo"],
    );
    // A claim label removed by hand is put back, without anything else.
    initialized(w);
    w.labelled = false;
    assert.deepEqual(
      reconcile(w).actions.map((a) => a.type),
      ["ClaimObjects"],
    );
  });

  it("a renamed target hands the old objects back first, then takes over the new ones from Initializing", () => {
    const w = initialized();
    rename(w, "checkout", 2);
    const start = reconcile(w);
    assert.equal(start.status.phase, "Initializing");
    assert.equal(start.status.stableRevision, undefined);
    assert.deepEqual(
      start.actions.map((a) => (a.type === "RecordEvent" ? a.reason : a.type)),
      ["HandBack", REASONS.HandingBack],
    );
    assert.match(
      start.status.message ?? "",
      /handing back Deployment podinfo and Service podinfo before taking over Deployment checkout and Service checkout/,
    );
    reconcile(w);
    const taken = reconcile(w);
    assert.deepEqual(
      taken.actions.map((a) => (a.type === "RecordEvent" ? a.reason : a.type)),
      ["ClaimObjects", "EnsureWorkloads", REASONS.HandedBack],
    );
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.stableRevision, "checkout-rev-1");
    assert.deepEqual(
      w.status?.claims?.map((c) => c.name),
      ["checkout", "checkout"],
    );
  });
});
