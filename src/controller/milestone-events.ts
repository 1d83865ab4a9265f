// Pure: the Events that go with status.milestones, named after the milestone so each is created once, by whichever
// process gets there first: the one that decided it, or a successor that finds it missing after a crash.
import { createHash } from "node:crypto";
import { REASONS, type Reason } from "../api/constants.ts";
import type { Milestone, RolloutStatus } from "../api/rollout-schema.ts";
import type { EventIdentity } from "../kube/event-recorder.ts";
import type { Action } from "../rollout/types.ts";

/**
 * How old a milestone may be and still get its missing Event recorded: long enough for a successor to take over
 * (a 15 s lease) or an API server to come back, and well inside the API server's Event TTL (1 h by default), so an
 * Event that expired is not brought back.
 */
export const MILESTONE_EVENT_WINDOW_MS = 5 * 60_000;

/** Milestones the engine records with a Warning Event; every other milestone's Event is Normal. */
const WARNING_MILESTONES = new Set<Reason>([
  REASONS.RolledBack,
  REASONS.AnalysisFailed,
  REASONS.AnalysisErrors,
  REASONS.ProgressDeadlineExceeded,
  REASONS.Aborted,
]);

/** The Event type the engine gives a milestone's reason. */
export const milestoneEventType = (reason: Reason): "Normal" | "Warning" =>
  WARNING_MILESTONES.has(reason) ? "Warning" : "Normal";

/** A milestone's Event: the action to record (type, reason, note) and the name it is created under. */
export interface MilestoneEvent {
  action: Extract<Action, { type: "RecordEvent" }>;
  identity: Required<EventIdentity>;
}

const sameMilestone = (a: Milestone, b: Milestone) =>
  a.at === b.at && a.reason === b.reason && a.revision === b.revision && a.message === b.message;

/** The Event name of a milestone: the Rollout's name and a hash of the Rollout's uid and the milestone. */
export function milestoneEventName(rollout: { name: string; uid?: string }, m: Milestone): string {
  const hash = createHash("sha256")
    .update([rollout.uid ?? rollout.name, m.at, m.reason, m.revision, m.message].join("\u0000"))
    .digest("hex")
    .slice(0, 16);
  return `${rollout.name.slice(0, 200)}.m${hash}`;
}

/**
 * Which of a decision's Events record a milestone it added, by action: the first unpaired added milestone with the
 * action's reason (the engine adds them in the order it asks for their Events). Those Events get the milestone's
 * name, so recording them again from status finds them there.
 */
export function namedActions(
  rollout: { name: string; uid?: string },
  before: RolloutStatus | undefined,
  after: RolloutStatus,
  actions: readonly Action[],
): Map<Action, EventIdentity> {
  const old = before?.milestones ?? [];
  const added = (after.milestones ?? []).filter((m) => !old.some((o) => sameMilestone(o, m)));
  const named = new Map<Action, EventIdentity>();
  for (const a of actions) {
    if (a.type !== "RecordEvent") continue;
    const i = added.findIndex((m) => m.reason === a.reason);
    const m = added[i];
    if (!m) continue;
    added.splice(i, 1);
    // No `at`: the recorder orders this decision's Events by the time it records them.
    named.set(a, { name: milestoneEventName(rollout, m) });
  }
  return named;
}

/** The Events of the milestones in `status` younger than {@link MILESTONE_EVENT_WINDOW_MS}, oldest first. */
export function recentMilestoneEvents(
  rollout: { name: string; uid?: string },
  status: RolloutStatus,
  now: number,
): MilestoneEvent[] {
  return (status.milestones ?? [])
    .filter((m) => now - Date.parse(m.at) < MILESTONE_EVENT_WINDOW_MS)
    .map((m) => ({
      action: {
        type: "RecordEvent",
        eventType: milestoneEventType(m.reason),
        reason: m.reason,
        message: m.message,
      },
      identity: { name: milestoneEventName(rollout, m), at: Date.parse(m.at) },
    }));
}
