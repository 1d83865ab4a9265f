// Connects the reconciler's notification outbox to asynchronous delivery: resolves each Rollout's destinations,
// enqueues without blocking, and reports settled keys (delivered, or rejected for good) until status records them.
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
import type { PendingNotification, SettledNotification } from "./outbox.ts";
import type { NotificationSink } from "./ports.ts";
import { secretReader } from "./secrets.ts";

/** How long resolved destinations (Secret reads) are reused before the Secret is read again. */
const RESOLVE_TTL_MS = 60_000;
/** How many acknowledged keys are remembered, so a key that status lost again is reported instead of resent. */
const ACKED_LIMIT = 10_000;

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
  /** Called when a Rollout has newly settled keys, so it is reconciled at once and records them in status. */
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
  /** rollout key → message key → why the first destination rejected it for good. */
  const failures = new Map<string, Map<string, string>>();
  /** rollout key → message key → outcome not yet acknowledged (written to status). */
  const settled = new Map<string, Map<string, SettledNotification>>();
  /** `rollout key␟message key` → acknowledged outcome, oldest first (bounded). */
  const acked = new Map<string, SettledNotification>();
  let wake = o.onDelivered;

  /** A message is settled once no destination is owed it any more. */
  function settle(ref: RolloutRef, key: string): void {
    const rk = refKey(ref);
    owed.get(rk)?.delete(key);
    const failure = failures.get(rk)?.get(key);
    failures.get(rk)?.delete(key);
    const outcomes = settled.get(rk) ?? new Map<string, SettledNotification>();
    outcomes.set(key, failure === undefined ? { key } : { key, failure });
    settled.set(rk, outcomes);
    wake?.(ref.namespace, ref.name);
  }

  /** Marks `destination` done with `key`; settles the message when it was the last one owed. */
  function destinationDone(ref: RolloutRef, key: string, destination: string): void {
    const remaining = owed.get(refKey(ref))?.get(key);
    if (!remaining) return;
    remaining.delete(destination);
    if (remaining.size === 0) settle(ref, key);
  }

  const delivery = new NotificationDelivery({
    ...o.delivery,
    metrics: { inc: (destination, outcome) => o.metrics.recordNotification(destination, outcome) },
    logger: o.log,
    onDelivered: (ref, key, destination) => destinationDone(ref, key, destination),
    onFailed: (ref, key, destination, reason) => {
      const rk = refKey(ref);
      if (!owed.get(rk)?.has(key)) return;
      const reasons = failures.get(rk) ?? new Map<string, string>();
      if (!reasons.has(key)) reasons.set(key, `${destination}: ${reason}`);
      failures.set(rk, reasons);
      destinationDone(ref, key, destination);
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
      const rk = refKey(ref);
      if (settled.get(rk)?.has(n.key)) return;
      // Pending again after it was acknowledged: a status write from an older read dropped it. Report it again
      // instead of sending it again.
      const earlier = acked.get(`${rk}\u241f${n.key}`);
      if (earlier) {
        acked.delete(`${rk}\u241f${n.key}`);
        const outcomes = settled.get(rk) ?? new Map<string, SettledNotification>();
        outcomes.set(n.key, earlier);
        settled.set(rk, outcomes);
        wake?.(ref.namespace, ref.name);
        return;
      }
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
          const byKey = owed.get(rk) ?? new Map<string, Set<string>>();
          owed.set(rk, byKey);
          const remaining = byKey.get(n.key) ?? new Set(notifiers.map((x) => x.name));
          byKey.set(n.key, remaining);
          for (const notifier of notifiers) {
            // Filtered messages are done on purpose: they count as delivered so status stops carrying them.
            if (delivery.enqueue(notifier, message, filter) === "filtered") remaining.delete(notifier.name);
          }
          if (remaining.size === 0) settle(ref, n.key);
        },
        (err: unknown) => {
          o.log.warn(
            { rollout: refKey(ref), err: (err as Error)?.message },
            "notification destinations unavailable",
          );
        },
      );
    },

    delivered(namespace: string, name: string): SettledNotification[] {
      return [...(settled.get(`${namespace}/${name}`)?.values() ?? [])];
    },

    acknowledge(namespace: string, name: string, keys: readonly string[]): void {
      const rk = `${namespace}/${name}`;
      const outcomes = settled.get(rk);
      if (!outcomes) return;
      for (const key of keys) {
        const outcome = outcomes.get(key);
        if (!outcome) continue;
        outcomes.delete(key);
        acked.set(`${rk}\u241f${key}`, outcome);
      }
      if (outcomes.size === 0) settled.delete(rk);
      for (const oldest of acked.keys()) {
        if (acked.size <= ACKED_LIMIT) break;
        acked.delete(oldest);
      }
    },

    async drain(timeoutMs: number): Promise<void> {
      await delivery.drain(timeoutMs);
    },

    setOnDelivered(fn) {
      wake = fn;
    },
  };
}
