// Watches every Rollout (admin identity, the project's own Informer) and records when each one did what.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Rollout } from "../../src/api/rollout-schema.ts";
import type { KubeClients } from "../../src/kube/clients.ts";
import { Informer } from "../../src/kube/informer.ts";

type RolloutObject = Rollout & KubernetesObject;

/** What the benchmark learned about one Rollout during the measured rollout. */
export interface RolloutTimeline {
  key: string;
  /** stableRevision before the push. */
  baseline: string | undefined;
  /** status.rolloutStartedAt of the new revision (controller clock, ms). */
  startedAt?: number;
  /** status.stepStartedAt per step index (controller clock, ms). */
  stepStartedAt: Map<number, number>;
  /** When the watch showed Healthy with a new stableRevision (bench clock, ms). */
  promotedAt?: number;
  /** RolledBack / Aborted / Invalid seen after the push. */
  failedPhase?: string;
}

const FAILED = new Set(["RolledBack", "Aborted", "Invalid"]);

/** A Rollout watch plus per-rollout timelines for the measured phase. */
export class RolloutTracker {
  readonly #informer: Informer<RolloutObject>;
  #timelines: Map<string, RolloutTimeline> | undefined;
  #promoted = 0;
  #failed = 0;
  #changed: (() => void) | undefined;

  constructor(clients: KubeClients) {
    this.#informer = new Informer<RolloutObject>({
      clients,
      resource: { group: "vireo.dev", version: "v1alpha1", plural: "rollouts" },
      resyncPeriodMs: 0,
    });
    const seen = (r: RolloutObject) => this.#observe(r);
    this.#informer.onAdd(seen);
    this.#informer.onUpdate((_o, n) => seen(n));
  }

  async start(): Promise<void> {
    this.#informer.start();
    await this.#informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** Rollouts in the cache by phase. */
  phases(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.#informer.list()) {
      const p = r.status?.phase ?? "(none)";
      out.set(p, (out.get(p) ?? 0) + 1);
    }
    return out;
  }

  /** Number of cached Rollouts that are Healthy with a stable revision (adopted). */
  healthyCount(): number {
    let n = 0;
    for (const r of this.#informer.list()) if (r.status?.phase === "Healthy" && r.status.stableRevision) n++;
    return n;
  }

  /** Begins the measured phase: remembers every Rollout's stable revision. */
  arm(): void {
    this.#timelines = new Map();
    this.#promoted = 0;
    this.#failed = 0;
    for (const r of this.#informer.list()) {
      const key = `${r.metadata.namespace}/${r.metadata.name}`;
      this.#timelines.set(key, { key, baseline: r.status?.stableRevision, stepStartedAt: new Map() });
    }
  }

  /** Promoted and failed counts since {@link arm}. */
  progress(): { promoted: number; failed: number; total: number } {
    return { promoted: this.#promoted, failed: this.#failed, total: this.#timelines?.size ?? 0 };
  }

  timelines(): RolloutTimeline[] {
    return [...(this.#timelines?.values() ?? [])];
  }

  /** Resolves on the next observed change, or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#changed = undefined;
        resolve();
      }, ms);
      this.#changed = () => {
        clearTimeout(t);
        this.#changed = undefined;
        resolve();
      };
    });
  }

  #observe(r: RolloutObject): void {
    const tl = this.#timelines?.get(`${r.metadata.namespace}/${r.metadata.name}`);
    const s = r.status;
    if (tl && s) {
      if (s.canaryRevision && s.canaryRevision !== tl.baseline && s.rolloutStartedAt)
        tl.startedAt ??= Date.parse(s.rolloutStartedAt);
      if (
        s.stepStartedAt &&
        s.currentStepIndex !== undefined &&
        (s.phase === "Progressing" || s.phase === "Paused")
      ) {
        if (!tl.stepStartedAt.has(s.currentStepIndex))
          tl.stepStartedAt.set(s.currentStepIndex, Date.parse(s.stepStartedAt));
      }
      if (tl.promotedAt === undefined && s.phase === "Healthy" && s.stableRevision !== tl.baseline) {
        tl.promotedAt = Date.now();
        this.#promoted++;
      }
      if (tl.failedPhase === undefined && s.phase && FAILED.has(s.phase)) {
        tl.failedPhase = s.phase;
        this.#failed++;
      }
    }
    this.#changed?.();
  }
}
