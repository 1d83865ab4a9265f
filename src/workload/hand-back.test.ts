// What the hand-back of a deleted Rollout's workload waits for, in words: ready pods of the stable template, and the
// Deployment's own account of what stops it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { servingGap } from "./hand-back.ts";

describe("servingGap", () => {
  it("counts the stable template's ready pods and quotes what the Deployment says stops it", () => {
    const d = {
      metadata: { name: "podinfo", generation: 4 },
      spec: { replicas: 3, selector: {}, template: {} },
      status: {
        observedGeneration: 4,
        replicas: 4,
        updatedReplicas: 1,
        readyReplicas: 3,
        availableReplicas: 3,
        conditions: [
          { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
          {
            type: "ReplicaFailure",
            status: "True",
            reason: "FailedCreate",
            message: `pods "podinfo-x" is forbidden: exceeded quota: pods, ${"long ".repeat(200)}`,
          },
        ],
      },
    };
    const gap = servingGap(d);
    assert.equal(gap.what, "Deployment podinfo has 1/3 pods of the stable template ready");
    assert.match(gap.blocker ?? "", /^FailedCreate: pods "podinfo-x" is forbidden: exceeded quota/);
    assert.equal(gap.blocker?.length, 512);
    const stuck = {
      ...d,
      status: {
        ...d.status,
        conditions: [
          { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "timed out" },
        ],
      },
    };
    assert.equal(servingGap(stuck).blocker, "ProgressDeadlineExceeded: timed out");
    assert.equal(servingGap({ ...d, status: { ...d.status, conditions: [] } }).blocker, undefined);
  });
});
