// What the reconciler talks to: one narrow interface per outside party, so tests hand it fakes and main.ts the real
// informer cache, workload manager, mesh adapters, status writer, event recorder, Prometheus and notifiers.
import type { TemplateLookup } from "../analysis/templates/resolve.ts";
import type { MetricMeasurement } from "../analysis/types.ts";
import type { Rollout, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import type { EventRecorder } from "../kube/event-recorder.ts";
import type { StatusWriter } from "../kube/status-writer.ts";
import type { ExposurePolicy } from "../mesh/exposure-policy.ts";
import type { MeshAdapter } from "../mesh/types.ts";
import type { InPlaceWorkloads } from "../workload/in-place.ts";
import type { WorkloadNames } from "../workload/names.ts";
import type { WorkloadManager } from "../workload/workload-manager.ts";
import type { AnalysisScheduler } from "./analysis-scheduler.ts";
import type { CheckRunner } from "./check-runner.ts";
import type { PendingNotification, SettledNotification } from "./outbox.ts";

/** Where Rollouts are read from (the informer cache). */
export interface RolloutSource {
  get(namespace: string, name: string): Rollout | undefined;
  /**
   * Whether a Rollout exists, in the cache or (another shard's, say) on the API server: a claim label naming a
   * Rollout that is gone no longer holds its object.
   */
  exists(namespace: string, name: string): Promise<boolean>;
}

/** Queries Prometheus for a Rollout's metrics. */
export interface AnalysisRunner {
  /** What this controller's analysis settings refuse in `spec` (e.g. a query it cannot confine), before any query. */
  specIssues?(spec: RolloutSpec, names: WorkloadNames): SpecIssue[];
  /** `status` tells judge: sequential metrics when the step started. */
  measure(
    spec: RolloutSpec,
    names: WorkloadNames,
    signal: AbortSignal,
    status?: RolloutStatus,
  ): Promise<MetricMeasurement[]>;
}

/** Hands notifications to the asynchronous delivery machinery; never blocks. */
export interface NotificationSink {
  /** True when the Rollout has somewhere to send notifications (else none are kept in status). */
  wants(spec: RolloutSpec): boolean;
  submit(rollout: Rollout, spec: RolloutSpec, notification: PendingNotification): void;
  /** Notifications settled (delivered, or rejected for good) and not yet acknowledged; does not consume them. */
  delivered(namespace: string, name: string): SettledNotification[];
  /** Forgets settled keys once a status write recorded them; until then {@link delivered} keeps reporting them. */
  acknowledge(namespace: string, name: string, keys: readonly string[]): void;
}

/** The mesh adapter for a Rollout's provider, made per reconcile (`MeshResolver.resolve` in mesh-resolver.ts). */
export type AdapterFor = (spec: RolloutSpec) => MeshAdapter;

/** Observability hooks. */
export interface ReconcileObserver {
  rolloutState(namespace: string, name: string, status: RolloutStatus): void;
  rolloutDeleted(namespace: string, name: string): void;
  analysisResults(
    namespace: string,
    name: string,
    status: RolloutStatus,
    previous: RolloutStatus | undefined,
  ): void;
  notificationsDropped(count: number): void;
}

/** A minimal structured logger. */
export interface ReconcileLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The workload operations the reconciler carries out; {@link WorkloadManager} implements them. */
export type WorkloadPort = Pick<
  WorkloadManager,
  | "snapshot"
  | "claim"
  | "removeMade"
  | "unclaim"
  | "ensure"
  | "scalePrimary"
  | "scaleCanary"
  | "promote"
  | "restore"
  | "release"
  | "syncAutoscaler"
  | "deleteAutoscaler"
  | "pointPreview"
  | "endpointSlices"
>;

/** The operations on StatefulSet and DaemonSet targets; {@link InPlaceWorkloads} implements them. */
export type InPlacePort = Pick<
  InPlaceWorkloads,
  "snapshot" | "claim" | "hold" | "deletePods" | "restoreTemplate" | "release"
>;

/** Rollout status and metadata writes; {@link StatusWriter} implements them. */
export type StatusPort = Pick<StatusWriter, "patchStatus" | "patchMetadata">;

/** Where Events go; {@link EventRecorder} implements it (and never rejects). */
export type EventPort = Pick<EventRecorder, "record">;

/** Everything the reconciler talks to. */
export interface ReconcilerDeps {
  rollouts: RolloutSource;
  workloads: WorkloadPort;
  /** StatefulSet and DaemonSet targets. */
  inPlace: InPlacePort;
  mesh: AdapterFor;
  statusWriter: StatusPort;
  events: EventPort;
  analysis: AnalysisRunner;
  notifications: NotificationSink;
  observer: ReconcileObserver;
  log: ReconcileLogger;
  now: () => Date;
  /** Runs the analysis measurements off the workers; its results wake the Rollout through the queue. */
  measurements: AnalysisScheduler;
  /** Hostnames and other namespaces' gateways the operator allows Rollouts to route (--allowed-hosts, …-gateways). */
  exposure: ExposurePolicy;
  /** Runs webhook and Job checks; absent: a Rollout with checks is Invalid (tests without them). */
  checks?: Pick<CheckRunner, "specIssues" | "observe" | "act" | "dispatch" | "forget">;
  /** How long a deleted Rollout waits for its workload to be handed back (default 10 min, --deletion-timeout). */
  deletionTimeoutMs?: number;
  /** Where analysis templates are read (the template informers); without it, a Rollout naming one is Invalid. */
  templates?: TemplateLookup;
}

/** What the work queue should do with the key next. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}
