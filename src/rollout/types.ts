// The engine's contract: what the reconciler observed, what the engine wants done, and its decision.

import type { MetricMeasurement, MetricResult } from "../analysis/types.ts";
import type { Reason, RequestKind } from "../api/constants.ts";
import type { Claim, NotifyEvent, RolloutStatus } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import type { WindowState } from "./windows.ts";

/** Traffic percentages; they always sum to 100. */
export interface Weights {
  primary: number;
  canary: number;
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
 * What the EndpointSlices say, read for blue/green rollouts: the data plane (kube-proxy, an ingress, a mesh) routes
 * by the slices, not by the Deployments' status, so a switch of all traffic waits for them.
 */
export interface EndpointsObservation {
  /** Ready endpoints (distinct pods) in the slices of `<service>-primary`. */
  primaryReady: number;
  /** Ready endpoints (distinct pods) in the slices of `<service>-canary`. */
  canaryReady: number;
  /**
   * The side the preview Service selects, once its slices agree: no endpoint of the other side is listed and every
   * ready pod of this side is listed ready. null while it switches, or when it does not exist.
   */
  preview: Side | null;
}

/** Why the Rollout may not act on something it names; the engine reports Invalid and touches none of it. */
export interface Refusal {
  reason: Extract<Reason, "OwnershipConflict" | "NotAllowed">;
  /** One sentence naming the object or host, and who holds it or which policy refuses it. */
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
  /** Blue/green only: the EndpointSlices of the backend and preview Services. */
  endpoints?: EndpointsObservation;
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
  | { type: "SetRoutes"; weights: Weights }
  /** Blue/green: points the preview Service at one side's pods (its selector becomes that backend Service's). */
  | { type: "PointPreview"; at: Side }
  | { type: "ApplyAccessPolicy" }
  /** Copies the target's template (`revision`) to the primary; a lost primary is recreated with `replicas`. */
  | { type: "PromotePrimary"; revision: string; replicas: number }
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
