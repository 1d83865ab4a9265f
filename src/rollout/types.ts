// The engine's contract: what the reconciler observed, what the engine wants done, and its decision.

import type { MetricMeasurement, MetricResult } from "../analysis/types.ts";
import type { CheckPoint } from "../api/check-schema.ts";
import type { InPlaceKind, Reason, RequestKind } from "../api/constants.ts";
import type { Claim, NotifyEvent, RolloutStatus } from "../api/rollout-schema.ts";
import type { MirrorMatch, RouteMatch } from "../api/traffic-route-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import type { WindowState } from "./windows.ts";

/** Traffic percentages; they always sum to 100. */
export interface Weights {
  primary: number;
  canary: number;
}

/** Requests matching any of `matches` go to the canary whatever the weight (a setHeaderRoute step). */
export interface HeaderRoute {
  name: string;
  matches: readonly RouteMatch[];
}

/** `percent` % of the requests matching any of `matches` are copied to the canary (a setMirror step). */
export interface MirrorRoute {
  name: string;
  percent: number;
  /** Defaults resolved: without matches in the step, GET and HEAD. */
  matches: readonly MirrorMatch[];
}

/**
 * The cookie rules of `sessionAffinity`. `assign`: while the canary has weight, the answering version sets its
 * cookie (valued `session`) and requests carrying it stay on that version. `expire`: once the rollout has ended,
 * requests carrying either cookie are answered by the primary with the cookie expired.
 */
export interface StickySession {
  mode: "assign" | "expire";
  /** Set by the canary's responses. */
  cookie: string;
  /** Set by the primary's responses (assign: only when primary clients are pinned; expire: always expired). */
  primaryCookie?: string;
  /** assign: the rollout attempt the cookies belong to; a cookie with another value is ignored and replaced. */
  session?: string;
  maxAgeSeconds: number;
  path: string;
  domain?: string;
  sameSite?: "Strict" | "Lax" | "None";
  secure: boolean;
  httpOnly: boolean;
}

/**
 * The routes Vireo manages beside the weights, in the order they take precedence: header routes (in the order
 * their steps installed them), the sticky cookie rules, then mirrors; the weighted split comes last.
 */
export interface ManagedRoutes {
  headerRoutes: readonly HeaderRoute[];
  mirrors: readonly MirrorRoute[];
  sticky?: StickySession;
}

/** What the reconciler saw of one Deployment. */
export interface WorkloadObservation {
  exists: boolean;
  /** Pod-template hash of the version it runs (primary: stamped by Vireo; canary: the user's template). */
  revision?: string;
  /** spec.replicas. */
  desiredReplicas: number;
  /** status.readyReplicas of the current template. */
  readyReplicas: number;
  /** The Deployment controller finished rolling out the current template (generation observed, all updated). */
  rolledOut: boolean;
  /** metadata.generation of the Deployment, recorded in status for the target so CI can match its own apply. */
  generation?: number;
}

/**
 * What the reconciler saw of HorizontalPodAutoscalers: the user's (its scaleTargetRef is the target Deployment) and
 * Vireo's copy of it for the primary.
 */
export interface AutoscalerObservation {
  /** The user's HPA's replica bounds; undefined when the target has none. */
  user?: { minReplicas: number; maxReplicas: number };
  /**
   * Vireo's primary HPA; undefined when it does not exist. `matchesUser`: its spec is the user's retargeted to the
   * primary (minReplicas aside, which the engine may raise while promoting).
   */
  primary?: { minReplicas: number; matchesUser: boolean };
}

/** One of the two backends: the primary (stable) or the canary (the user's Deployment, the new version). */
export type Side = "primary" | "canary";

/**
 * What the EndpointSlices say: the data plane (kube-proxy, an ingress, a mesh) routes by the slices, not by the
 * Deployments' status, so a switch of all traffic (blue/green) and any weight moved onto a backend from 0 % wait
 * for them. Blue/green reads every reconcile; the canary strategy reads a backend only while a route write may move
 * weight onto it from 0 % (see `switchTargets` in traffic.ts), and an unread count is undefined.
 */
export interface EndpointsObservation {
  /** Ready endpoints (distinct pods) in the slices of `<service>-primary`; undefined when not read. */
  primaryReady?: number;
  /** Ready endpoints (distinct pods) in the slices of `<service>-canary`; undefined when not read. */
  canaryReady?: number;
  /**
   * The side the preview Service selects, once its slices agree: no endpoint of the other side is listed and every
   * ready pod of this side is listed ready. null while it switches, or when it does not exist.
   */
  preview: Side | null;
}

/** One run of a check: which check, where, and which attempt of it within the rollout attempt. */
export interface CheckRunRef {
  name: string;
  point: CheckPoint;
  /** Step index, for point `step`. */
  step?: number;
  attempt: number;
}

/** A webhook call the controller finished for a run in status, or the refused create of a job run's Job. */
export interface CheckResult extends CheckRunRef {
  /** The rollout attempt of the run (status.rolloutStartedAt): runs of another attempt are other runs. */
  attemptId: string;
  passed: boolean;
  /** What status may show: the outcome class. */
  message: string;
}

