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

  it("without a template source, a Rollout naming a template is invalid (never analysed without its metrics)", () => {
    const r = rollout(spec({ templates: [{ name: "t" }] }));
    assert.equal(withTemplates(validated(r), r, undefined).spec, undefined);
  });
});
