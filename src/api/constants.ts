// Wire strings of the Rollout API: group, version, annotation keys, phases, condition types and reasons.

/** API group of every Vireo resource. */
export const GROUP = "vireo.dev";
/** The served and stored version of the Rollout API. */
export const VERSION = "v1alpha1";
/** Plural resource name, as used in URLs and RBAC. */
export const PLURAL = "rollouts";
/** Kind of the Rollout resource. */
export const KIND = "Rollout";
/** apiVersion string for Rollout objects. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Kinds of the reusable analysis templates (src/api/template-schema.ts), and their plural resource names. */
export const TEMPLATE_KINDS = ["AnalysisTemplate", "ClusterAnalysisTemplate"] as const;
/** One of {@link TEMPLATE_KINDS}. */
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];
/** Plural resource name of each template kind, as used in URLs and RBAC. */
export const TEMPLATE_PLURALS = {
  AnalysisTemplate: "analysistemplates",
  ClusterAnalysisTemplate: "clusteranalysistemplates",
} as const satisfies Record<TemplateKind, string>;
/** API group of Argo Rollouts, whose AnalysisTemplates and ClusterAnalysisTemplates a Rollout may also name. */
export const ARGO_GROUP = "argoproj.io";
/** The version of Argo Rollouts' analysis templates that is read. */
export const ARGO_VERSION = "v1alpha1";
/** Groups whose templates a Rollout may name (`analysis.templates[].apiGroup`); Vireo's own first, the default. */
export const TEMPLATE_GROUPS = [GROUP, ARGO_GROUP] as const;
/** One of {@link TEMPLATE_GROUPS}. */
export type TemplateGroup = (typeof TEMPLATE_GROUPS)[number];
/** Finalizer that restores working traffic before a Rollout disappears. */
export const FINALIZER = `${GROUP}/traffic-restore`;
/**
 * Annotation that releases a Rollout being deleted at once (any non-empty value): the finalizer hands back what
 * it can without waiting for the user's Deployment to serve, then lets the Rollout go (docs/uninstall.md).
 */
export const FORCE_RELEASE_ANNOTATION = `${GROUP}/force-release`;
/** Field manager name used for every write Vireo makes. */
export const FIELD_MANAGER = "vireo";

/**
 * Annotations a person sets with `kubectl annotate --overwrite`. Each distinct value is one request: it is
 * acted on once and recorded in `status.handledRequests`, so a stale value never fires again.
 */
export const ANNOTATIONS = {
  promote: `${GROUP}/promote`,
  abort: `${GROUP}/abort`,
  pause: `${GROUP}/pause`,
  resume: `${GROUP}/resume`,
  retry: `${GROUP}/retry`,
  /** `<check name>` or `<check name>/<anything>`: approves that approval check while it waits. */
  approve: `${GROUP}/approve`,
} as const;
/** Names of the user request annotations. */
export type RequestKind = keyof typeof ANNOTATIONS;
/**
 * Value of `vireo.dev/promote` that skips every remaining step; `full-<anything>` means the same, so a second full
 * promotion of the same Rollout can carry a fresh value the controller sees as a new request.
 */
export const PROMOTE_FULL = "full";

/** Whether a `vireo.dev/promote` value asks for a full promotion (`full` or `full-<token>`). */
export function isFullPromote(value: string): boolean {
  return value === PROMOTE_FULL || value.startsWith(`${PROMOTE_FULL}-`);
}

/**
 * Labels Vireo puts on objects. Every object it creates carries all three; the target Deployment and root Service
 * it adopts carry `rollout` only — the durable claim that keeps a second Rollout off them (see docs/ownership.md).
 */
export const LABELS = {
  managedBy: "app.kubernetes.io/managed-by",
  rollout: `${GROUP}/rollout`,
  role: `${GROUP}/role`,
  /** On a check's Job: the check it runs. */
  check: `${GROUP}/check`,
} as const;

/** `vireo.dev/role` of the Jobs Vireo runs for checks. */
export const CHECK_ROLE = "check";

/**
 * Namespace label (value `"true"`) by which the operator lets Rollouts of that namespace run Job checks. A Job
 * check runs pods under a ServiceAccount the Rollout names, so whoever may write a Rollout there may run pods there:
 * a privilege the operator grants (or `--job-namespaces`), never a default.
 */
export const ALLOW_JOBS_LABEL = `${GROUP}/allow-jobs`;

