// Vireo's Prometheus metrics on a private prom-client Registry (never the global one).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { PHASES } from "../api/constants.ts";
import type { WorkQueueMetrics } from "../kube/work-queue.ts";

/** Outcome label of `vireo_notifications_total`. */
export type NotificationOutcome = "sent" | "retried" | "dropped" | "failed";

/** Options for {@link VireoMetrics}. */
export interface VireoMetricsOptions {
  /** Register Node/process default metrics (unprefixed, so stock dashboards work). Default true. */
  defaultMetrics?: boolean;
  /** Phases published for `vireo_rollout_phase` (all get a 0/1 series per rollout once it is seen). */
  phases?: readonly string[];
}

/** The Rollout phases, each published as a 0/1 series of `vireo_rollout_phase`. */
export const DEFAULT_PHASES = PHASES;

/**
 * All Vireo metrics plus helpers that keep per-rollout series consistent (one phase at 1, the others 0) and
 * removable ({@link forgetRollout}) so deleted rollouts do not linger as stale series.
 */
export class VireoMetrics {
  /** The registry to expose on `/metrics`. */
  readonly registry: Registry;

  readonly rolloutPhase: Gauge<"namespace" | "name" | "phase">;
  readonly canaryWeight: Gauge<"namespace" | "name">;
  readonly rolloutStep: Gauge<"namespace" | "name">;
  readonly analysisResults: Counter<"namespace" | "name" | "metric" | "verdict">;
  readonly analysisDiscarded: Counter<"reason">;
  readonly reconcileDuration: Histogram<"result">;
  readonly reconcileErrors: Counter;
  readonly workqueueDepth: Gauge;
  readonly workqueueAdds: Counter;
  readonly workqueueRetries: Counter;
  readonly workqueueQueueDuration: Histogram;
  readonly workqueueWorkDuration: Histogram;
  readonly notifications: Counter<"destination" | "outcome">;
  readonly kubeRequests: Counter<"verb">;
  readonly telemetryRequests: Counter<"method" | "code">;
  readonly kubeBackoffs: Counter;
  readonly kubeBackoffSeconds: Counter;
  readonly clockSkew: Gauge;
  readonly leader: Gauge<"identity">;

  readonly #phases: Set<string>;
  // Label values each rollout has used, so forgetRollout can remove exactly its series.
  readonly #analysisSeries = new Map<string, Set<string>>();

  constructor(options: VireoMetricsOptions = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.#phases = new Set(options.phases ?? DEFAULT_PHASES);

    this.rolloutPhase = new Gauge({
      name: "vireo_rollout_phase",
      help: "Current phase of a rollout: 1 for the current phase, 0 for the others.",
      labelNames: ["namespace", "name", "phase"],
      registers,
    });
    this.canaryWeight = new Gauge({
      name: "vireo_rollout_canary_weight",
      help: "Percentage of traffic currently routed to the canary.",
      labelNames: ["namespace", "name"],
      registers,
    });
    this.rolloutStep = new Gauge({
      name: "vireo_rollout_step",
      help: "Index of the current canary step (0-based).",
      labelNames: ["namespace", "name"],
      registers,
    });
    this.analysisResults = new Counter({
      name: "vireo_analysis_results_total",
      help: "Analysis metric evaluations by verdict.",
      labelNames: ["namespace", "name", "metric", "verdict"],
      registers,
    });
    this.analysisDiscarded = new Counter({
      name: "vireo_analysis_measurements_discarded_total",
      help: "Analysis measurements thrown away because the Rollout moved on (new tick, step or revision) before use.",
      labelNames: ["reason"],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: "vireo_reconcile_duration_seconds",
      help: "Duration of reconciles by result (success, error, requeue).",
      labelNames: ["result"],
      // Fine between 50 ms and 500 ms, where a p99 objective (e.g. 200 ms) has to be read off exactly.
      buckets: [
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 30,
      ],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "vireo_reconcile_errors_total",
      help: "Reconciles that returned an error.",
      registers,
    });
    this.workqueueDepth = new Gauge({
      name: "vireo_workqueue_depth",
      help: "Keys waiting in the work queue.",
      registers,
    });
    this.workqueueAdds = new Counter({
      name: "vireo_workqueue_adds_total",
      help: "Keys added to the work queue (de-duplicated adds excluded).",
      registers,
    });
    this.workqueueRetries = new Counter({
      name: "vireo_workqueue_retries_total",
      help: "Rate-limited re-adds (retries after errors).",
      registers,
    });
    this.workqueueQueueDuration = new Histogram({
      name: "vireo_workqueue_queue_duration_seconds",
      help: "Time a key waits in the work queue before a worker takes it.",
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
      registers,
    });
    this.workqueueWorkDuration = new Histogram({
      name: "vireo_workqueue_work_duration_seconds",
      help: "Time a worker holds a key.",
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
      registers,
    });
    this.telemetryRequests = new Counter({
      name: "vireo_telemetry_requests_total",
      help: "Requests this server (/metrics, /healthz, /readyz) answered, by method (GET, HEAD or other) and status code: anything but GET and HEAD is someone else's mistake, or a probe of the controller.",
      labelNames: ["method", "code"],
      registers,
    });
    this.notifications = new Counter({
      name: "vireo_notifications_total",
      help: "Notification deliveries by destination and outcome (sent, retried, dropped, failed).",
      labelNames: ["destination", "outcome"],
      registers,
    });
    this.kubeRequests = new Counter({
      name: "vireo_kube_requests_total",
      help: "Kubernetes API requests by verb.",
      labelNames: ["verb"],
      registers,
    });
    this.kubeBackoffs = new Counter({
      name: "vireo_kube_backoffs_total",
      help: "Answers of the API server that asked for a back-off (429, or 5xx with Retry-After).",
      registers,
    });
    this.kubeBackoffSeconds = new Counter({
      name: "vireo_kube_backoff_seconds_total",
      help: "Seconds of back-off the API server asked for (every request waits them out).",
      registers,
    });
    this.clockSkew = new Gauge({
      name: "vireo_clock_skew_seconds",
      help: "The API server's clock minus this process's (the engine runs on the API server's time).",
      registers,
    });
    this.leader = new Gauge({
      name: "vireo_leader",
      help: "1 while this instance holds the leader lease.",
      labelNames: ["identity"],
      registers,
    });
  }

