// Kubernetes-style conditions: set one without touching lastTransitionTime unless its status really changed.
import type { Condition } from "../api/rollout-schema.ts";
import { clipMessage } from "./status-budget.ts";

/** A condition as the engine states it; the timestamps and generation are filled in here. */
export interface ConditionUpdate {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * Returns the conditions with `update` applied. lastTransitionTime moves only when the status flips, so a
 * reconcile that changes nothing writes nothing.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    ...update,
    message: clipMessage(update.message),
    observedGeneration,
    lastTransitionTime:
      previous && previous.status === update.status ? previous.lastTransitionTime : now.toISOString(),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** Finds a condition by type. */
export function getCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