/** A Job Vireo created for a check, as the cache holds it. */
export interface CheckJobObservation extends CheckRunRef {
  /** The rollout attempt it ran for (status.rolloutStartedAt when it was created). */
  attemptId: string;
  job: string;
  uid: string;
  state: "Running" | "Complete" | "Failed";
  /** For Failed: the condition's reason and the failed pod's termination message (sanitised, bounded). */
  message?: string;
}

/** What the reconciler saw of the checks' world. */
export interface CheckObservations {
  results: readonly CheckResult[];
  jobs: readonly CheckJobObservation[];
}

/** One pod of a StatefulSet or DaemonSet target. */
export interface PodObservation {
  name: string;
  uid: string;
  /** Its `controller-revision-hash` label: the revision of the workload it was made from. */
  hash: string;
  /** Its Ready condition is True. */
  ready: boolean;
  /** It is being deleted (deletionTimestamp set): as good as gone. */
  terminating: boolean;
  /** StatefulSet: the ordinal its name ends with. */
  ordinal?: number;
  /** DaemonSet: the node it runs on. */
  node?: string;
  /** DaemonSet: the labels of its node that the spec's node order and nodeSelector batches name. */
  nodeLabels?: Readonly<Record<string, string>>;
}

/**
 * What the reconciler saw of a StatefulSet or DaemonSet target, which Vireo updates in place (no primary copy): the
 * canary is the set of its pods at the update revision (src/rollout/in-place/, docs/workloads.md).
 */
export interface InPlaceObservation {
  kind: InPlaceKind;
  /** Pods the workload should run: a StatefulSet's spec.replicas, a DaemonSet's status.desiredNumberScheduled. */
  desired: number;
  /** The workload's controller has seen its current spec (status.observedGeneration): `updateHash` is current. */
  observed: boolean;
  /**
   * `controller-revision-hash` of pods made from the current template: a StatefulSet's status.updateRevision, a
   * DaemonSet's newest ControllerRevision. Undefined until the controller has made that revision.
   */
  updateHash?: string;
  /** StatefulSet: status.currentRevision, the revision pods below the partition are (re)created at. */
  currentHash?: string;
  /** The update strategy in spec. */
  strategy: "RollingUpdate" | "OnDelete";
  /** StatefulSet: spec.updateStrategy.rollingUpdate.partition (0 when unset). */
  partition: number;
  /**
   * How many pods may be unavailable at once while Vireo replaces pods itself: the workload's own
   * rollingUpdate.maxUnavailable as the user set it (before Vireo's hold), resolved against `desired`; at least 1.
   */
  maxUnavailable: number;
  /** The workload's pods (the ones it owns), in no particular order. */
  pods: readonly PodObservation[];
  /** A traffic split is configured (spec.service, StatefulSet only); without one traffic follows the pods. */
  split: boolean;
}

/** Why the Rollout may not act on something it names; the engine reports Invalid and touches none of it. */
export interface Refusal {
  reason: Extract<Reason, "OwnershipConflict" | "NotAllowed" | "RouteNotSupported">;
  /**
   * One sentence naming the object or host, and who holds it or which policy refuses it; or the managed route the
   * provider or its Gateways cannot serve.
   */
  message: string;
}

/** Who holds the objects the spec names (gathered by src/workload/claims.ts). */
export interface OwnershipObservation {
  /** The spec's target Deployment and root Service, as their claims are to be recorded (absent ones left out). */
  claims: readonly Claim[];
  /** Each of them that exists carries this Rollout's claim label `vireo.dev/rollout`. */
  labelled: boolean;
  /**
   * Every object `status.claims` records that the spec no longer names (a renamed targetRef or service) is handed
   * back: gone, or without this Rollout's claim label, which the hand-back removes last. True when there are none.
   */
  handedBack: boolean;
}

/** Everything the engine needs to know about the world; gathered by the reconciler before each decision. */
export interface Observations {
  /** Problems in the spec found by validation; non-empty means the engine changes no traffic. */
  specIssues: readonly SpecIssue[];
  /** What the Rollout may not touch; non-empty means the engine changes no traffic and writes to none of it. */
  refusals: readonly Refusal[];
  /** Whose the target and root Service are, and whether objects the spec stopped naming are handed back. */
  ownership: OwnershipObservation;
  /** The user's Deployment, which is also the canary workload. */
  canary: WorkloadObservation;
  /** `<name>-primary`, created by Vireo. */
  primary: WorkloadObservation;
  /** The root, primary and canary Services exist with the expected selectors. */
  servicesReady: boolean;
  /** Routes read back from the mesh; null when the routing object does not exist yet. */
  routes: Weights | null;
  /**
   * The managed routes the routing object holds (undefined: none); null when they cannot be read as the ones Vireo
   * wrote (edited, or removed by another writer): the engine writes them again.
   */
  managedRoutes?: ManagedRoutes | null;
  /** The mesh's access policy matches spec.accessPolicy (true when the spec has none and nothing is left over). */
  accessPolicyInSync: boolean;
  /** Analysis measured in this reconcile (only when `analysisDue` said so); undefined when none ran. */
  analysis?: readonly MetricMeasurement[];
  /** When that analysis was measured (default: now); the tick is stamped with it, so cadence ignores query latency. */
  analysisAt?: Date;
  /** Current values of the request annotations. */
  requests: Partial<Record<RequestKind, string>>;
  /** Deployment windows at `now`. */
  window: WindowState;
  /** HPAs of the target and the primary; undefined when neither exists (replicas then follow the Deployment). */
  autoscaler?: AutoscalerObservation;
  /** The EndpointSlices of the backend and preview Services (blue/green), or of the backends a switch may go to. */
  endpoints?: EndpointsObservation;
  /** Webhook results and check Jobs; undefined when the Rollout has none. */
  checks?: CheckObservations;
  /**
   * A StatefulSet or DaemonSet target (absent for a Deployment). `canary` then describes the target itself (exists,
   * revision of its template, generation); the engine derives the rest of `canary` and `primary` from the pods.
   */
  inPlace?: InPlaceObservation;
}

