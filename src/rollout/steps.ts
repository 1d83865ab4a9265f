// Expands a strategy (canary or blue/green) into the ordered list of steps the engine walks through.

import { parseDuration } from "../api/duration.ts";
import type { RolloutSpec, Step } from "../api/rollout-schema.ts";

/** Default last weight of the stepWeight shorthand. */
export const DEFAULT_MAX_WEIGHT = 50;

/**
 * The steps of a strategy. The shorthand `stepWeight: 10, maxWeight: 30` becomes setWeight 10, 20, 30; a maxWeight
 * that is not a multiple of stepWeight still ends exactly at maxWeight. Blue/green: see {@link blueGreenSteps}.
 */
export function expandSteps(strategy: RolloutSpec["strategy"]): Step[] {
  if (strategy.blueGreen) return blueGreenSteps(strategy.blueGreen);
  const canary = strategy.canary ?? {};
  if (canary.steps) return canary.steps;
  const step = canary.stepWeight ?? DEFAULT_MAX_WEIGHT;
  const max = canary.maxWeight ?? DEFAULT_MAX_WEIGHT;
  const steps: Step[] = [];
  for (let w = step; w < max; w += step) steps.push({ setWeight: w });
  steps.push({ setWeight: max });
  return steps;
}

/**
 * Canary weight in force at step `index`: the last setWeight at or before it (pauses hold the weight before them),
 * 0 before the first setWeight.
 */
export function weightAt(steps: readonly Step[], index: number): number {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const w = steps[i]?.setWeight;
    if (w !== undefined) return w;
  }
  return 0;
}

type BlueGreen = NonNullable<RolloutSpec["strategy"]["blueGreen"]>;

/**
 * The steps of a blue/green strategy, walked by the same rules as a canary's: the preview at weight 0 (a passing
 * analysis tick needed, unless `previewAnalysis` is false: a zero pause), a pause for `vireo.dev/promote` when
 * `autoPromotion` is false, the cut-over to 100 % (a passing tick needed at 100 %), and the rollback window (a
 * timed pause through which analysis keeps ticking). Weights are only ever 0 or 100.
 */
export function blueGreenSteps(bg: BlueGreen): Step[] {
  const steps: Step[] = [bg.previewAnalysis ? { setWeight: 0 } : { pause: { duration: "0s" } }];
  if (!bg.autoPromotion) steps.push({ pause: {} });
  steps.push({ setWeight: 100 });
  if (parseDuration(bg.rollbackWindow) > 0) steps.push({ pause: { duration: bg.rollbackWindow } });
  return steps;
}
