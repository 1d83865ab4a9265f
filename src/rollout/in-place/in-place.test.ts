// Example lives of StatefulSet and DaemonSet targets through the engine and a model of their controllers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  controllerSync,
  type InPlaceWorld,
  makeInPlaceSpec,
  newInPlaceWorld,
  podRevisions,
  pushTemplate,
  reconcileInPlace,
  runInPlace,
} from "../testing/in-place-world.ts";
import { measurements } from "../testing/world.ts";
import type { Action } from "../types.ts";

const initialized = (w: InPlaceWorld) => {
  runInPlace(w, (x) => x.status?.phase === "Healthy" && x.observed);
  runInPlace(w, (x) => x.status?.message?.includes("on every pod") === true && x.observed);
  return w;
};
const actions = <T extends Action["type"]>(w: InPlaceWorld, type: T) =>
  w.log.flatMap((l) => l.decision.actions.filter((a): a is Extract<Action, { type: T }> => a.type === type));
const events = (w: InPlaceWorld, reason: string) =>
  w.log.flatMap((l) =>
    l.decision.actions.flatMap((a) => (a.type === "RecordEvent" && a.reason === reason ? [a.message] : [])),
  );
const updated = (w: InPlaceWorld, rev: string) =>
  Object.entries(podRevisions(w))
    .filter(([, r]) => r === rev)
    .map(([n]) => n)
    .sort();

