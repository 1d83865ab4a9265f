// Pins the metrics a Rollout's analysis templates gave a step to that step: a template edited mid-step applies from
// the next step, while an edit of the Rollout's own spec applies at once. Pure: the pin lives in status.

import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { IN_FLIGHT } from "./draft.ts";

/** The step a pin is for (status.templatePin). */
export type TemplatePin = NonNullable<RolloutStatus["templatePin"]>;

/** The step under way in `status` for a Rollout of `generation`, or undefined when no step is. */
export function stepUnderWay(status: RolloutStatus | undefined, generation: number): TemplatePin | undefined {
  if (!status?.phase || !IN_FLIGHT.includes(status.phase)) return undefined;
  const { canaryRevision, currentStepIndex, stepStartedAt } = status;
  if (canaryRevision === undefined || stepStartedAt === undefined) return undefined;
  return { revision: canaryRevision, step: currentStepIndex ?? 0, stepStartedAt, generation };
}

const samePin = (a: TemplatePin | undefined, b: TemplatePin | undefined): boolean =>
  a !== undefined &&
  b !== undefined &&
  a.revision === b.revision &&
  a.step === b.step &&
  a.stepStartedAt === b.stepStartedAt &&
  a.generation === b.generation;

/**
 * The spec, templates resolved, the step under way is judged on: the one resolved when it started (kept in
 * status.lastValidSpec), while the pin in status is for that very step and generation; otherwise undefined, and the
 * templates are resolved afresh.
 */
export function pinnedSpec(status: RolloutStatus | undefined, generation: number): RolloutSpec | undefined {
  if (!status?.lastValidSpec?.analysis.templates?.length) return undefined;
  return samePin(status.templatePin, stepUnderWay(status, generation)) ? status.lastValidSpec : undefined;
}

/**
 * What a decision records as lastValidSpec and templatePin. `before` is the status it started from, `after` the one
 * it wrote, `spec` the spec it acted on, `fresh` the templates resolved as they are now (undefined: the same as
 * `spec`; null: they cannot be resolved now). The same step keeps what it was pinned to; a step that starts in this
 * decision is pinned to the templates as they are now; when they cannot be resolved, nothing is pinned, so the next
 * decision finds the spec invalid.
 */
export function pinAfter(
  before: RolloutStatus | undefined,
  after: RolloutStatus,
  generation: number,
  spec: RolloutSpec,
  fresh: RolloutSpec | null | undefined,
): Pick<RolloutStatus, "lastValidSpec" | "templatePin"> {
  const now = fresh === undefined ? spec : fresh;
  const step = stepUnderWay(after, generation);
  if (!spec.analysis.templates?.length || step === undefined) return { lastValidSpec: now ?? spec };
  const kept = before?.lastValidSpec;
  if (kept && samePin(before?.templatePin, step) && samePin(stepUnderWay(before, generation), step))
    return { lastValidSpec: kept, templatePin: step };
  return now ? { lastValidSpec: now, templatePin: step } : { lastValidSpec: spec };
}