/**
 * Annotations on every object Vireo generates (primary Deployment and HPA, backend and root Services, routing and
 * policy objects). They are not in Git, yet they may carry the user's labels — Argo CD's tracking label among them
 * — so a GitOps tool could count them as its own and prune or revert them: Argo CD leaves them out of the sync
 * status and never prunes them, Flux neither applies to nor prunes them.
 */
export const GITOPS_ANNOTATIONS = {
  "argocd.argoproj.io/compare-options": "IgnoreExtraneous",
  "argocd.argoproj.io/sync-options": "Prune=false",
  "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
  "kustomize.toolkit.fluxcd.io/prune": "disabled",
} as const;

/**
 * Annotation on a routing object Vireo writes managed routes into (header routes, mirrors, sticky cookies): the
 * routes as the engine asked for them and a digest of the rules that render them, so reading them back is exact
 * and an edit by anyone else shows as a difference.
 */
export const MANAGED_ROUTES_ANNOTATION = `${GROUP}/managed-routes`;

/**
 * Opt-in label a Secret must carry (value `"true"`) before a Rollout may name it (Prometheus credentials and CA,
 * Slack and webhook URLs). Without it, anyone who can create a Rollout could make the controller read any Secret
 * of their namespace and send it to an address of their choosing.
 */
export const ALLOW_REFERENCE_LABEL = `${GROUP}/allow-reference`;

/**
 * `spec.provider` values, in the order the schema and docs list them. src/mesh/registry.ts gives each exactly one
 * descriptor, and the compiler refuses a name without a descriptor or a descriptor without a name.
 */
export const MESH_PROVIDER_NAMES = ["istio", "linkerd", "smi", "gateway-api", "kubernetes"] as const;
/** A Rollout's `spec.provider`. */
export type MeshProvider = (typeof MESH_PROVIDER_NAMES)[number];
/**
 * The provider without a mesh: the root Service's selector is the route (blue/green only), so the root selecting the
 * canary's pods is a route, not drift for the workload manager to repair.
 */
export const SELECTOR_PROVIDER = "kubernetes" satisfies MeshProvider;

/**
 * Whose proxy metrics the builtin metrics read (`--metrics-mesh`): a mesh's sidecars or a Gateway's proxy. SMI and
 * GAMMA use the mesh underneath.
 */
export const METRICS_MESHES = ["istio", "linkerd", "traefik"] as const;
/** A data plane with builtin queries. */
export type MetricsMesh = (typeof METRICS_MESHES)[number];

/**
 * Kinds a Rollout can target (`spec.targetRef.kind`). A Deployment is canaried beside a `<name>-primary` copy; a
 * StatefulSet or DaemonSet is updated in place (docs/workloads.md): by partition, or by deleting a node batch's pods
 * under the `OnDelete` strategy.
 */
export const TARGET_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;
/** A Rollout's `spec.targetRef.kind`. */
export type TargetKind = (typeof TARGET_KINDS)[number];
/** Kinds updated in place: no primary copy, the canary is the set of pods at the update revision. */
export const IN_PLACE_KINDS = ["StatefulSet", "DaemonSet"] as const;
/** A kind updated in place. */
export type InPlaceKind = (typeof IN_PLACE_KINDS)[number];
/** Whether `kind` is updated in place (see {@link IN_PLACE_KINDS}). */
export const isInPlaceKind = (kind: string | undefined): kind is InPlaceKind =>
  (IN_PLACE_KINDS as readonly string[]).includes(kind ?? "");

/** Labels and annotations of StatefulSet and DaemonSet targets (src/workload/in-place.ts). */
export const IN_PLACE_KEYS = {
  /** Kubernetes' label on a workload's pods and ControllerRevisions: the revision the pod was made from. */
  revisionHash: "controller-revision-hash",
  /**
   * On a DaemonSet Vireo holds at OnDelete: the rollingUpdate.maxUnavailable it had before (the OnDelete strategy
   * has no such field), so Vireo deletes no more pods at once than the user's rolling update would, and gives it back.
   */
  maxUnavailable: `${GROUP}/max-unavailable`,
} as const;

/** Where a Rollout is in its life; `kubectl get` shows it, conditions carry the contract. */
export const PHASES = [
  "Initializing",
  "Healthy",
  "Progressing",
  "Paused",
  "Promoting",
  "Finalizing",
  "RolledBack",
  "Aborted",
  "Invalid",
] as const;
/** A phase of a Rollout. */
export type Phase = (typeof PHASES)[number];

