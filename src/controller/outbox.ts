// Pure bookkeeping of notifications in status: decided ones wait in `pending` until settled, then their keys move
// to `delivered` (or `failed`, when a destination rejected them for good), so each key is sent once per attempt.
import { REASONS } from "../api/constants.ts";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import type { Action } from "../rollout/types.ts";

/** A notification as stored in status until delivered. */
export type PendingNotification = NonNullable<NonNullable<RolloutStatus["notifications"]>["pending"]>[number];

/** A notification the delivery machinery is done with: delivered everywhere, or rejected for good somewhere. */
export interface SettledNotification {
  key: string;
  /** Why a destination rejected it permanently (HTTP 4xx other than 408/429, invalid URL); absent when delivered. */
  failure?: string;
}

/** How many delivered keys status remembers. */
export const DELIVERED_LIMIT = 200;
/** How many permanently failed keys status remembers. */
export const FAILED_LIMIT = 50;
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

/** The outcome of {@link updateOutbox}. */
export interface OutboxUpdate {
  status: RolloutStatus;
  /** Pending notifications dropped for lack of room. */
  dropped: number;
  /** Warning Events for notifications that left pending as failed in this update (each key once). */
  events: Extract<Action, { type: "RecordEvent" }>[];
}

/**
 * Adds new notifications (skipping keys already delivered, failed or pending) and moves settled keys out of
 * pending into `delivered` or `failed`.
 */
export function updateOutbox(
  status: RolloutStatus,
  decided: readonly PendingNotification[],
  settled: readonly SettledNotification[],
): OutboxUpdate {
  const box = status.notifications ?? { delivered: [], pending: [] };
  const delivered = [...(box.delivered ?? [])];
  const failed = [...(box.failed ?? [])];
  const before = box.pending ?? [];
  const events: OutboxUpdate["events"] = [];
  for (const s of settled) {
    if (delivered.includes(s.key) || failed.includes(s.key)) continue;
    if (s.failure === undefined) {
      delivered.push(s.key);
      continue;
    }
    failed.push(s.key);
    const p = before.find((x) => x.key === s.key);
    events.push({
      type: "RecordEvent",
      eventType: "Warning",
      reason: REASONS.NotificationFailed,
      message: `${p?.event ?? "notification"} notification ${s.key} not delivered: ${s.failure}; it is not retried`,
    });
  }
  const done = new Set([...delivered, ...failed]);
  let pending = before.filter((p) => !done.has(p.key));
  const waiting = new Set(pending.map((p) => p.key));
  for (const p of decided) {
    if (done.has(p.key) || waiting.has(p.key)) continue;
    pending.push(p);
    waiting.add(p.key);
  }
  const dropped = Math.max(0, pending.length - PENDING_LIMIT);
  pending = pending.slice(dropped);
  const next = {
    delivered: delivered.slice(-DELIVERED_LIMIT),
    pending,
    ...(failed.length > 0 ? { failed: failed.slice(-FAILED_LIMIT) } : {}),
  };
  if (next.delivered.length === 0 && next.pending.length === 0 && !next.failed && !status.notifications)
    return { status, dropped, events };
  return { status: { ...status, notifications: next }, dropped, events };
}
