// Pure parts of the commands: what a request led to, lint naming the field, history from status milestones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitingApproval } from "../rollout-api.ts";
import { progressingRollout } from "../testing/fixtures.ts";
import { buildHistory } from "./history.ts";
import { lintText } from "./lint.ts";
import { describeOutcome } from "./steer.ts";

describe("describeOutcome", () => {
  it("says how the rollout moved", () => {
    const before = progressingRollout();
    const after = progressingRollout();
    after.status = { ...after.status, phase: "Paused", currentStepIndex: 2 };
    assert.deepEqual(describeOutcome("promote", before, after), {
      summary: "Progressing step 2/4 weight 40% → Paused step 3/4 weight 40%",
    });
  });
  it("reports the controller's reason for ignoring, from the milestone its acknowledgement recorded", () => {
    const before = progressingRollout();
    const after = progressingRollout();
    const ignored = {
      at: "2026-12-01T12:00:01Z",
      reason: "RequestIgnored" as const,
      revision: "5c4d3e2f",
      message: "resume request ignored: not paused (phase Progressing)",
    };
    after.status = { ...after.status, milestones: [ignored] };
    assert.deepEqual(describeOutcome("resume", before, after), {
      ignored: "not paused (phase Progressing)",
      summary: "ignored: not paused (phase Progressing)",
    });
    assert.equal(describeOutcome("abort", before, after).ignored, undefined, "another kind's does not count");
    before.status = { ...before.status, milestones: [ignored] };
    assert.equal(
      describeOutcome("resume", before, after).ignored,
      undefined,
      "an earlier request's does not count",
    );
  });
});

describe("waitingApproval", () => {
  const run = (name: string, kind: "approval" | "job", phase: "Pending" | "Passed") => ({
    name,
    kind,
    phase,
    point: "prePromotion" as const,
    attempt: 1,
    startedAt: "2026-12-01T12:00:00Z",
  });
  it("names the one approval that waits, and refuses to guess between none or several", () => {
    const r = progressingRollout();
    r.status = { ...r.status, checks: [run("gate", "approval", "Pending"), run("smoke", "job", "Pending")] };
    assert.equal(waitingApproval(r), "gate");
    r.status.checks = [run("gate", "approval", "Passed")];
    assert.throws(() => waitingApproval(r), /no approval check of .* waits/);
    r.status.checks = [run("gate", "approval", "Pending"), run("qa", "approval", "Pending")];
    assert.throws(() => waitingApproval(r), /waits for several approvals \(gate, qa\): name one/);
  });
});

describe("lintText", () => {
  const rollout = (spec: unknown) =>
    `apiVersion: vireo.dev/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\n  namespace: shop\nspec: ${JSON.stringify(spec)}\n`;
  const spec = {
    targetRef: { name: "web" },
    service: { port: 80 },
    provider: "istio",
    strategy: { canary: { steps: [{ setWeight: 10 }] } },
  };

  it("a valid Rollout passes; other kinds are skipped", async () => {
    const results = await lintText(`kind: Deployment\n---\n${rollout(spec)}`);
    assert.deepEqual(results, [{ what: "Rollout shop/web", issues: [] }]);
  });

  it("names the field of each problem", async () => {
    const bad = { ...spec, strategy: { canary: { steps: [{ setWeight: 10, pause: {} }] } } };
    const [r] = await lintText(rollout(bad));
    assert.deepEqual(r?.issues, [
      {
        path: "spec.strategy.canary.steps[0]",
        message: "a step needs exactly one of setWeight, pause, check, setUpdated, setHeaderRoute, setMirror",
      },
    ]);
    const [w] = await lintText(
      rollout({
        ...spec,
        windows: [{ kind: "allow", schedule: "0 9 * * 1-5", duration: "1h", timeZone: "Mars/Olympus" }],
      }),
    );
    assert.match(w?.issues[0]?.path ?? "", /^spec\.windows\[0\]\.timeZone$/);
  });

  it("YAML errors are reported, not thrown", async () => {
    const [r] = await lintText("kind: Rollout\nspec: [unclosed\n");
    assert.equal(r?.issues[0]?.path, "(yaml)");
  });
});

describe("buildHistory", () => {
  it("reads milestones from status and says who caused them; Events never become history", () => {
    const r = progressingRollout();
    (r.metadata as { managedFields?: unknown }).managedFields = [
      {
        manager: "kubectl-annotate",
        fieldsV1: { "f:metadata": { "f:annotations": { "f:vireo.dev/promote": {} } } },
      },
    ];
    r.status = {
      ...r.status,
      milestones: [
        { at: "2026-12-01T11:58:00Z", reason: "RolloutStarted", revision: "5c4d3e2f", message: "started" },
        { at: "2026-12-01T11:59:00Z", reason: "AnalysisFailed", revision: "5c4d3e2f", message: "failed" },
        { at: "2026-12-01T12:00:01Z", reason: "PromotedByUser", revision: "5c4d3e2f", message: "promoted" },
      ],
    };
    const h = buildHistory(r);
    assert.deepEqual(
      h.map((e) => [e.reason, e.revision, e.by]),
      [
        ["RolloutStarted", "5c4d3e2f", "Deployment change"],
        ["AnalysisFailed", "5c4d3e2f", "analysis"],
        ["PromotedByUser", "5c4d3e2f", "user (kubectl-annotate)"],
      ],
    );
  });
});