/** Phases in which a new revision is on its way to stable: a canary in flight (the engine's IN_FLIGHT), or promoted. */
export const ROLLING_OUT: readonly Phase[] = ["Progressing", "Paused", "Promoting", "Finalizing"];
/** Whether `phase` (as read from any status, so any string) is one of {@link ROLLING_OUT}. */
export const isRollingOut = (phase: string | undefined): boolean =>
  (ROLLING_OUT as readonly string[]).includes(phase ?? "");

/** Why a rollout is paused. */
export const PAUSE_REASONS = [
  "UserRequest",
  "PauseStep",
  "Inconclusive",
  "WindowClosed",
  "CheckFailed",
  "NoEvidence",
] as const;
/** A pause reason. */
export type PauseReason = (typeof PAUSE_REASONS)[number];

/** Condition types on a Rollout. */
export const CONDITION_TYPES = {
  /**
   * kstatus: True only when fully reconciled — the target's current revision is the stable one, served by a ready
   * primary with Services, routes and policy as intended — so Ready = not Reconciling and not Stalled.
   */
  ready: "Ready",
  /** kstatus (abnormal-true): the controller is still working towards the target's current revision. */
  reconciling: "Reconciling",
  /** kstatus (abnormal-true): the controller cannot make progress without a person (Degraded's reasons). */
  stalled: "Stalled",
  /** True while a canary is in flight and allowed to advance. */
  progressing: "Progressing",
  /** True when something needs a person: failed analysis, deadline, invalid spec, missing target. */
  degraded: "Degraded",
  /**
   * judge: sequential: True when the current step is estimated not to reach a verdict within its maxStepDuration at
   * today's traffic, or ran out of it without one; present only while such a rollout is in flight.
   */
  insufficientTraffic: "InsufficientTraffic",
} as const;

/** PascalCase reasons used in conditions and Events. One constant per reason so callers can switch on them. */
export const REASONS = {
  Initializing: "Initializing",
  Initialized: "Initialized",
  WaitingForPrimary: "WaitingForPrimary",
  Healthy: "Healthy",
  RolloutStarted: "RolloutStarted",
  StepAdvanced: "StepAdvanced",
  WaitingForCanary: "WaitingForCanary",
  WaitingForAnalysis: "WaitingForAnalysis",
  WaitingForRoutes: "WaitingForRoutes",
  /** Blue/green: the preview is not yet ready at full size in its EndpointSlices. */
  WaitingForPreview: "WaitingForPreview",
  /** Blue/green: all traffic moved to the new version (Event and notification). */
  CutOver: "CutOver",
  /** Blue/green: the new version serves everything; the old one stays warm until the window ends. */
  RollbackWindow: "RollbackWindow",
  /** A StatefulSet or DaemonSet step waits for its pods to run the new revision and be ready. */
  WaitingForPods: "WaitingForPods",
  /** Vireo put the stable template back into a StatefulSet or DaemonSet it rolled back (or is handing back). */
  TemplateRestored: "TemplateRestored",
  Paused: "Paused",
  PauseStep: "PauseStep",
  Resumed: "Resumed",
  WindowClosed: "WindowClosed",
  Suspended: "Suspended",
  AnalysisPassed: "AnalysisPassed",
  AnalysisFailed: "AnalysisFailed",
  AnalysisErrors: "AnalysisErrors",
  AnalysisInconclusive: "AnalysisInconclusive",
  CanaryNotReady: "CanaryNotReady",
  Promoting: "Promoting",
  Promoted: "Promoted",
  PromotedByUser: "PromotedByUser",
  Finalizing: "Finalizing",
  RolledBack: "RolledBack",
  ProgressDeadlineExceeded: "ProgressDeadlineExceeded",
  Aborted: "Aborted",
  Retried: "Retried",
  NewRevision: "NewRevision",
  RevisionReverted: "RevisionReverted",
  RequestIgnored: "RequestIgnored",
  /** A check started (its run is recorded in status.checks; the Job is created or the webhook called next). */
  CheckStarted: "CheckStarted",
  CheckPassed: "CheckPassed",
  CheckFailed: "CheckFailed",
  /** A person promoted past a check that had not passed. */
  CheckSkipped: "CheckSkipped",
  /** The rollout holds until checks pass (a hook, a check step, an approval). */
  WaitingForCheck: "WaitingForCheck",
  /** A person approved an approval check. */
  Approved: "Approved",
  /** A destination rejected a notification for good (HTTP 4xx other than 408/429, invalid URL); not retried. */
  NotificationFailed: "NotificationFailed",
  InvalidSpec: "InvalidSpec",
  /**
   * An object the Rollout names is another Rollout's, or is not Vireo's though it has the name Vireo would give its
   * own (`<service>-primary`): refused, nothing written to it; the message names the object and its owner.
   */
  OwnershipConflict: "OwnershipConflict",
  /** A host or gateway the Rollout names is outside what the operator allows its namespace (--allowed-hosts, --allowed-gateways). */
  NotAllowed: "NotAllowed",
  /** The spec names another target or root Service: the old ones are being handed back before the new are taken. */
  HandingBack: "HandingBack",
  /** The objects a renamed spec no longer names were handed back. */
  HandedBack: "HandedBack",
  TargetNotFound: "TargetNotFound",
  ReconcileError: "ReconcileError",
  /**
   * The provider, the API version the cluster serves or the Gateway's class cannot carry a managed route the spec
   * asks for (a header route, mirror or sticky session); nothing is written, the message says which and why.
   */
  RouteNotSupported: "RouteNotSupported",
  /** A Gateway did not accept Vireo's HTTPRoute; the message quotes the Gateway's own reason. */
  RouteNotAccepted: "RouteNotAccepted",
  Repaired: "Repaired",
  PrimaryLost: "PrimaryLost",
  PrimaryNotReady: "PrimaryNotReady",
  ServicesNotReady: "ServicesNotReady",
  RoutesNotInSync: "RoutesNotInSync",
  PolicyNotInSync: "PolicyNotInSync",
  PortsNotSplit: "PortsNotSplit",
  /** The Rollout is being deleted and the finalizer waits for the user's Deployment to serve again. */
  DeletionWaiting: "DeletionWaiting",
  /** The finalizer let the Rollout go without a complete hand-back (deadline passed, or release forced). */
  DeletionReleased: "DeletionReleased",
  /** InsufficientTraffic=True: at the traffic seen, the step's evidence is due after its maxStepDuration runs out. */
  EtaPastBudget: "EtaPastBudget",
  /** InsufficientTraffic=False: at the traffic seen, the step's evidence is due within its maxStepDuration. */
  EnoughTraffic: "EnoughTraffic",
  /** A step's maxStepDuration ran out without a verdict (and InsufficientTraffic=True while it waits). */
  NoEvidence: "NoEvidence",
  /** noEvidence: promote moved a rollout past a step without evidence. */
  PromotedWithoutEvidence: "PromotedWithoutEvidence",
} as const;
/** A condition or Event reason. */
export type Reason = (typeof REASONS)[keyof typeof REASONS];

