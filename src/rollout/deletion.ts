// Deleting a Rollout: while the finalizer waits for the user's Deployment to serve again, the Rollout says why and
// until when (conditions, message, a Warning Event); past that deadline, or when a person forces it, it is released.

import { CONDITION_TYPES, FORCE_RELEASE_ANNOTATION, REASONS } from "../api/constants.ts";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import { setCondition } from "./conditions.ts";
import { clipMessage } from "./status-budget.ts";
import { WORKLOAD_POLL_MS } from "./timing.ts";
import type { Action } from "./types.ts";

/** How long a deleted Rollout waits for its workload to be handed back unless configured otherwise. */
export const DEFAULT_DELETION_TIMEOUT_MS = 10 * 60_000;

/** How far the user's Deployment is from serving, in words (see workload/hand-back.ts). */
export interface HandBackGap {
  /** e.g. "Deployment podinfo has 1/3 pods of the stable template ready". */
  what: string;
  /** What stops it, as the Deployment's conditions say (a quota, an admission refusal, a progress deadline). */
  blocker?: string;
}

/** What the deletion decision reads. */
export interface DeletionInput {
  generation: number;
  status: RolloutStatus | undefined;
  /** metadata.deletionTimestamp: when the API server accepted the delete (its clock). */
  deletedAt: Date;
  /** How long the hand-back may wait before the Rollout is released without it. */
  timeoutMs: number;
  /** Somebody set {@link FORCE_RELEASE_ANNOTATION}. */
  forceRequested: boolean;
  /** What the hand-back still waits for. */
  gap: HandBackGap;
}

/** Wait (status and Events say why, and until when) or release now (and why without the full hand-back). */
export type DeletionDecision =
  | {
      release: false;
      status: RolloutStatus;
      actions: Extract<Action, { type: "RecordEvent" }>[];
      requeueAfterMs: number;
    }
  | { release: true; why: string };

/**
 * Decides whether a deleted Rollout whose workload is not handed back yet keeps waiting. Waiting is said in status
 * (Ready=False and Reconciling=True with reason DeletionWaiting; Stalled and Degraded True once the Deployment
 * reports what stops it) and in a Warning Event whenever the explanation changes; the deadline is counted from
 * the deletion timestamp, so a restarted controller keeps it.
 */
export function decideDeletion(input: DeletionInput, now: Date): DeletionDecision {
  const deadline = input.deletedAt.getTime() + input.timeoutMs;
  if (input.forceRequested)
    return { release: true, why: `release forced by annotation ${FORCE_RELEASE_ANNOTATION}` };
  if (now.getTime() >= deadline)
    return { release: true, why: `deletion deadline of ${Math.round(input.timeoutMs / 1000)} s passed` };
  const { what, blocker } = input.gap;
  const message = clipMessage(
    `deleting: waiting for ${what}${blocker ? ` (${blocker})` : ""} before the root Service selects its pods again; ` +
      `released without it at ${new Date(deadline).toISOString()} (annotate ${FORCE_RELEASE_ANNOTATION}=true to release now)`,
  );
  const status = structuredClone(input.status ?? {});
  const set = (type: string, value: "True" | "False", reason: string, text: string) => {
    status.conditions = setCondition(
      status.conditions,
      { type, status: value, reason, message: text },
      input.generation,
      now,
    );
  };
  set(CONDITION_TYPES.ready, "False", REASONS.DeletionWaiting, message);
  set(CONDITION_TYPES.reconciling, "True", REASONS.DeletionWaiting, message);
  for (const type of [CONDITION_TYPES.stalled, CONDITION_TYPES.degraded]) {
    if (blocker) set(type, "True", REASONS.DeletionWaiting, message);
    else set(type, "False", REASONS.Healthy, "no problem detected");
  }
  const actions: Extract<Action, { type: "RecordEvent" }>[] =
    input.status?.message === message
      ? []
      : [{ type: "RecordEvent", eventType: "Warning", reason: REASONS.DeletionWaiting, message }];
  status.message = message;
  return {
    release: false,
    status,
    actions,
    requeueAfterMs: Math.max(1, Math.min(WORKLOAD_POLL_MS, deadline - now.getTime())),
  };
}