  /** Sets the phase series of a rollout: 1 for `phase`, 0 for every other known phase. */
  setRolloutPhase(namespace: string, name: string, phase: string): void {
    this.#phases.add(phase);
    for (const p of this.#phases) this.rolloutPhase.set({ namespace, name, phase: p }, p === phase ? 1 : 0);
  }

  /** Publishes the canary weight (0–100) and step index of a rollout. */
  setRolloutProgress(namespace: string, name: string, canaryWeight: number, step: number): void {
    this.canaryWeight.set({ namespace, name }, canaryWeight);
    this.rolloutStep.set({ namespace, name }, step);
  }

  /** Counts one analysis evaluation. */
  recordAnalysis(namespace: string, name: string, metric: string, verdict: string): void {
    const key = `${namespace}/${name}`;
    const series = this.#analysisSeries.get(key) ?? new Set<string>();
    this.#analysisSeries.set(key, series);
    series.add(JSON.stringify([metric, verdict]));
    this.analysisResults.inc({ namespace, name, metric, verdict });
  }

  /** Records one reconcile; `result` is e.g. `success`, `requeue` or `error` (errors also bump the error counter). */
  observeReconcile(result: string, seconds: number): void {
    this.reconcileDuration.observe({ result }, seconds);
    if (result === "error") this.reconcileErrors.inc();
  }

  /** Counts one notification delivery outcome. */
  recordNotification(destination: string, outcome: NotificationOutcome): void {
    this.notifications.inc({ destination, outcome });
  }

  /** Counts one Kubernetes API request (wire to `createKubeClients({ onRequest })`). */
  recordKubeRequest(verb: string): void {
    this.kubeRequests.inc({ verb });
  }

  /** Counts one server-requested back-off (wire to `createKubeClients({ onRetryAfter })`). */
  recordKubeBackoff(seconds: number): void {
    this.kubeBackoffs.inc();
    this.kubeBackoffSeconds.inc(seconds);
  }

  /** Publishes how far the API server's clock is ahead of ours (negative: behind). */
  setClockSkew(seconds: number): void {
    this.clockSkew.set(seconds);
  }

  /** Publishes whether `identity` leads. */
  setLeader(identity: string, leading: boolean): void {
    this.leader.set({ identity }, leading ? 1 : 0);
  }

  /** Hooks for {@link WorkQueue} feeding the `vireo_workqueue_*` metrics. */
  workQueueMetrics(): WorkQueueMetrics {
    return {
      depth: (n) => this.workqueueDepth.set(n),
      added: () => this.workqueueAdds.inc(),
      retried: () => this.workqueueRetries.inc(),
      queueLatency: (s) => this.workqueueQueueDuration.observe(s),
      workDuration: (s) => this.workqueueWorkDuration.observe(s),
    };
  }

  /** Removes every series of a deleted rollout. */
  forgetRollout(namespace: string, name: string): void {
    for (const phase of this.#phases) this.rolloutPhase.remove({ namespace, name, phase });
    this.canaryWeight.remove({ namespace, name });
    this.rolloutStep.remove({ namespace, name });
    const key = `${namespace}/${name}`;
    for (const s of this.#analysisSeries.get(key) ?? []) {
      const [metric, verdict] = JSON.parse(s) as [string, string];
      this.analysisResults.remove({ namespace, name, metric, verdict });
    }
    this.#analysisSeries.delete(key);
  }
}
