// Pure parts of the commands: what a request led to, lint naming the field, history from Events.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixtureEvents, progressingRollout } from "../testing/fixtures.ts";
import { buildHistory } from "./history.ts";
import { lintText } from "./lint.ts";
import { describeOutcome } from "./steer.ts";

describe("describeOutcome", () => {
  it("says how the rollout moved", () => {
    const before = progressingRollout();
    const after = progressingRollout();
    after.status = { ...after.status, phase: "Paused", currentStepIndex: 2 };
    assert.deepEqual(describeOutcome("promote", before, after, []), {
      summary: "Progressing step 2/4 weight 40% → Paused step 3/4 weight 40%",
    });
  });
  it("reports the controller's reason for ignoring", () => {
    const r = progressingRollout();
    const events = [
      {
        metadata: { name: "x" },
        reason: "RequestIgnored",
        message: "resume request ignored: not paused (phase Progressing)",
      },
    ];
    assert.deepEqual(describeOutcome("resume", r, r, events), {
      ignored: "not paused (phase Progressing)",
      summary: "ignored: not paused (phase Progressing)",
    });
    assert.equal(
      describeOutcome("abort", r, r, events).ignored,
      undefined,
      "another kind's Event does not count",
    );
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
        message: "a step needs exactly one of setWeight, pause, setUpdated",
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
  it("keeps milestones and says who caused them", () => {
    const r = progressingRollout();
    (r.metadata as { managedFields?: unknown }).managedFields = [
      {
        manager: "kubectl-annotate",
        fieldsV1: { "f:metadata": { "f:annotations": { "f:vireo.dev/promote": {} } } },
      },
    ];
    const events = [
      ...fixtureEvents(),
      {
        metadata: { name: "p" },
        reason: "PromotedByUser",
        message: "promoted past step 2 by request",
        eventTime: "2026-12-01T12:00:01Z",
      },
    ];
    const h = buildHistory(r, events);
    assert.deepEqual(
      h.map((e) => [e.reason, e.by]),
      [
        ["RolloutStarted", "Deployment change"],
        ["AnalysisFailed", "analysis"],
        ["PromotedByUser", "user (kubectl-annotate)"],
      ],
    );
  });
});
