// Weight rules shared by every adapter: what may be written, and integer relative weights back to percentages.
import type { Weights } from "../rollout/types.ts";
import { toPercentages } from "./quantity.ts";
import type { TrafficSplitModel } from "./types.ts";

/** Throws unless the weights are integers 0..100 summing to 100 (the engine's invariant; never write less). */
export function assertWeights(w: Weights): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 100;
  if (!ok(w.primary) || !ok(w.canary) || w.primary + w.canary !== 100) {
    throw new RangeError(`weights must be integers 0..100 summing to 100, got ${w.primary}/${w.canary}`);
  }
}

/**
 * The split's two weighted backends, primary first, each as `entry` writes a Service and its weight. The weights
 * are checked first ({@link assertWeights}), so no renderer can write an invalid split.
 */
export function weightedBackends<T>(
  model: Pick<TrafficSplitModel, "weights" | "primaryService" | "canaryService">,
  entry: (service: string, weight: number) => T,
): T[] {
  assertWeights(model.weights);
  return [
    entry(model.primaryService, model.weights.primary),
    entry(model.canaryService, model.weights.canary),
  ];
}

/**
 * Non-negative integer relative weights as percentages summing to 100, rounded exactly like SMI quantities
 * (see {@link toPercentages}); null when both are zero (nothing is routed).
 */
export function percentagesOf(primary: number, canary: number): Weights | null {
  if (!Number.isSafeInteger(primary) || !Number.isSafeInteger(canary) || primary < 0 || canary < 0)
    return null;
  return toPercentages({ num: BigInt(primary), den: 1n }, { num: BigInt(canary), den: 1n }) ?? null;
}
