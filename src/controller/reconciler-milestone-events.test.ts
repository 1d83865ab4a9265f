// A decision's milestone Event lost after its status write (the process killed, or frozen past its lease, before the
// Event left) is recorded by the successor from status, once; the e2e chaos test once caught such a loss.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeSpec } from "../rollout/testing/world.ts";
import { milestoneEventName } from "./milestone-events.ts";
import { Reconciler } from "./reconciler.ts";
import { FakeCluster, NAME, NAMESPACE } from "./testing/fake-cluster.ts";

describe("milestone Events across a crash", () => {
  it("a successor records the Event of a milestone its predecessor wrote to status but never sent, once", async () => {
    const c = FakeCluster.create(makeSpec({ skipAnalysis: true }));
    const signal = new AbortController().signal;
    const first = new Reconciler(c.connect());
    for (let i = 0; i < 20 && c.rollout.status?.phase !== "Healthy"; i++) {
      await first.reconcile(NAMESPACE, NAME, signal);
      c.settle();
      c.now += 1000;
    }
    c.pushRevision(2);
    // The leader decides the start and writes it to status, and dies before its Events leave the process.
    const dying = new Reconciler({ ...c.connect(), events: { record: async () => {} } });
    await dying.reconcile(NAMESPACE, NAME, signal);
    const started = c.rollout.status?.milestones?.find((m) => m.reason === "RolloutStarted");
    assert.ok(started, "status records the start");
    const name = milestoneEventName(c.rollout.metadata, started);
    assert.ok(!c.events.some((e) => e.name === name), "its Event was lost");

    const successor = new Reconciler(c.connect());
    c.now += 15_000;
    for (let i = 0; i < 3; i++) {
      await successor.reconcile(NAMESPACE, NAME, signal);
      c.settle();
    }
    const recorded = c.events.filter((e) => e.name === name);
    assert.equal(recorded.length, 1, "recorded once, not again by later reconciles");
    assert.equal(recorded[0]?.type, "Normal");
    assert.equal(recorded[0]?.note, started.message);
    assert.equal(recorded[0]?.at, Date.parse(started.at), "at the time it happened");
    // A third process finds it there (the fake, like the API server, keeps one Event per name).
    await new Reconciler(c.connect()).reconcile(NAMESPACE, NAME, signal);
    assert.equal(c.events.filter((e) => e.name === name).length, 1);
  });
});
