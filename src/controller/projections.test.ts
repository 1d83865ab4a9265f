import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { projectAutoscaler, projectDeployment, projectRollout, projectService } from "./projections.ts";

const BLOB = "x".repeat(250_000);
const meta = (extra: Record<string, string> = {}) => ({
  name: "web",
  namespace: "shop",
  uid: "u",
  generation: 3,
  resourceVersion: "7",
  labels: { app: "web", "vireo.dev/rollout": "web" },
  annotations: { "example.com/blob": BLOB, ...extra },
  ownerReferences: [
    { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "web", uid: "r", controller: true },
  ],
  managedFields: [{ manager: "kubectl" }],
});

describe("cache projections", () => {
  it("keep what the readers use and drop foreign annotations, managedFields and status noise", () => {
    const d = projectDeployment({
      metadata: meta({ "vireo.dev/revision": "abc" }),
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } } },
      },
      status: {
        observedGeneration: 3,
        replicas: 2,
        readyReplicas: 2,
        updatedReplicas: 2,
        availableReplicas: 2,
        conditions: [
          { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "ok" },
          { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: "fine" },
          {
            type: "ReplicaFailure",
            status: "True",
            reason: "FailedCreate",
            message: `exceeded quota ${"x".repeat(5000)}`,
          },
        ],
      },
    } as never);
    assert.deepEqual(d.metadata.annotations, { "vireo.dev/revision": "abc" });
    assert.equal((d.metadata as { managedFields?: unknown }).managedFields, undefined);
    assert.deepEqual(d.metadata.labels, { app: "web", "vireo.dev/rollout": "web" });
    assert.equal(d.metadata.ownerReferences?.length, 1);
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.status, {
      observedGeneration: 3,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      // Only what a waiting deletion names (why the target cannot serve), its message bounded.
      conditions: [
        {
          type: "ReplicaFailure",
          status: "True",
          reason: "FailedCreate",
          message: `exceeded quota ${"x".repeat(1024 - 15)}`,
        },
      ],
    });

    const svc = projectService({
      metadata: meta({ "vireo.dev/original-selector": "{}" }),
      spec: { selector: { app: "web" }, ports: [{ port: 80 }], type: "ClusterIP", externalIPs: ["1.2.3.4"] },
    } as never);
    assert.deepEqual(svc.metadata.annotations, { "vireo.dev/original-selector": "{}" });
    assert.deepEqual(svc.spec, { selector: { app: "web" }, ports: [{ port: 80 }], type: "ClusterIP" });

    const hpa = projectAutoscaler({
      metadata: meta(),
      spec: { scaleTargetRef: { kind: "Deployment", name: "web" }, maxReplicas: 5 },
      status: { currentReplicas: 2 },
    } as never);
    assert.equal(hpa.metadata.annotations, undefined);
    assert.equal((hpa as { status?: unknown }).status, undefined);
    assert.equal(hpa.spec.maxReplicas, 5);

    const r = projectRollout({
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: meta({ "vireo.dev/promote": "full" }),
      spec: {},
      status: { phase: "Healthy" },
    } as never);
    assert.deepEqual(r.metadata.annotations, { "vireo.dev/promote": "full" });
    assert.equal(r.status?.phase, "Healthy");
    assert.ok(
      JSON.stringify([d, svc, hpa, r]).length < 5000,
      "the 250 kB annotation is gone from every kind",
    );
  });
});
