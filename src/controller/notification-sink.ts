// Connects the reconciler's notification outbox to asynchronous delivery: resolves each Rollout's destinations,
// enqueues without blocking, and reports keys delivered to every destination so status can record them.
import type { Rollout, RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { NotificationDelivery } from "../notify/delivery.ts";
import type { NotificationFilter } from "../notify/filter.ts";
import { resolveNotifications } from "../notify/from-spec.ts";
import { buildMessage, type NotifyAction, type RolloutRef } from "../notify/message.ts";
import type { Notifier } from "../notify/notifier.ts";
import { SlackNotifier } from "../notify/slack.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { VireoMetrics } from "../telemetry/metrics.ts";
import type { PendingNotification } from "./outbox.ts";
import type { NotificationSink } from "./reconciler.ts";
import { secretReader } from "./secrets.ts";

/** How long resolved destinations (Secret reads) are reused before the Secret is read again. */
const RESOLVE_TTL_MS = 60_000;

interface Resolved {
  at: number;
  notifiers: Notifier[];
  filter: NotificationFilter;
}

/** Options of {@link createNotificationSink}. */
export interface NotificationSinkOptions {
  clients: KubeClients;
  log: Logger;
  metrics: VireoMetrics;
  /** `namespace/name` of a Secret (key `url`) used by Rollouts without their own notifications. */
  defaultSlackSecret?: string | undefined;
  /** Called when a Rollout has newly delivered keys, so it is reconciled and records them. */
  onDelivered?: (namespace: string, name: string) => void;
  /** Delivery tuning (tests shorten backoffs). */
  delivery?: {
    backoffBaseMs?: number;
    backoffMaxMs?: number;
    maxAttempts?: number;
    requestTimeoutMs?: number;
  };
}

/** The sink plus a shutdown hook and a way to wire the wake-up after construction. */
export interface DeliveringSink extends NotificationSink {
  drain(timeoutMs: number): Promise<void>;
  setOnDelivered(fn: (namespace: string, name: string) => void): void;
}

const refKey = (r: RolloutRef) => `${r.namespace}/${r.name}`;

/** Builds the delivery-backed sink. */
export function createNotificationSink(o: NotificationSinkOptions): DeliveringSink {
  const readSecret = secretReader(o.clients);
  const resolved = new Map<string, Resolved>();
  const resolving = new Map<string, Promise<Resolved>>();
  /** rollout key → message key → destinations still owed the message. */
  const owed = new Map<string, Map<string, Set<string>>>();
  const delivered = new Map<string, string[]>();
  let wake = o.onDelivered;

  const delivery = new NotificationDelivery({
    ...o.delivery,
    metrics: { inc: (destination, outcome) => o.metrics.recordNotification(destination, outcome) },
    logger: o.log,
    onDelivered: (ref, key, destination) => {
      const byKey = owed.get(refKey(ref));
      const remaining = byKey?.get(key);
      if (!byKey || !remaining) return;
      remaining.delete(destination);
      if (remaining.size > 0) return;
      byKey.delete(key);
      const list = delivered.get(refKey(ref)) ?? [];
      list.push(key);
      delivered.set(refKey(ref), list);
      wake?.(ref.namespace, ref.name);
    },
  });

  const defaultRef = o.defaultSlackSecret?.split("/");

  async function resolve(rollout: Rollout, spec: RolloutSpec): Promise<Resolved> {
    const ns = rollout.metadata.namespace;
    if (spec.notifications) {
      const r = await resolveNotifications(spec, ns, readSecret);
      return { at: Date.now(), notifiers: r.notifiers, filter: r.filter };
    }
    if (defaultRef?.length === 2) {
      // Operator-configured (--slack-secret), so exempt from the opt-in label Rollout-named Secrets need.
      const data = (await readSecret(defaultRef[0]!, defaultRef[1]!))?.data;
      if (!data?.url) throw new Error(`default Slack Secret ${o.defaultSlackSecret} has no key url`);
      return { at: Date.now(), notifiers: [new SlackNotifier(data.url)], filter: {} };
    }
    return { at: Date.now(), notifiers: [], filter: {} };
  }

  function destinationsFor(rollout: Rollout, spec: RolloutSpec): Promise<Resolved> {
    const key = `${rollout.metadata.uid ?? refKey(rollout.metadata)}@${rollout.metadata.generation ?? 0}`;
    const cached = resolved.get(key);
    if (cached && Date.now() - cached.at < RESOLVE_TTL_MS) return Promise.resolve(cached);
    let pending = resolving.get(key);
    if (!pending) {
      pending = resolve(rollout, spec).finally(() => resolving.delete(key));
      pending.then((r) => resolved.set(key, r)).catch(() => {});
      resolving.set(key, pending);
    }
    return pending;
  }

  return {
    wants(spec: RolloutSpec): boolean {
      return Boolean(spec.notifications?.slack || spec.notifications?.webhook || defaultRef?.length === 2);
    },

    submit(rollout: Rollout, spec: RolloutSpec, n: PendingNotification): void {
      const ref: RolloutRef = {
        namespace: rollout.metadata.namespace,
        name: rollout.metadata.name,
        ...(rollout.metadata.uid ? { uid: rollout.metadata.uid } : {}),
      };
      const action: NotifyAction = {
        type: "Notify",
        event: n.event,
        severity: n.severity,
        message: n.message,
        key: n.key,
        revision: n.revision,
        weights: { primary: 100 - n.canaryWeight, canary: n.canaryWeight },
        ...(n.metric
          ? {
              failing: {
                metric: n.metric,
                verdict: "Fail",
                threshold: n.threshold ?? "",
                ...(n.value !== undefined ? { value: n.value } : {}),
              },
            }
          : {}),
      };
      destinationsFor(rollout, spec).then(
        ({ notifiers, filter }) => {
          const message = buildMessage(action, ref);
          const byKey = owed.get(refKey(ref)) ?? new Map<string, Set<string>>();
          owed.set(refKey(ref), byKey);
          const remaining = byKey.get(n.key) ?? new Set(notifiers.map((x) => x.name));
          byKey.set(n.key, remaining);
          let anyOwed = false;
          for (const notifier of notifiers) {
            const result = delivery.enqueue(notifier, message, filter);
            // Filtered messages are done on purpose: record them as delivered so status stops carrying them.
            if (result === "filtered") remaining.delete(notifier.name);
            else anyOwed = true;
          }
          if (!anyOwed && remaining.size === 0) {
            byKey.delete(n.key);
            delivered.set(refKey(ref), [...(delivered.get(refKey(ref)) ?? []), n.key]);
            wake?.(ref.namespace, ref.name);
          }
        },
        (err: unknown) => {
          o.log.warn(
            { rollout: refKey(ref), err: (err as Error)?.message },
            "notification destinations unavailable",
          );
        },
      );
    },

    takeDelivered(namespace: string, name: string): string[] {
      const key = `${namespace}/${name}`;
      const keys = delivered.get(key) ?? [];
      delivered.delete(key);
      return keys;
    },

    async drain(timeoutMs: number): Promise<void> {
      await delivery.drain(timeoutMs);
    },

    setOnDelivered(fn) {
      wake = fn;
    },
  };
}
