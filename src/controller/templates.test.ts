import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Rollout, RolloutSpecSchema } from "../api/rollout-schema.ts";
import type { AnalysisTemplateObject } from "../api/template-schema.ts";
import { validated } from "./observe.ts";
import { withTemplates } from "./templates.ts";

const spec = (analysis: Record<string, unknown>) =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "smi",
    strategy: { canary: { stepWeight: 10 } },
    analysis,
  });
const TEMPLATE: AnalysisTemplateObject = {
  metadata: { name: "t", namespace: "shop" },
  spec: { metrics: [{ name: "from-template", query: "sum(up)", thresholdRange: { min: 1 } }] },
};
const rollout = (s: unknown, lastValidSpec?: unknown): Rollout =>
  ({
    metadata: { name: "checkout", namespace: "shop" },
    spec: s,
    ...(lastValidSpec ? { status: { lastValidSpec } } : {}),
  }) as Rollout;

describe("withTemplates", () => {
  it("acts on the spec with the template's metrics", () => {
    const r = rollout(spec({ templates: [{ name: "t" }] }));
    const v = withTemplates(validated(r), r, () => TEMPLATE);
    assert.deepEqual(
      v.acting?.analysis.metrics.map((m) => m.name),
      ["from-template"],
    );
    assert.equal(v.spec, v.acting);
  });

  it("a template it cannot resolve makes the spec invalid and acts on the last valid one", () => {
    const last = spec({ metrics: [{ name: "old", query: "sum(up)", thresholdRange: { min: 1 } }] });
    const r = rollout(spec({ templates: [{ name: "gone" }] }), last);
    const v = withTemplates(validated(r), r, () => undefined);
    assert.equal(v.spec, undefined);
    assert.match(v.issues[0]?.message ?? "", /AnalysisTemplate shop\/gone not found/);
    assert.deepEqual(
      v.acting?.analysis.metrics.map((m) => m.name),
      ["old"],
    );
  });

  it("a step under way with a pin for it keeps the spec it started with, and hands on the templates as they are", () => {
    const pinned = withTemplates(
      validated(rollout(spec({ templates: [{ name: "t" }] }))),
      rollout(undefined),
      () => TEMPLATE,
    ).spec;
    const step = { revision: "r1", step: 1, stepStartedAt: "2026-12-07T14:00:00.000Z", generation: 3 };
    const r = {
      metadata: { name: "checkout", namespace: "shop", generation: 3 },
      spec: spec({ templates: [{ name: "t" }] }),
      status: {
        phase: "Progressing",
        canaryRevision: "r1",
        currentStepIndex: 1,
        stepStartedAt: step.stepStartedAt,
        lastValidSpec: pinned,
        templatePin: step,
      },
    } as Rollout;
    const edited = {
      ...TEMPLATE,
      spec: { metrics: [{ name: "from-template", query: "sum(up)", thresholdRange: { min: 5 } }] },
    };
    const v = withTemplates(validated(r), r, () => edited);
    assert.equal(v.spec?.analysis.metrics[0]?.thresholdRange?.min, 1);
    assert.equal(v.fresh?.analysis.metrics[0]?.thresholdRange?.min, 5);
    const own = { ...r, metadata: { ...r.metadata, generation: 4 } };
    assert.equal(
      withTemplates(validated(own), own, () => edited).spec?.analysis.metrics[0]?.thresholdRange?.min,
      5,
    );
  });

  it("without a template source, a Rollout naming a template is invalid (never analysed without its metrics)", () => {
    const r = rollout(spec({ templates: [{ name: "t" }] }));
    assert.equal(withTemplates(validated(r), r, undefined).spec, undefined);
  });
});