describe("StatefulSet targets", () => {
  it("take over a workload at one revision and hold its partition at its size", () => {
    const w = initialized(newInPlaceWorld("StatefulSet"));
    assert.equal(w.status?.stableRevision, "rev-1");
    assert.equal(w.status?.workload?.stableHash, "h-rev-1");
    assert.equal(w.strategy, "RollingUpdate");
    assert.equal(w.partition, 4);
    assert.equal(w.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
  });

  it("wait for an update Kubernetes was making to finish before taking over", () => {
    const w = newInPlaceWorld("StatefulSet");
    pushTemplate(w, "rev-0");
    reconcileInPlace(w);
    assert.equal(w.status?.phase ?? "Initializing", "Initializing");
    assert.match(w.status?.message ?? "", /waiting for StatefulSet web to run one revision on every pod/);
    runInPlace(w, (x) => x.status?.phase === "Healthy");
    assert.equal(w.status?.stableRevision, "rev-0");
    assert.deepEqual(updated(w, "rev-0").length, 4);
  });

  it("promote through partitions, highest ordinals first, replacing no pod by deletion", () => {
    const w = initialized(newInPlaceWorld("StatefulSet"));
    pushTemplate(w, "rev-2");
    runInPlace(
      w,
      (x) => x.status?.stepStartedAt !== undefined && x.status.currentStepIndex === 0 && x.partition === 3,
    );
    runInPlace(w, (x) => x.status?.currentStepIndex === 1 && updated(x, "rev-2").length === 1);
    assert.deepEqual(updated(w, "rev-2"), ["web-3"]);
    runInPlace(w, (x) => x.status?.currentStepIndex === 2);
    assert.deepEqual(updated(w, "rev-2"), ["web-2", "web-3"]);
    assert.equal(w.partition, 2);
    runInPlace(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    assert.deepEqual(updated(w, "rev-2").length, 4);
    assert.deepEqual(w.deleted, [], "the partition moves pods forward, Vireo deletes none");
    runInPlace(w, () => true);
    assert.equal(w.partition, 4, "held again at its size");
    assert.equal(w.status?.workload?.stableHash, "h-rev-2");
  });

  it("roll back on failed analysis: the stable template goes back, and exactly the updated ordinals are replaced", () => {
    const w = initialized(newInPlaceWorld("StatefulSet"));
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 1 && updated(x, "rev-2").length === 2);
    const uids = () => Object.fromEntries(w.pods.map((p) => [p.name, p.uid]));
    const before = uids();
    w.nextAnalysis = (s) => measurements(s, "fail");
    runInPlace(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.status?.workload?.restoring, "rev-2");
    runInPlace(
      w,
      (x) => x.template === "rev-1" && updated(x, "rev-1").length === 4 && x.pods.every((p) => p.ready),
    );
    runInPlace(w, () => true);
    assert.deepEqual(w.deleted, [], "the StatefulSet's own rolling update takes them back");
    const after = uids();
    assert.equal(after["web-0"], before["web-0"], "web-0 never left the stable revision: untouched");
    assert.equal(after["web-1"], before["web-1"]);
    assert.notEqual(after["web-2"], before["web-2"]);
    assert.notEqual(after["web-3"], before["web-3"]);
    assert.equal(w.status?.phase, "RolledBack", "the phase says what happened until a new revision");
    assert.equal(w.status?.workload?.restoring, undefined);
    assert.equal(w.partition, 4);
    assert.match(w.status?.message ?? "", /analysis failed/);
    const degraded = w.status?.conditions?.find((c) => c.type === "Degraded");
    assert.equal(degraded?.status, "True");
  });

  it("a partition lowered by hand mid-rollout is set back, reported, and the pods it updated are sent back", () => {
    const w = initialized(newInPlaceWorld("StatefulSet"));
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 0 && updated(x, "rev-2").length === 1);
    // A person sets partition 0: Kubernetes starts replacing web-2 at once.
    w.partition = 0;
    w.observed = false;
    controllerSync(w);
    controllerSync(w);
    assert.ok(updated(w, "rev-2").includes("web-2"));
    runInPlace(
      w,
      (x) => x.partition === 3 && updated(x, "rev-2").length === 1 && x.pods.every((p) => p.ready),
    );
    assert.deepEqual(updated(w, "rev-2"), ["web-3"]);
    assert.ok(
      events(w, "Repaired").some((m) => /partition 0 while Vireo holds it; set back to partition 3/.test(m)),
    );
    assert.ok(events(w, "Repaired").some((m) => /web-2 ran another revision below partition 3/.test(m)));
  });

  it("a crash after the status write carries the step out on restart, once", () => {
    const w = initialized(newInPlaceWorld("StatefulSet"));
    pushTemplate(w, "rev-2");
    controllerSync(w);
    const d = reconcileInPlace(w, { crashBeforeActions: true });
    assert.ok(d.actions.some((a) => a.type === "HoldUpdates"));
    assert.equal(w.partition, 4, "nothing carried out");
    runInPlace(w, (x) => x.partition === 3);
    runInPlace(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    assert.deepEqual(w.deleted, []);
  });
});

describe("DaemonSet targets", () => {
  const dsSpec = (steps: unknown[], extra: Record<string, unknown> = {}) =>
    makeInPlaceSpec("DaemonSet", { strategy: { canary: { steps: steps as never, ...extra } } });

  it("hold OnDelete and roll out node batch by node batch, each pod replaced once", () => {
    const w = initialized(newInPlaceWorld("DaemonSet"));
    assert.equal(w.strategy, "OnDelete");
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 1);
    assert.deepEqual(updated(w, "rev-2"), ["web-node-0"]);
    runInPlace(w, (x) => x.status?.currentStepIndex === 2);
    assert.deepEqual(updated(w, "rev-2"), ["web-node-0", "web-node-1"]);
    runInPlace(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    assert.equal(updated(w, "rev-2").length, 4);
    assert.deepEqual([...w.deleted].sort(), ["web-node-0", "web-node-1", "web-node-2", "web-node-3"]);
    assert.equal(w.strategy, "OnDelete");
  });

  it("never take more pods down at once than the DaemonSet's maxUnavailable", () => {
    const w = initialized(newInPlaceWorld("DaemonSet", dsSpec([{ setUpdated: { percent: 100 } }]), 6));
    w.maxUnavailable = 2;
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    for (const a of actions(w, "DeletePods")) assert.ok(a.pods.length <= 2, `${a.pods.length} at once`);
    assert.equal(w.deleted.length, 6);
  });

  it("order nodes by a zone label and name whole zones with nodeSelector", () => {
    const spec = dsSpec([{ setUpdated: { nodeSelector: { zone: "b" } } }, { setUpdated: { replicas: 3 } }], {
      nodeOrder: { label: "zone", values: ["b", "a"] },
    });
    const w = initialized(newInPlaceWorld("DaemonSet", spec));
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 1);
    assert.deepEqual(updated(w, "rev-2"), ["web-node-1", "web-node-3"], "zone b first");
    runInPlace(w, (x) => x.status?.phase === "Promoting");
    assert.deepEqual(updated(w, "rev-2"), ["web-node-0", "web-node-1", "web-node-3"]);
  });

  it("roll back: the template is restored and the updated pods replaced", () => {
    const w = initialized(newInPlaceWorld("DaemonSet"));
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 1 && updated(x, "rev-2").length === 2);
    w.requests.abort = "now";
    runInPlace(w, (x) => x.status?.phase === "Aborted");
    runInPlace(w, (x) => updated(x, "rev-1").length === 4 && x.pods.every((p) => p.ready));
    assert.equal(w.template, "rev-1");
    const replaced = w.deleted.slice(2);
    assert.deepEqual(replaced.sort(), ["web-node-0", "web-node-1"], "the two updated pods, once each");
  });

  it("a strategy set back to RollingUpdate by hand is held again and reported", () => {
    const w = initialized(newInPlaceWorld("DaemonSet"));
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 1);
    w.strategy = "RollingUpdate";
    runInPlace(w, (x) => x.strategy === "OnDelete");
    assert.ok(
      events(w, "Repaired").some((m) =>
        /changed to RollingUpdate while Vireo holds it; set back to OnDelete/.test(m),
      ),
    );
  });

  it("a new revision mid-rollout replaces the pods of the old canary too: no node keeps a revision status does not know", () => {
    const w = initialized(newInPlaceWorld("DaemonSet"));
    pushTemplate(w, "rev-2");
    runInPlace(w, (x) => x.status?.currentStepIndex === 1 && updated(x, "rev-2").length === 1);
    pushTemplate(w, "rev-3");
    runInPlace(
      w,
      (x) =>
        x.status?.canaryRevision === "rev-3" &&
        updated(x, "rev-2").length === 0 &&
        x.pods.every((p) => p.ready),
    );
    // The first node (the step's) and any node whose rev-2 pod was already being replaced run rev-3.
    assert.ok(updated(w, "rev-3").includes("web-node-0"));
    assert.equal(updated(w, "rev-3").length + updated(w, "rev-1").length, 4);
    assert.ok(w.log.at(-1)!.decision.actions.every((a) => a.type !== "DeletePods"));
  });
});
