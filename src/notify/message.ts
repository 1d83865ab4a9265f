// Turns the engine's Notify action plus the Rollout's identity into a destination-neutral notification.
import type { MetricResult } from "../analysis/types.ts";
import type { NotifyEvent } from "../api/rollout-schema.ts";
import type { Action, Weights } from "../rollout/types.ts";

/** The engine's Notify action. */
export type NotifyAction = Extract<Action, { type: "Notify" }>;

/** Severity of a notification, lowest first. */
export type Severity = NotifyAction["severity"];

/** Which Rollout a notification is about. */
export interface RolloutRef {
  namespace: string;
  name: string;
  /** metadata.uid: a deleted and re-created Rollout of the same name is a different rollout. */
  uid?: string;
}

/** A notification, independent of where it goes. */
export interface NotificationMessage {
  /** Globally unique de-duplication id: `<uid or namespace/name>/<key>`. */
  id: string;
  /** The engine's key (revision/attempt/event/discriminator), as recorded in `status.notifications.delivered`. */
  key: string;
  rollout: RolloutRef;
  event: NotifyEvent;
  severity: Severity;
  /** Human summary from the engine. */
  text: string;
  revision: string;
  weights: Weights;
  /** The metric that failed, for AnalysisFailed and RolledBack. */
  failing?: MetricResult;
  /** When the message was built (ISO 8601). */
  at: string;
}

/** The de-duplication id of `key` for `rollout`. */
export function messageId(rollout: RolloutRef, key: string): string {
  return `${rollout.uid ?? `${rollout.namespace}/${rollout.name}`}/${key}`;
}

/** Builds the message for a Notify action of `rollout`. */
export function buildMessage(
  action: NotifyAction,
  rollout: RolloutRef,
  now: Date = new Date(),
): NotificationMessage {
  return {
    id: messageId(rollout, action.key),
    key: action.key,
    rollout: { ...rollout },
    event: action.event,
    severity: action.severity,
    text: action.message,
    revision: action.revision,
    weights: { ...action.weights },
    ...(action.failing ? { failing: { ...action.failing } } : {}),
    at: now.toISOString(),
  };
}

/** Rounds for display: at most three decimals, no trailing zeros. */
export function formatNumber(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "no data";
  return String(Math.round(n * 1000) / 1000);
}
