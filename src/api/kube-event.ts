// A core/v1 Event as the plugin and the dashboard read it, and when it last happened.

/** An Event about a Rollout (core/v1; only the fields Vireo's views read). */
export interface KubeEvent {
  metadata: { name: string; namespace?: string; uid?: string; creationTimestamp?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  series?: { count?: number; lastObservedTime?: string };
  involvedObject?: { kind?: string; name?: string; namespace?: string };
}

/** When an Event last happened (core/v1 Events fill different time fields depending on who wrote them). */
export function eventTime(e: KubeEvent): string {
  return (
    e.series?.lastObservedTime ??
    e.lastTimestamp ??
    e.eventTime ??
    e.firstTimestamp ??
    e.metadata.creationTimestamp ??
    ""
  );
}
