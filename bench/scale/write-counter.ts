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
}

interface EventObject extends KubernetesObject {
  reportingController?: string;
}

const CONTROLLER = "vireo.dev/controller";

/** Counts changes to the objects the controller writes. */
export class WriteCounter {
  readonly #informers: Informer[] = [];
  #armed = false;
  readonly #counts: WriteBreakdown = { rolloutStatus: 0, eventCreates: 0, eventSeries: 0, trafficSplits: 0 };

  constructor(clients: KubeClients) {
    const rollouts = new Informer({
      clients,
      resource: { group: "vireo.dev", version: "v1alpha1", plural: "rollouts" },
      resyncPeriodMs: 0,
    });
    rollouts.onUpdate((o, n) => {
      if (this.#armed && o.metadata?.resourceVersion !== n.metadata?.resourceVersion)
        this.#counts.rolloutStatus++;
    });
    const events = new Informer<EventObject>({
      clients,
      resource: { group: "events.k8s.io", version: "v1", plural: "events" },
      resyncPeriodMs: 0,
    });
    events.onAdd((e) => {
      if (this.#armed && e.reportingController === CONTROLLER) this.#counts.eventCreates++;
    });
    events.onUpdate((o, n) => {
      if (!this.#armed || n.reportingController !== CONTROLLER) return;
      if (o.metadata?.resourceVersion !== n.metadata?.resourceVersion) this.#counts.eventSeries++;
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
    for (const k of Object.keys(this.#counts) as (keyof WriteBreakdown)[]) this.#counts[k] = 0;
  }

  counts(): WriteBreakdown {
    return { ...this.#counts };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
  }
}
