// Pure bookkeeping of notifications in status: decided ones wait in `pending` until delivered, then their keys move
// to `delivered`, so each (rollout, revision, event) is sent once even across controller restarts.
import type { RolloutStatus } from "../api/rollout-schema.ts";
import type { Action } from "../rollout/types.ts";

/** A notification as stored in status until delivered. */
export type PendingNotification = NonNullable<NonNullable<RolloutStatus["notifications"]>["pending"]>[number];

/** How many delivered keys status remembers. */
export const DELIVERED_LIMIT = 200;
/** How many undelivered notifications status holds; beyond, the oldest are dropped. */
export const PENDING_LIMIT = 50;

/** Converts the engine's Notify action to the stored form. */
export function toPending(action: Extract<Action, { type: "Notify" }>): PendingNotification {
  return {
    key: action.key,
    event: action.event,
    severity: action.severity,
    message: action.message.slice(0, 1024),
    revision: action.revision,
    canaryWeight: action.weights.canary,
    ...(action.failing ? { metric: action.failing.metric, threshold: action.failing.threshold } : {}),
    ...(action.failing?.value !== undefined ? { value: action.failing.value } : {}),
  };
}

/**
 * Adds new notifications (skipping keys already delivered or pending) and moves delivered keys out of pending.
 * @returns the updated status and how many pending notifications were dropped for lack of room.
 */
export function updateOutbox(
  status: RolloutStatus,
  decided: readonly PendingNotification[],
  deliveredKeys: readonly string[],
): { status: RolloutStatus; dropped: number } {
  const box = status.notifications ?? { delivered: [], pending: [] };
  const delivered = [...(box.delivered ?? [])];
  for (const key of deliveredKeys) if (!delivered.includes(key)) delivered.push(key);
  const done = new Set(delivered);
  let pending = (box.pending ?? []).filter((p) => !done.has(p.key));
  const waiting = new Set(pending.map((p) => p.key));
  for (const p of decided) {
    if (done.has(p.key) || waiting.has(p.key)) continue;
    pending.push(p);
    waiting.add(p.key);
  }
  const dropped = Math.max(0, pending.length - PENDING_LIMIT);
  pending = pending.slice(dropped);
  const next = { delivered: delivered.slice(-DELIVERED_LIMIT), pending };
  if (next.delivered.length === 0 && next.pending.length === 0 && !status.notifications)
    return { status, dropped };
  return { status: { ...status, notifications: next }, dropped };
}
