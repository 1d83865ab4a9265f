// Connects the reconciler's notification outbox to asynchronous delivery: resolves each Rollout's destinations,
// enqueues without blocking, and reports settled keys (delivered, or rejected for good) until status records them.
import type { Rollout, RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { LruMap } from "../kube/lru.ts";
import type { Egress } from "../net/egress.ts";
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
/** How many Rollouts' destinations are cached (least recently used out; a deleted Rollout's at once). */
const RESOLVED_LIMIT = 10_000;

interface Resolved {
  at: number;
  notifiers: Notifier[];
  filter: NotificationFilter;
}

/** A Rollout's cached destinations, with what they were resolved from (to read its Secrets again). */
interface CachedDestinations {
  /** uid@generation: a spec change resolves again. */
  version: string;
  rollout: Rollout;
  spec: RolloutSpec;
  resolved: Resolved;
}

/** Options of {@link createNotificationSink}. */
export interface NotificationSinkOptions {
  clients: KubeClients;
  log: Logger;
  metrics: VireoMetrics;
  /** Where requests go out: tenants' URLs under the address policy, the default Slack Secret's as the operator's. */
  egress: Pick<Egress, "send">;
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
  /** Forgets a deleted Rollout: its cached destinations and any outcome status can no longer record. */
  forget(namespace: string, name: string): void;
}

const refKey = (r: RolloutRef) => `${r.namespace}/${r.name}`;

/** Builds the delivery-backed sink. */
export function createNotificationSink(o: NotificationSinkOptions): DeliveringSink {
  return new DeliveringNotificationSink(o);
}

/**
 * Per Rollout and message key, which destinations are still owed the message, why one rejected it for good, and
 * the outcomes not yet acknowledged; a message settles once no destination is owed it any more.
 */
class DeliveringNotificationSink implements DeliveringSink {
  readonly #o: NotificationSinkOptions;
  readonly #readSecret: ReturnType<typeof secretReader>;
  readonly #delivery: NotificationDelivery;
  readonly #defaultRef: string[] | undefined;
  /** rollout key → its destinations as last resolved. */
  readonly #resolved = new LruMap<string, CachedDestinations>(RESOLVED_LIMIT);
  /** `rollout key@version` → a resolution in flight (shared by concurrent submits). */
  readonly #resolving = new Map<string, Promise<Resolved>>();
  /** rollout key → message key → destinations still owed the message. */
  readonly #owed = new Map<string, Map<string, Set<string>>>();
  /** rollout key → message key → why the first destination rejected it for good. */
  readonly #failures = new Map<string, Map<string, string>>();
  /** rollout key → message key → outcome not yet acknowledged (written to status). */
  readonly #settled = new Map<string, Map<string, SettledNotification>>();
  /** `rollout key␟message key` → acknowledged outcome, oldest first (bounded). */
  readonly #acked = new Map<string, SettledNotification>();
  #wake: ((namespace: string, name: string) => void) | undefined;

  constructor(o: NotificationSinkOptions) {
    this.#o = o;
    this.#readSecret = secretReader(o.clients);
    this.#defaultRef = o.defaultSlackSecret?.split("/");
    this.#wake = o.onDelivered;
    this.#delivery = new NotificationDelivery({
      ...o.delivery,
      metrics: { inc: (destination, outcome) => o.metrics.recordNotification(destination, outcome) },
      logger: o.log,
      onDelivered: (ref, key, destination) => this.#destinationDone(ref, key, destination),
      refresh: (ref, notifier) => this.#refresh(ref, notifier),
      onFailed: (ref, key, destination, reason) => {
        const rk = refKey(ref);
        if (!this.#owed.get(rk)?.has(key)) return;
        const reasons = this.#failures.get(rk) ?? new Map<string, string>();
        // The reason names the destination already ("webhook: 4xx"): what the tenant may read, an outcome class.
        if (!reasons.has(key)) reasons.set(key, reason);
        this.#failures.set(rk, reasons);
        this.#destinationDone(ref, key, destination);
      },
    });
  }

  wants(spec: RolloutSpec): boolean {
    return Boolean(
      spec.notifications?.slack || spec.notifications?.webhook || this.#defaultRef?.length === 2,
    );
  }

  submit(rollout: Rollout, spec: RolloutSpec, n: PendingNotification): void {
    const ref: RolloutRef = {
      namespace: rollout.metadata.namespace,
      name: rollout.metadata.name,
      ...(rollout.metadata.uid ? { uid: rollout.metadata.uid } : {}),
    };
    const rk = refKey(ref);
    if (this.#settled.get(rk)?.has(n.key)) return;
    // Pending again after it was acknowledged: a status write from an older read dropped it. Report it again
    // instead of sending it again.
    const earlier = this.#acked.get(`${rk}\u241f${n.key}`);
    if (earlier) {
      this.#acked.delete(`${rk}\u241f${n.key}`);
      this.#outcome(ref, earlier);
      return;
    }
    this.#destinationsFor(rollout, spec).then(
      ({ notifiers, filter }) => {
        const message = buildMessage(notifyAction(n), ref);
        const byKey = this.#owed.get(rk) ?? new Map<string, Set<string>>();
        this.#owed.set(rk, byKey);
        const remaining = byKey.get(n.key) ?? new Set(notifiers.map((x) => x.name));
        byKey.set(n.key, remaining);
        for (const notifier of notifiers) {
          // Filtered messages are done on purpose: they count as delivered so status stops carrying them.
          if (this.#delivery.enqueue(notifier, message, filter) === "filtered")
            remaining.delete(notifier.name);
        }
        if (remaining.size === 0) this.#settle(ref, n.key);
      },
      (err: unknown) => {
        this.#o.log.warn(
          { rollout: rk, err: (err as Error)?.message },
          "notification destinations unavailable",
        );
      },
    );
  }

  delivered(namespace: string, name: string): SettledNotification[] {
    return [...(this.#settled.get(`${namespace}/${name}`)?.values() ?? [])];
  }

  acknowledge(namespace: string, name: string, keys: readonly string[]): void {
    const rk = `${namespace}/${name}`;
    const outcomes = this.#settled.get(rk);
    if (!outcomes) return;
    for (const key of keys) {
      const outcome = outcomes.get(key);
      if (!outcome) continue;
      outcomes.delete(key);
      this.#acked.set(`${rk}\u241f${key}`, outcome);
    }
    if (outcomes.size === 0) this.#settled.delete(rk);
    for (const oldest of this.#acked.keys()) {
      if (this.#acked.size <= ACKED_LIMIT) break;
      this.#acked.delete(oldest);
    }
  }

  async drain(timeoutMs: number): Promise<void> {
    await this.#delivery.drain(timeoutMs);
  }

  setOnDelivered(fn: (namespace: string, name: string) => void): void {
    this.#wake = fn;
  }

  forget(namespace: string, name: string): void {
    const rk = `${namespace}/${name}`;
    this.#resolved.delete(rk);
    this.#owed.delete(rk);
    this.#failures.delete(rk);
    this.#settled.delete(rk);
  }

  /** Records a message's outcome for the next reconcile, and wakes the Rollout so it is written soon. */
  #outcome(ref: RolloutRef, outcome: SettledNotification): void {
    const rk = refKey(ref);
    const outcomes = this.#settled.get(rk) ?? new Map<string, SettledNotification>();
    outcomes.set(outcome.key, outcome);
    this.#settled.set(rk, outcomes);
    this.#wake?.(ref.namespace, ref.name);
  }

  /** A message is settled once no destination is owed it any more. */
  #settle(ref: RolloutRef, key: string): void {
    const rk = refKey(ref);
    this.#owed.get(rk)?.delete(key);
    const failure = this.#failures.get(rk)?.get(key);
    this.#failures.get(rk)?.delete(key);
    this.#outcome(ref, failure === undefined ? { key } : { key, failure });
  }

  /** Marks `destination` done with `key`; settles the message when it was the last one owed. */
  #destinationDone(ref: RolloutRef, key: string, destination: string): void {
    const remaining = this.#owed.get(refKey(ref))?.get(key);
    if (!remaining) return;
    remaining.delete(destination);
    if (remaining.size === 0) this.#settle(ref, key);
  }

  async #resolve(rollout: Rollout, spec: RolloutSpec): Promise<Resolved> {
    const ns = rollout.metadata.namespace;
    if (spec.notifications) {
      const r = await resolveNotifications(spec, ns, this.#readSecret, this.#o.egress);
      return { at: Date.now(), notifiers: r.notifiers, filter: r.filter };
    }
    const defaultRef = this.#defaultRef;
    if (defaultRef?.length === 2) {
      // Operator-configured (--slack-secret), so exempt from the opt-in label Rollout-named Secrets need, and its
      // URL from the address policy: the operator may point it anywhere (docs/multi-tenancy.md).
      const data = (await this.#readSecret(defaultRef[0]!, defaultRef[1]!))?.data;
      if (!data?.url) throw new Error(`default Slack Secret ${this.#o.defaultSlackSecret} has no key url`);
      const slack = new SlackNotifier(data.url, { egress: this.#o.egress, trust: "operator" });
      return { at: Date.now(), notifiers: [slack], filter: {} };
    }
    return { at: Date.now(), notifiers: [], filter: {} };
  }

  /** The Rollout's destinations, resolved once per generation and reused for {@link RESOLVE_TTL_MS}. */
  #destinationsFor(rollout: Rollout, spec: RolloutSpec): Promise<Resolved> {
    const rk = refKey(rollout.metadata);
    const version = `${rollout.metadata.uid ?? ""}@${rollout.metadata.generation ?? 0}`;
    const cached = this.#resolved.get(rk);
    if (cached?.version === version && Date.now() - cached.resolved.at < RESOLVE_TTL_MS)
      return Promise.resolve(cached.resolved);
    const inFlight = `${rk}@${version}`;
    let pending = this.#resolving.get(inFlight);
    if (!pending) {
      pending = this.#resolve(rollout, spec).finally(() => this.#resolving.delete(inFlight));
      pending.then((r) => this.#resolved.set(rk, { version, rollout, spec, resolved: r })).catch(() => {});
      this.#resolving.set(inFlight, pending);
    }
    return pending;
  }

  /**
   * The destination `notifier` stands for, read again from its Secret now (the cache may be up to a minute old):
   * asked when it rejected a message for good, since a rotated Secret's revoked URL does exactly that.
   */
  async #refresh(ref: RolloutRef, notifier: Notifier): Promise<Notifier | undefined> {
    const cached = this.#resolved.get(refKey(ref));
    if (!cached) return undefined;
    const fresh = await this.#resolve(cached.rollout, cached.spec);
    this.#resolved.set(refKey(ref), { ...cached, resolved: fresh });
    return fresh.notifiers.find((n) => n.name === notifier.name);
  }
}

/** The notification status keeps, as the action the message builder reads. */
function notifyAction(n: PendingNotification): NotifyAction {
  return {
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
}
