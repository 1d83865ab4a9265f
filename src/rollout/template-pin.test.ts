// The template pin: a step is judged on the template metrics resolved when it started; a template edit applies from
// the next step, an edit of the Rollout's own spec or a new revision at once, and a restart changes nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type RolloutSpec, RolloutSpecSchema, type RolloutStatus } from "../api/rollout-schema.ts";
import { pinAfter, pinnedSpec } from "./template-pin.ts";

const RUNS = Number(process.env.VIREO_PROPERTY_RUNS ?? 1000);

/** The spec with the template's metric at threshold `min` resolved in; `own` stands for the Rollout's own edits. */
const resolved = (min: number, own = 0): RolloutSpec =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 + own },
    provider: "smi",
    strategy: { canary: { stepWeight: 10 } },
    analysis: {
      templates: [{ name: "t" }],
      metrics: [{ name: "m", query: "sum(up)", thresholdRange: { min } }],
    },
  });
const threshold = (s: RolloutSpec | undefined) => s?.analysis.metrics[0]?.thresholdRange?.min;

/** One Rollout over decisions: the status the controller keeps, and what each decision judged on. */
class Life {
  status: RolloutStatus = {
    phase: "Progressing",
    canaryRevision: "r1",
    currentStepIndex: 0,
    stepStartedAt: "2026-12-07T14:00:00.000Z",
  };
  generation = 1;
  template = 1;
  #clock = 0;

  /** One decision as the controller takes it; `move` is what the engine does to the status. */
  decide(move: (s: RolloutStatus) => void = () => {}): RolloutSpec {
    const fresh = resolved(this.template, this.generation);
    const pinned = pinnedSpec(this.status, this.generation);
    const spec = pinned ?? fresh;
    const after: RolloutStatus = { ...structuredClone(this.status), lastValidSpec: spec };
    move(after);
    Object.assign(after, pinAfter(this.status, after, this.generation, spec, pinned ? fresh : undefined));
    if (after.templatePin === undefined) delete after.templatePin;
    this.status = after;
    return spec;
  }

  /** The engine starting the next step. */
  readonly advance = (s: RolloutStatus) => {
    s.currentStepIndex = (s.currentStepIndex ?? 0) + 1;
    s.stepStartedAt = new Date(Date.parse("2026-12-07T15:00:00.000Z") + ++this.#clock * 1000).toISOString();
  };
}

describe("template pin", () => {
  it("a template edited mid-step does not change the step under way; the next step takes the edit", () => {
    const life = new Life();
    assert.equal(threshold(life.decide()), 1);
    life.template = 2;
    assert.equal(threshold(life.decide()), 1, "the same step keeps the metrics it started with");
    assert.equal(
      threshold(life.decide(life.advance)),
      1,
      "the decision that ends step 0 judges it on them too",
    );
    assert.equal(threshold(life.decide()), 2, "step 1 is judged on the edited template");
    life.template = 3;
    assert.equal(threshold(life.decide()), 2);
  });

  it("a restart mid-step keeps the pin: it lives in status", () => {
    const life = new Life();
    life.decide();
    life.template = 2;
    const restarted = new Life();
    restarted.status = JSON.parse(JSON.stringify(life.status));
    restarted.template = 2;
    assert.equal(threshold(restarted.decide()), 1);
  });

  it("an edit of the Rollout's own spec applies at once, with the templates as they are", () => {
    const life = new Life();
    life.decide();
    life.template = 2;
    life.generation = 2;
    assert.equal(threshold(life.decide()), 2);
    assert.equal(life.decide().service?.port, 82);
  });

  it("a new revision, or a retried step, is judged on the templates as they are", () => {
    const life = new Life();
    life.decide();
    life.template = 2;
    assert.equal(
      threshold(
        life.decide((s) => {
          s.canaryRevision = "r2";
          s.currentStepIndex = 0;
        }),
      ),
      1,
    );
    assert.equal(threshold(life.decide()), 2);
    life.template = 3;
    life.decide((s) => {
      s.stepStartedAt = "2026-12-07T16:00:00.000Z";
    });
    assert.equal(threshold(life.decide()), 3);
  });

  it("nothing is pinned outside a step, and templates that cannot be resolved now are not pinned to the next step", () => {
    const life = new Life();
    life.status.phase = "Healthy";
    life.decide();
    assert.equal(life.status.templatePin, undefined);
    const inStep = new Life();
    inStep.decide();
    const spec = inStep.status.lastValidSpec as RolloutSpec;
    const after = { ...inStep.status };
    inStep.advance(after);
    assert.equal(pinAfter(inStep.status, after, 1, spec, null).templatePin, undefined);
  });

  it("property: every step is judged throughout on the template as it was when the step started", () => {
    const event = fc.constantFrom("edit", "advance", "tick", "restart");
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        let life = new Life();
        let expected = life.template;
        assert.equal(threshold(life.decide()), expected);
        for (const e of events) {
          if (e === "edit") life.template++;
          else if (e === "restart") {
            const next = new Life();
            Object.assign(next, { status: structuredClone(life.status), template: life.template });
            life = next;
          } else if (e === "advance") {
            assert.equal(threshold(life.decide(life.advance)), expected);
            expected = life.template;
          } else assert.equal(threshold(life.decide()), expected);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
