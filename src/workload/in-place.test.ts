// The StatefulSet/DaemonSet adapter's reading of the API objects into the engine's observation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type InPlaceSnapshot, InPlaceWorkloads, resolveMaxUnavailable } from "./in-place.ts";

const pod = (name: string, hash: string, ready: boolean, extra: Record<string, unknown> = {}) => ({
  metadata: { name, uid: `uid-${name}`, labels: { "controller-revision-hash": hash }, ...extra },
  spec: { nodeName: "node-a" },
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});

function statefulSet(over: Partial<InPlaceSnapshot> = {}): InPlaceSnapshot {
  return {
    kind: "StatefulSet",
    namespace: "shop",
    name: "db",
    workload: {
      metadata: { name: "db", uid: "u1", generation: 3, resourceVersion: "7" },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "db" } },
        template: { spec: { containers: [{ name: "db", image: "db:2" }] } },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2, maxUnavailable: "50%" } },
      },
      status: { observedGeneration: 3, updateRevision: "db-new", currentRevision: "db-old" },
    },
    pods: [
      pod("db-0", "db-old", true),
      pod("db-1", "db-old", true),
      pod("db-2", "db-new", false, { deletionTimestamp: "2026-01-01T00:00:00Z" }),
    ],
    revisions: [],
    nodeLabels: new Map(),
    ...over,
  };
}

describe("InPlaceWorkloads.observe", () => {
  it("reads a StatefulSet's revisions, partition, pods and ordinals", () => {
    const { canary, inPlace } = InPlaceWorkloads.observe(statefulSet());
    assert.equal(canary.exists, true);
    assert.match(canary.revision ?? "", /^[0-9a-f]{10}$/);
    assert.equal(inPlace?.desired, 3);
    assert.equal(inPlace?.observed, true);
    assert.equal(inPlace?.updateHash, "db-new");
    assert.equal(inPlace?.currentHash, "db-old");
    assert.equal(inPlace?.partition, 2);
    assert.equal(inPlace?.maxUnavailable, 1, "50% of 3, rounded down");
    assert.deepEqual(
      inPlace?.pods.map((p) => [p.name, p.ordinal, p.ready, p.terminating, p.node]),
      [
        ["db-0", 0, true, false, undefined],
        ["db-1", 1, true, false, undefined],
        ["db-2", 2, false, true, undefined],
      ],
    );
  });

  it("does not trust revisions the StatefulSet controller has not caught up with", () => {
    const s = statefulSet();
    s.workload!.metadata.generation = 4;
    assert.equal(InPlaceWorkloads.observe(s).inPlace?.observed, false);
  });

  it("reports a missing workload as a missing canary, with no pods to judge", () => {
    const { canary, inPlace } = InPlaceWorkloads.observe(statefulSet({ workload: undefined }));
    assert.equal(canary.exists, false);
    assert.equal(inPlace, undefined);
  });

  it("claims the workload by kind, name and uid", () => {
    assert.deepEqual(InPlaceWorkloads.claims(statefulSet()), [
      { kind: "StatefulSet", name: "db", uid: "u1" },
    ]);
  });

  it("resolves maxUnavailable like Kubernetes, never below 1", () => {
    assert.equal(resolveMaxUnavailable(undefined, 10), 1);
    assert.equal(resolveMaxUnavailable(3, 10), 3);
    assert.equal(resolveMaxUnavailable("25%", 10), 2);
    assert.equal(resolveMaxUnavailable("1%", 10), 1);
  });
});
