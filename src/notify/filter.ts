// Decides whether a Rollout wants a message, from spec.notifications.events and minSeverity.
import type { NotifyEvent } from "../api/rollout-schema.ts";
import type { NotificationMessage, Severity } from "./message.ts";

/** The subset of `spec.notifications` that filters messages. */
export interface NotificationFilter {
  /** Events to send; undefined means all. */
  events?: readonly NotifyEvent[];
  /** Drop messages below this severity (default info: keep everything). */
  minSeverity?: Severity;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

/** True when `message` passes the event and severity filter. */
export function passesFilter(
  message: Pick<NotificationMessage, "event" | "severity">,
  filter?: NotificationFilter,
): boolean {
  if (!filter) return true;
  if (filter.events && !filter.events.includes(message.event)) return false;
  return RANK[message.severity] >= RANK[filter.minSeverity ?? "info"];
}