/**
 * Reasons that mark a revision's life: besides an Event, each is recorded in `status.milestones`, which only the
 * controller writes, so `kubectl vireo history` and the dashboard show what Vireo did, not what any Event says.
 */
export const MILESTONE_REASONS = [
  REASONS.RolloutStarted,
  REASONS.NewRevision,
  REASONS.Retried,
  REASONS.PromotedByUser,
  // No longer recorded (Promoted says it), but statuses written before may hold it: the schema's enum keeps it.
  REASONS.Promoting,
  REASONS.Promoted,
  REASONS.RolledBack,
  REASONS.AnalysisFailed,
  REASONS.AnalysisErrors,
  REASONS.ProgressDeadlineExceeded,
  REASONS.Aborted,
  REASONS.RevisionReverted,
  REASONS.RequestIgnored,
] as const;
/** A milestone reason. */
export type MilestoneReason = (typeof MILESTONE_REASONS)[number];
/** How many milestones status keeps (the oldest go first). */
export const MILESTONES_KEPT = 20;

/**
 * What a tenant learns about a request the controller sent on its behalf (a notification, a Prometheus query to an
 * address it named, a check): the class of the answer and nothing of its content, so a URL cannot turn the
 * controller into a scanner that reports back what an internal service says.
 */
export const EGRESS_OUTCOMES = {
  ok: "2xx",
  redirect: "3xx",
  clientError: "4xx",
  serverError: "5xx",
  timeout: "timeout",
  refused: "refused-by-policy",
  network: "network",
  invalidUrl: "invalid-url",
} as const;
/**
 * Headers that say where a request goes or how it is framed (Host, hop-by-hop): the HTTP client sets them, never
 * a tenant (the load generator's headers, a web metric's).
 */
export const CLIENT_OWNED_HEADERS = [
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-connection",
] as const;
/** One of {@link EGRESS_OUTCOMES}. */
export type EgressOutcome = (typeof EGRESS_OUTCOMES)[keyof typeof EGRESS_OUTCOMES];
