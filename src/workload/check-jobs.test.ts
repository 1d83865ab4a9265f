// Check Jobs as objects: deterministic names, the rendered Job, and what the engine reads back from one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JobCheckSchema } from "../api/check-schema.ts";
import { checkJobName, observeCheckJob, renderCheckJob, terminationMessage } from "./check-jobs.ts";

const owner = { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "checkout", uid: "u1" };
const run = {
  name: "e2e",
  point: "step" as const,
  step: 1,
  attempt: 1,
  attemptId: "2026-12-07T00:00:00.000Z",
};
const check = JobCheckSchema.parse({
  serviceAccountName: "tester",
  timeout: "90s",
  spec: { template: { spec: { containers: [{ name: "t", image: "tests:1" }] } } },
});

describe("check Jobs", () => {
  it("are named deterministically per run, within 63 characters", () => {
    assert.equal(checkJobName("checkout", run), checkJobName("checkout", { ...run }));
    assert.notEqual(checkJobName("checkout", run), checkJobName("checkout", { ...run, attempt: 2 }));
    assert.notEqual(checkJobName("checkout", run), checkJobName("checkout", { ...run, attemptId: "other" }));
    assert.ok(checkJobName("x".repeat(253), run).length <= 63);
  });

  it("run under the check's ServiceAccount, without retries, with the deadline, owned by the Rollout", () => {
    const job = renderCheckJob("shop", owner, check, run, "rev1");
    const pod = (job.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    assert.equal(pod.serviceAccountName, "tester");
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(job.spec?.backoffLimit, 0);
    assert.equal(job.spec?.activeDeadlineSeconds, 90);
    assert.equal(job.metadata.ownerReferences?.[0]?.uid, "u1");
    assert.deepEqual(observeCheckJob(job)?.state, "Running");
    assert.equal(observeCheckJob(job)?.attempt, 1);
  });

  it("read back Complete, or Failed with the reason and a sanitised, bounded termination message", () => {
    const job = renderCheckJob("shop", owner, check, run, "rev1");
    const done = { ...job, status: { conditions: [{ type: "Complete", status: "True" }] } };
    assert.equal(observeCheckJob(done)?.state, "Complete");
    const failed = {
      ...job,
      status: { conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] },
    };
    const msg = terminationMessage([
      {
        status: {
          containerStatuses: [
            { state: { terminated: { exitCode: 1, message: `3 tests failed\u001b[31m${"x".repeat(500)}` } } },
          ],
        },
      },
    ]);
    assert.ok(msg && msg.length <= 200 && !msg.includes("\u001b"));
    const seen = observeCheckJob(failed, msg);
    assert.equal(seen?.state, "Failed");
    assert.match(seen?.message ?? "", /^BackoffLimitExceeded: 3 tests failed/);
    assert.equal(
      observeCheckJob({ metadata: { name: "foreign" } }),
      undefined,
      "a Job without a run is not ours",
    );
  });
});
