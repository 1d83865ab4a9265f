// When analysis gates a step and when its next tick is due: read by the engine and by the reconciler.

import { parseDuration } from "../api/duration.ts";
import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { IN_FLIGHT } from "./draft.ts";

/** True when analysis gates steps for this spec. */
export function analysisRequired(spec: RolloutSpec): boolean {
  return !spec.skipAnalysis && spec.analysis.metrics.length > 0;
}

/**
 * When the next analysis tick is due, or undefined when no analysis runs now. Ticks are aligned to the start of
 * the current step, so each tick's query window covers traffic at the step's weight.
 */
export function nextAnalysisAt(spec: RolloutSpec, status: RolloutStatus | undefined): Date | undefined {
  if (!status?.phase || !IN_FLIGHT.includes(status.phase) || !status.stepStartedAt) return undefined;
  if (!analysisRequired(spec)) return undefined;
  const interval = parseDuration(spec.analysis.interval);
  const since = Math.max(Date.parse(status.stepStartedAt), Date.parse(status.analysis?.lastRunAt ?? "") || 0);
  return new Date(since + interval);
}

/** True when the reconciler should query Prometheus before calling `decide`. */
export function analysisDue(spec: RolloutSpec, status: RolloutStatus | undefined, now: Date): boolean {
  const at = nextAnalysisAt(spec, status);
  return at !== undefined && now.getTime() >= at.getTime();
}
