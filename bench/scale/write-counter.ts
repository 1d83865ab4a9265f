// Attributes the controller's writes to what they changed, by watching the objects it writes (admin identity):
// Rollout status, Events it reports, TrafficSplits. The controller's own counter only knows verbs.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClients } from "../../src/kube/clients.ts";
import { Informer } from "../../src/kube/informer.ts";

/** Writes seen since {@link WriteCounter.arm}, by kind. */
export interface WriteBreakdown {
  /** Rollout updates (status merge patches; finalizer changes would count too). */
  rolloutStatus: number;
  /** Events created by vireo, and series updates of repeated ones. */
  eventCreates: number;
  eventSeries: number;
  /** TrafficSplit creates and updates. */
  trafficSplits: number;
  /**
   * Rollout status writes by what they changed: each write counts once under every top-level status field it
   * changed (`conditions` split by condition type, e.g. `conditions.Ready`), so the table says why status was written.
   */
  statusFields: Record<string, number>;
  /** Events created or updated, by reason. */
  eventReasons: Record<string, number>;
}

interface EventObject extends KubernetesObject {
  reportingController?: string;
  reason?: string;
}

interface Condition {
  type: string;
  [field: string]: unknown;
}

/** The top-level status fields (conditions by type) that differ between two statuses. */
export function changedStatusFields(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): string[] {
  const a = before ?? {};
  const b = after ?? {};
  const out: string[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === "conditions") {
      const byType = (list: unknown) =>
        new Map(((list as Condition[] | undefined) ?? []).map((c) => [c.type, JSON.stringify(c)]));
      const ca = byType(a[key]);
      const cb = byType(b[key]);
      for (const type of new Set([...ca.keys(), ...cb.keys()]))
        if (ca.get(type) !== cb.get(type)) out.push(`conditions.${type}`);
    } else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) out.push(key);
  }
  return out.sort();
}

const bump = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1;
};

const CONTROLLER = "vireo.dev/controller";

/** Counts changes to the objects the controller writes. */
export class WriteCounter {
  readonly #informers: Informer[] = [];
  #armed = false;
  #counts: WriteBreakdown = WriteCounter.#zero();

  static #zero(): WriteBreakdown {
    return {
      rolloutStatus: 0,
      eventCreates: 0,
      eventSeries: 0,
      trafficSplits: 0,
      statusFields: {},
      eventReasons: {},
    };
  }

  constructor(clients: KubeClients) {
    const rollouts = new Informer({
      clients,
      resource: { group: "vireo.dev", version: "v1alpha1", plural: "rollouts" },
      resyncPeriodMs: 0,
    });
    rollouts.onUpdate((o, n) => {
      if (!this.#armed || o.metadata?.resourceVersion === n.metadata?.resourceVersion) return;
      this.#counts.rolloutStatus++;
      const status = (x: KubernetesObject) => (x as { status?: Record<string, unknown> }).status;
      for (const field of changedStatusFields(status(o), status(n))) bump(this.#counts.statusFields, field);
    });
    const events = new Informer<EventObject>({
      clients,
      resource: { group: "events.k8s.io", version: "v1", plural: "events" },
      resyncPeriodMs: 0,
    });
    events.onAdd((e) => {
      if (!this.#armed || e.reportingController !== CONTROLLER) return;
      this.#counts.eventCreates++;
      bump(this.#counts.eventReasons, e.reason ?? "");
    });
    events.onUpdate((o, n) => {
      if (!this.#armed || n.reportingController !== CONTROLLER) return;
      if (o.metadata?.resourceVersion === n.metadata?.resourceVersion) return;
      this.#counts.eventSeries++;
      bump(this.#counts.eventReasons, n.reason ?? "");
    });
    const splits = new Informer({
      clients,
      resource: { group: "split.smi-spec.io", version: "v1alpha4", plural: "trafficsplits" },
      resyncPeriodMs: 0,
    });
    const split = () => {
      if (this.#armed) this.#counts.trafficSplits++;
    };
    splits.onAdd(split);
    splits.onUpdate((o, n) => {
      if (o.metadata?.resourceVersion !== n.metadata?.resourceVersion) split();
    });
    this.#informers.push(rollouts as Informer, events as unknown as Informer, splits as Informer);
  }

  async start(): Promise<void> {
    for (const i of this.#informers) i.start();
    await Promise.all(this.#informers.map((i) => i.waitForSync()));
  }

  /** Starts counting from zero. */
  arm(): void {
    this.#armed = true;
    this.#counts = WriteCounter.#zero();
  }

  counts(): WriteBreakdown {
    const c = this.#counts;
    return { ...c, statusFields: { ...c.statusFields }, eventReasons: { ...c.eventReasons } };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
  }
}