/** An intention the reconciler carries out, in order; each is idempotent. */
export type Action =
  /**
   * Hands back objects `status.claims` records that the spec no longer names, one step per reconcile: the old target
   * gets the stable template and its replicas, and once it serves, the old root Service its recorded selector; then
   * Vireo's routing and the objects it made for the old names go, and last the claim labels.
   */
  | { type: "HandBack"; claims: Claim[] }
  /**
   * Labels the target Deployment and root Service `vireo.dev/rollout: <rollout>` (fenced on the resourceVersions
   * observed, so of two Rollouts claiming at once one wins): the durable claim, made before anything is changed.
   */
  | { type: "ClaimObjects" }
  /**
   * Creates what is missing and repairs what drifted: backend Services, the root Service's selector, and the primary
   * — created only from a target that runs `revision` (never from an unverified template), with `replicas`.
   */
  | { type: "EnsureWorkloads"; revision: string; replicas: number }
  | { type: "ScaleCanaryUp" }
  /** Sets the primary's replicas (the user changed theirs, or someone scaled the primary by hand). */
  | { type: "ScalePrimary"; replicas: number }
  | { type: "ScaleCanaryDown" }
  /**
   * Makes the primary HPA the user's HPA retargeted to the primary, with `minReplicas` (the user's, or the floor a
   * promotion needs); created when missing. The HPA then owns the primary's replicas.
   */
  | { type: "SyncAutoscaler"; minReplicas: number }
  /** Deletes Vireo's primary HPA: the user's HPA is gone, so replicas follow the Deployment again. */
  | { type: "DeleteAutoscaler" }
  /** The split, and the managed routes beside it (undefined: none). */
  | { type: "SetRoutes"; weights: Weights; managed?: ManagedRoutes }
  /** Blue/green: points the preview Service at one side's pods (its selector becomes that backend Service's). */
  | { type: "PointPreview"; at: Side }
  /**
   * StatefulSet and DaemonSet targets: Vireo's hold on the update strategy — a StatefulSet's RollingUpdate
   * `partition` (pods at and above that ordinal run the update revision), a DaemonSet's `OnDelete` (no pod is
   * replaced but the ones Vireo deletes). Fenced on the workload's resourceVersion; carried out after status.
   */
  | { type: "HoldUpdates"; partition?: number }
  /**
   * Deletes these pods (each by uid) so the workload's controller makes them again: from the current template (a
   * DaemonSet, a StatefulSet ordinal at or above the partition) or the current revision (a StatefulSet ordinal
   * below it). Carried out after status, so a status that lost its write never had pods replaced for it.
   */
  | { type: "DeletePods"; pods: { name: string; uid: string }[] }
  /**
   * Puts the stable template (the ControllerRevision with `hash`) back into the workload whose template is the
   * rolled-back `from` revision; nothing if it holds another by then. Carried out after status.
   */
  | { type: "RestoreTemplate"; from: string; revision: string; hash: string }
  | { type: "ApplyAccessPolicy" }
  /** Copies the target's template (`revision`) to the primary; a lost primary is recreated with `replicas`. */
  | { type: "PromotePrimary"; revision: string; replicas: number }
  /** Creates the Job of a job check's run (adopting one of the same name); after the status write that records it. */
  | { type: "CreateCheckJob"; run: CheckRunRef; attemptId: string; revision: string }
  /** Deletes a check's Job with its pods (timed out, cancelled, or of an earlier attempt); after the status write. */
  | { type: "DeleteCheckJob"; job: string }
  | { type: "RecordEvent"; eventType: "Normal" | "Warning"; reason: Reason; message: string }
  | {
      type: "Notify";
      event: NotifyEvent;
      severity: "info" | "warning" | "error";
      message: string;
      /** De-duplication key: revision/attempt/event/discriminator; delivered keys are kept in status. */
      key: string;
      weights: Weights;
      revision: string;
      failing?: MetricResult;
    };

/** The engine's answer for one reconcile. */
export interface Decision {
  status: RolloutStatus;
  actions: Action[];
  /** Reconcile again after this many milliseconds even if nothing changes (timers, polls). */
  requeueAfterMs?: number;
}
