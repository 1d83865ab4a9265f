// The Rollout API (vireo.dev/v1alpha1) as zod schemas: the single source of truth for TypeScript types, runtime
// validation and the generated CRD. Cross-field rules are written twice on purpose: as CEL (`x-kubernetes-validations`,
// enforced by `kubectl apply`) and as zod refinements (enforced by the controller on objects that predate the CRD).
import * as z from "zod";
import {
  CHECK_LIMITS,
  CHECK_REFERENCE_RULES,
  CheckRunSchema,
  CheckSchema,
  checkNames,
  checkReferenceIssues,
  HooksSchema,
} from "./check-schema.ts";
import {
  MESH_PROVIDER_NAMES,
  MILESTONE_REASONS,
  MILESTONES_KEPT,
  PAUSE_REASONS,
  PHASES,
  TARGET_KINDS,
} from "./constants.ts";
import { NAME_SUFFIXES } from "./derived-names.ts";
import { GATEWAY_MATCH_CEL, gatewayMatchIssues } from "./gateway-route-budget.ts";
import { GatewayApiSchema } from "./gateway-route-schema.ts";
import type { ObjectMeta } from "./object-meta.ts";
import { cel, duration, labelName, objectName, percent } from "./schema-fields.ts";
import { SecretKeyRefSchema } from "./secret-ref.ts";
import { TemplateRefsSchema } from "./template-ref-schema.ts";
import {
  ROUTE_LIMITS,
  ROUTE_STEP_CEL,
  routeStepIssues,
  SessionAffinitySchema,
  SetHeaderRouteSchema,
  SetMirrorSchema,
} from "./traffic-route-schema.ts";
import { WebMetricSchema } from "./web-metric-schema.ts";

/** An Istio `hosts` entry: a hostname, `*.` and a domain, or `*`. */
const ISTIO_HOST = "^(\\*|(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$";
/** An Istio `gateways` entry: mesh, a Gateway of this namespace, or namespace/name (not the legacy dotted FQDN). */
const ISTIO_GATEWAY =
  "^(mesh|[a-z0-9]([-a-z0-9]*[a-z0-9])?|[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$";
/** DNS-1035 label: what the API server demands of a Service name (a letter first). */
export const DNS_1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";

/**
 * Limits of the names Vireo derives (see src/workload/limits.ts for the ones that depend on the cluster). The
 * longest suffix Vireo appends is `-primary` (8 characters).
 */
export const NAME_LIMITS = {
  /** Label values, and so Rollout names (every object Vireo creates carries `vireo.dev/rollout: <name>`). */
  labelValue: 63,
  /** Service names (DNS-1035 labels). */
  serviceName: 63,
  /** Deployment names (DNS-1123 subdomains). */
  objectName: 253,
  /** Longest suffix appended to a derived name. */
  suffix: 8,
  /** A Gateway API / Linkerd HTTPRoute path match value. */
  httpRoutePath: 1024,
} as const;
/** Longest root Service name: `<name>-primary` must still be a Service name. */
export const MAX_SERVICE_NAME = NAME_LIMITS.serviceName - NAME_LIMITS.suffix;
/** Longest target Deployment name: `<name>-primary` must still be a Deployment name. */
export const MAX_TARGET_NAME = NAME_LIMITS.objectName - NAME_LIMITS.suffix;
/** Longest Rollout name: it is the value of the `vireo.dev/rollout` label. */
export const MAX_ROLLOUT_NAME = NAME_LIMITS.labelValue;
/** Longest pathRegex with provider linkerd: the route is written as `^(?:<pathRegex>).*` (7 more). */
export const MAX_LINKERD_PATH_REGEX = NAME_LIMITS.httpRoutePath - "^(?:).*".length;

const SERVICE_NAME_TOO_LONG = `must be at most ${MAX_SERVICE_NAME} characters: Vireo creates <name>-primary and <name>-canary, and Service names are at most ${NAME_LIMITS.serviceName}`;
const SERVICE_NAME_SHAPE = "must start with a letter: Service names are DNS-1035 labels";
const TARGET_NAME_TOO_LONG = `must be at most ${MAX_TARGET_NAME} characters: Vireo creates the Deployment <name>-primary, and Deployment names are at most ${NAME_LIMITS.objectName}`;
const DEFAULT_SERVICE_NAME = `without service.name the Services are named after targetRef.name, which must then be a DNS-1035 label (a letter first, no dots) of at most ${MAX_SERVICE_NAME} characters; set service.name`;
const LINKERD_PATH_TOO_LONG = `with provider linkerd, pathRegex must be at most ${MAX_LINKERD_PATH_REGEX} characters: it is written as ^(?:<pathRegex>).* into a Linkerd HTTPRoute, whose path values are at most ${NAME_LIMITS.httpRoutePath}`;
const GATEWAY_API_ONLY = "gatewayApi is for provider gateway-api only";
const ONE_STRATEGY = "set exactly one of strategy.canary or strategy.blueGreen";
const SELECTOR_BLUE_GREEN_ONLY =
  "provider kubernetes switches the Service's selector, all traffic at once: it needs strategy.blueGreen (a canary's weights need a mesh or Gateway API)";
const SELECTOR_NO_POLICY =
  "provider kubernetes has no access-policy API: remove accessPolicy, or use a NetworkPolicy or a mesh provider";
/** Messages of the rules on target kinds (docs/workloads.md), shared by CEL, zod and the tests. */
export const KIND_MESSAGES = {
  serviceRequired: "a Deployment target needs service: the Service whose traffic is split",
  daemonSetSplit:
    "a DaemonSet gets no traffic split (each node's pod serves its own node): remove service, setWeight, setHeaderRoute, setMirror, sessionAffinity, accessPolicy and gatewayApi",
  splitNeedsService:
    "setWeight, setHeaderRoute, setMirror, sessionAffinity, accessPolicy and gatewayApi need service: without a traffic split, traffic follows the pods",
  inPlaceSteps:
    "StatefulSet and DaemonSet targets need explicit steps with at least one setUpdated (the stepWeight/maxWeight shorthand is for Deployments)",
  setUpdatedKind:
    "setUpdated is for StatefulSet and DaemonSet targets; a Deployment's canary runs all its replicas from the start",
  nodeKind: "setUpdated.nodeSelector and nodeOrder are for DaemonSet targets",
  blueGreenKind:
    "strategy.blueGreen is for Deployment targets: a StatefulSet or DaemonSet is updated in place, so there is no second full-size version to switch all traffic to; use strategy.canary with setUpdated steps",
} as const;
/** Messages of the name-limit rules, shared by CEL, zod and the tests. */
export const LIMIT_MESSAGES = {
  serviceNameTooLong: SERVICE_NAME_TOO_LONG,
  serviceNameShape: SERVICE_NAME_SHAPE,
  targetNameTooLong: TARGET_NAME_TOO_LONG,
  defaultServiceName: DEFAULT_SERVICE_NAME,
  linkerdPathTooLong: LINKERD_PATH_TOO_LONG,
} as const;
/** A five-field cron expression or a @macro; full parsing happens at runtime (see windows.ts). */
const CRON_SHAPE = "^(@(yearly|annually|monthly|weekly|daily|hourly)|(\\S+\\s+){4}\\S+)$";

/** Reference to the workload whose pod template changes start rollouts. */
export const TargetRefSchema = z
  .object({
    apiVersion: z.literal("apps/v1").default("apps/v1").describe("API version of the target; only apps/v1."),
    kind: z
      .enum(TARGET_KINDS)
      .default("Deployment")
      .describe(
        "Kind of the target. Deployment: canaried beside a <name>-primary copy Vireo creates. StatefulSet: updated in place by lowering updateStrategy.rollingUpdate.partition step by step. DaemonSet: updated in place node batch by node batch under the OnDelete strategy. See docs/workloads.md.",
      ),
    name: objectName(
      `Name of the user's workload, in the Rollout's namespace. A Deployment becomes the canary and Vireo creates <name>-primary, so at most ${MAX_TARGET_NAME} characters.`,
    )
      .meta({ "x-kubernetes-validations": [cel(`self.size() <= ${MAX_TARGET_NAME}`, TARGET_NAME_TOO_LONG)] })
      .refine((n) => n.length <= MAX_TARGET_NAME, { message: TARGET_NAME_TOO_LONG }),
  })
  .describe("The workload this Rollout manages.");

/**
 * A Service name Vireo derives others from: a DNS-1035 label short enough for the `-primary`/`-canary` suffixes
 * (CEL at apply, zod in the controller).
 */
const serviceName = (description: string) =>
  labelName(description)
    .meta({
      "x-kubernetes-validations": [
        cel(`self.size() <= ${MAX_SERVICE_NAME}`, SERVICE_NAME_TOO_LONG),
        cel(`self.matches('${DNS_1035_LABEL}')`, SERVICE_NAME_SHAPE),
      ],
    })
    .refine((n) => n.length <= MAX_SERVICE_NAME, { message: SERVICE_NAME_TOO_LONG })
    .refine((n) => new RegExp(DNS_1035_LABEL).test(n), { message: SERVICE_NAME_SHAPE });

/** The Service that clients call; Vireo owns its routing. */
export const ServiceSchema = z
  .object({
    name: serviceName(
      `Name of the root Service clients call. Defaults to the target's name. Vireo creates <name>-primary and <name>-canary beside it, so at most ${MAX_SERVICE_NAME} characters, a letter first.`,
    ).optional(),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .describe(
        "Port of the root Service whose traffic is split. Its other ports are carried to <name>-primary and <name>-canary; where their traffic goes: docs/rollout-guide.md#multi-port-services.",
      ),
    targetPort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("Container port traffic goes to. Defaults to port."),
    portName: labelName("Name of the Service port. Defaults to http.").optional(),
    gateways: z
      .array(
        z
          .string()
          .min(1)
          .max(253)
          .regex(new RegExp(ISTIO_GATEWAY), "must be mesh, a Gateway name, or namespace/name"),
      )
      .max(16)
      .optional()
      .describe(
        "Istio only: gateways the VirtualService binds to, in addition to the mesh: name (this namespace) or namespace/name. Gateways of other namespaces only where the operator allows them (--allowed-gateways).",
      ),
    hosts: z
      .array(
        z
          .string()
          .min(1)
          .max(253)
          .regex(new RegExp(ISTIO_HOST), "must be a lowercase hostname, *.domain or *"),
      )
      .max(16)
      .optional()
      .describe(
        "Istio only: extra hosts of the VirtualService. The Service's own name is always included. Hosts other than this Rollout's Services only where the operator allows them for the namespace (--allowed-hosts); a VirtualService applies mesh-wide.",
      ),
  })
  .describe("The Service whose traffic is split between primary and canary.");

/** Most pods (StatefulSet replicas, DaemonSet nodes) a setUpdated step may name. */
const MAX_UPDATED_REPLICAS = 100_000;

/** How many of a StatefulSet's or DaemonSet's pods run the new revision at a step (see docs/workloads.md). */
export const SetUpdatedSchema = z
  .object({
    replicas: z
      .number()
      .int()
      .min(1)
      .max(MAX_UPDATED_REPLICAS)
      .optional()
      .describe(
        "Pods that run the new revision from this step on: StatefulSet replicas (the highest ordinals), DaemonSet nodes (in node order). At most the workload's pods.",
      ),
    percent: percent(
      "Share of the pods that run the new revision from this step on, rounded up to a whole pod.",
    )
      .min(1)
      .optional(),
    nodeSelector: z
      .record(z.string().min(1).max(316), z.string().max(63))
      .optional()
      .describe(
        "DaemonSet only: every node with these labels runs the new revision from this step on (with the nodes of earlier steps), e.g. one zone.",
      ),
  })
  .describe(
    "StatefulSet and DaemonSet targets: how many pods run the new revision. Counts are cumulative and never decrease; the step waits until those pods are updated and ready, then for its analysis.",
  )
  .meta({
    "x-kubernetes-validations": [
      cel(
        "[has(self.replicas), has(self.percent), has(self.nodeSelector)].filter(x, x).size() == 1",
        "setUpdated needs exactly one of replicas, percent or nodeSelector",
      ),
      cel(
        "!has(self.nodeSelector) || self.nodeSelector.size() > 0",
        "setUpdated.nodeSelector needs at least one label",
      ),
    ],
  })
  .refine((u) => [u.replicas, u.percent, u.nodeSelector].filter((x) => x !== undefined).length === 1, {
    message: "setUpdated needs exactly one of replicas, percent or nodeSelector",
  })
  .refine((u) => u.nodeSelector === undefined || Object.keys(u.nodeSelector).length > 0, {
    message: "setUpdated.nodeSelector needs at least one label",
  });

/**
 * The kinds of step, one key each: a step sets exactly one. A new kind is one entry here (and its field below);
 * the one-of rule, in CEL and in zod, is built from this list.
 */
export const STEP_KINDS = [
  "setWeight",
  "pause",
  "check",
  "setUpdated",
  "setHeaderRoute",
  "setMirror",
] as const;
const STEP_ONE_OF = `a step needs exactly one of ${STEP_KINDS.join(", ")}`;

/** One step of a canary: exactly one of {@link STEP_KINDS}. */
export const StepSchema = z
  .object({
    setWeight: percent("Percentage of traffic sent to the canary at this step.").optional(),
    pause: z
      .object({
        duration: duration(
          "How long to wait before the next step. Without it the rollout waits until promoted (vireo.dev/promote or vireo.dev/resume).",
        ).optional(),
      })
      .describe("Hold the current weight for a while, or until a person promotes.")
      .optional(),
    check: labelName(
      "Run this check (a name from spec.checks) and hold the current weight until it passes (Flagger's confirm-traffic-increase). vireo.dev/promote skips it.",
    ).optional(),
    setUpdated: SetUpdatedSchema.optional(),
    setHeaderRoute: SetHeaderRouteSchema.optional(),
    setMirror: SetMirrorSchema.optional(),
  })
  .describe(
    "A canary step: set a weight, pause, run a check, install or remove a header route or a mirror, or (StatefulSet and DaemonSet) update more pods.",
  )
  .meta({
    "x-kubernetes-validations": [
      cel(`[${STEP_KINDS.map((k) => `has(self.${k})`).join(", ")}].filter(x, x).size() == 1`, STEP_ONE_OF),
    ],
  })
  .refine((s) => STEP_KINDS.filter((k) => s[k] !== undefined).length === 1, { message: STEP_ONE_OF });

const UPDATED_DECREASES =
  "setUpdated counts are cumulative: replicas (and percent) must not decrease from one step to the next";

/** The order in which a DaemonSet's nodes are updated (see docs/workloads.md#node-order-daemonsets). */
export const NodeOrderSchema = z
  .object({
    label: z
      .string()
      .min(1)
      .max(316)
      .describe("Node label whose value orders the nodes, e.g. topology.kubernetes.io/zone."),
    values: z
      .array(z.string().max(63))
      .max(100)
      .optional()
      .describe(
        "Values of the label in the order their nodes are updated; nodes with other values (or none) follow, by value. Without it, by value.",
      ),
  })
  .describe(
    "DaemonSet only: which nodes are updated first. Nodes an earlier setUpdated.nodeSelector names come first, then this order, then node name.",
  );

/** How traffic moves: explicit steps, or the stepWeight/maxWeight shorthand. */
export const CanaryStrategySchema = z
  .object({
    steps: z
      .array(StepSchema)
      .min(1)
      .max(50)
      .optional()
      .describe(
        "Ordered steps. setWeight values must not decrease. Mutually exclusive with stepWeight/maxWeight.",
      ),
    stepWeight: percent(
      "Shorthand: increase the canary weight by this much each step, up to maxWeight. Expands to setWeight steps.",
    )
      .min(1)
      .optional(),
    maxWeight: percent("Shorthand: the last canary weight before promotion. Defaults to 50.")
      .min(1)
      .optional(),
    sessionAffinity: SessionAffinitySchema.optional(),
    nodeOrder: NodeOrderSchema.optional(),
  })
  .describe("Canary strategy.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        "has(self.steps) != (has(self.stepWeight) || has(self.maxWeight))",
        "set either steps or stepWeight/maxWeight, not both and not neither",
      ),
      cel(
        "!has(self.steps) || self.steps.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted()",
        "setWeight values must not decrease from one step to the next",
        ".steps",
      ),
      cel(
        "!has(self.steps) || self.steps.filter(s, has(s.setUpdated) && has(s.setUpdated.percent)).map(s, s.setUpdated.percent).isSorted()",
        UPDATED_DECREASES,
        ".steps",
      ),
      cel(
        "!has(self.steps) || self.steps.filter(s, has(s.setUpdated) && has(s.setUpdated.replicas)).map(s, s.setUpdated.replicas).isSorted()",
        UPDATED_DECREASES,
        ".steps",
      ),
      cel(
        "!has(self.stepWeight) || !has(self.maxWeight) || self.stepWeight <= self.maxWeight",
        "stepWeight must not exceed maxWeight",
        ".stepWeight",
      ),
      cel(
        "has(self.steps) || has(self.stepWeight)",
        "stepWeight is required when maxWeight is set",
        ".stepWeight",
      ),
      ...ROUTE_STEP_CEL,
    ],
  })
  .superRefine((c, ctx) => {
    const hasShorthand = c.stepWeight !== undefined || c.maxWeight !== undefined;
    if ((c.steps !== undefined) === hasShorthand) {
      ctx.addIssue({
        code: "custom",
        message: "set either steps or stepWeight/maxWeight, not both and not neither",
      });
    }
    if (c.maxWeight !== undefined && c.stepWeight === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["stepWeight"],
        message: "stepWeight is required when maxWeight is set",
      });
    }
    if (c.stepWeight !== undefined && c.maxWeight !== undefined && c.stepWeight > c.maxWeight) {
      ctx.addIssue({ code: "custom", path: ["stepWeight"], message: "stepWeight must not exceed maxWeight" });
    }
    for (const key of ["percent", "replicas"] as const) {
      let before = 0;
      for (const [i, s] of (c.steps ?? []).entries()) {
        const n = s.setUpdated?.[key];
        if (n === undefined) continue;
        if (n < before)
          ctx.addIssue({ code: "custom", path: ["steps", i, "setUpdated", key], message: UPDATED_DECREASES });
        before = n;
      }
    }
    let last = -1;
    for (const [i, s] of (c.steps ?? []).entries()) {
      if (s.setWeight === undefined) continue;
      if (s.setWeight < last) {
        ctx.addIssue({
          code: "custom",
          path: ["steps", i, "setWeight"],
          message: `setWeight values must not decrease from one step to the next (${s.setWeight} after ${last})`,
        });
      }
      last = s.setWeight;
    }
    for (const issue of routeStepIssues(c.steps ?? [])) ctx.addIssue({ code: "custom", ...issue });
  });

/** Messages of the strategy rules (CEL and zod), for the tests. */
export const STRATEGY_MESSAGES = {
  oneStrategy: ONE_STRATEGY,
  selectorBlueGreenOnly: SELECTOR_BLUE_GREEN_ONLY,
  selectorNoPolicy: SELECTOR_NO_POLICY,
} as const;

/** Default `strategy.blueGreen.rollbackWindow`. */
export const DEFAULT_ROLLBACK_WINDOW = "5m";
/** Default `strategy.blueGreen.scaleDownDelay` (Argo Rollouts' `scaleDownDelaySeconds` default). */
export const DEFAULT_SCALE_DOWN_DELAY = "30s";
/** previewService names a Service Vireo already makes or the root. */
export const PREVIEW_NAME_TAKEN =
  "previewService must differ from the root Service and from the <service>-primary and <service>-canary Services Vireo creates";

/**
 * Blue/green: the new version runs at full size behind a preview Service, analysis judges it there, then one
 * cut-over moves all traffic; the old version stays warm for `rollbackWindow` (an abort or a failed analysis switches
 * back at once), then the new version is promoted. docs/blue-green.md.
 */
export const BlueGreenStrategySchema = z
  .object({
    previewService: serviceName(
      `Name of the preview Service Vireo creates: it selects the active pods until the new version is ready at full size, then the new pods only. Defaults to <service>${NAME_SUFFIXES.preview}; at most ${MAX_SERVICE_NAME} characters, a letter first.`,
    ).optional(),
    previewAnalysis: z
      .boolean()
      .default(true)
      .describe(
        "Judge the preview with analysis before the cut-over (a passing tick is needed). The preview serves no user, so its metrics come from the traffic you send it (smoke or load tests); false judges only after the cut-over.",
      ),
    autoPromotion: z
      .boolean()
      .default(true)
      .describe(
        "Cut over as soon as the preview is ready (and passed analysis). false: wait at the preview for vireo.dev/promote.",
      ),
    rollbackWindow: duration(
      "How long the old version stays warm at full size after the cut-over, counted from the first passing analysis tick at 100 % (from the cut-over without analysis). Analysis keeps running; an abort or a failed tick switches all traffic back at once. 0s promotes right after the cut-over.",
    ).default(DEFAULT_ROLLBACK_WINDOW),
    scaleDownDelay: duration(
      "How long the side that lost all traffic keeps running after the switch is confirmed, so proxies that apply routes or EndpointSlices later (kube-proxy, ingress controllers) still reach live pods.",
    ).default(DEFAULT_SCALE_DOWN_DELAY),
  })
  .describe("Blue/green strategy: a full-size preview, one verified cut-over, and a rollback window.");

/** Bounds a metric's value must stay within. */
export const ThresholdRangeSchema = z
  .object({
    min: z.number().optional().describe("Lowest passing value (inclusive)."),
    max: z.number().optional().describe("Highest passing value (inclusive)."),
  })
  .describe("Fixed bounds for the canary's value.")
  .meta({
    "x-kubernetes-validations": [
      cel("has(self.min) || has(self.max)", "thresholdRange needs min, max or both"),
      cel(
        "!has(self.min) || !has(self.max) || self.min <= self.max",
        "thresholdRange.min must not exceed max",
      ),
    ],
  })
  .refine((t) => t.min !== undefined || t.max !== undefined, {
    message: "thresholdRange needs min, max or both",
  })
  .refine((t) => t.min === undefined || t.max === undefined || t.min <= t.max, {
    message: "thresholdRange.min must not exceed max",
  });

/** Relative analysis: judge the canary against the primary measured in the same tick. */
export const CompareToPrimarySchema = z
  .object({
    maxDecrease: z
      .number()
      .min(0)
      .optional()
      .describe(
        "The canary may be at most this much below the primary (absolute units, e.g. 1 = one point).",
      ),
    maxIncrease: z
      .number()
      .min(0)
      .optional()
      .describe("The canary may be at most this much above the primary (absolute units)."),
    maxRatio: z
      .number()
      .gt(0)
      .optional()
      .describe("The canary may be at most this multiple of the primary, e.g. 1.2 for p99 latency."),
    minRatio: z
      .number()
      .gt(0)
      .optional()
      .describe("The canary must be at least this multiple of the primary."),
  })
  .describe("Compare the canary with the primary instead of (or as well as) fixed bounds.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        "has(self.maxDecrease) || has(self.maxIncrease) || has(self.maxRatio) || has(self.minRatio)",
        "compareToPrimary needs at least one of maxDecrease, maxIncrease, maxRatio, minRatio",
      ),
    ],
  })
  .refine((c) => Object.values(c).some((v) => v !== undefined), {
    message: "compareToPrimary needs at least one of maxDecrease, maxIncrease, maxRatio, minRatio",
  });

/** Names of the built-in metrics. */
export const BUILTIN_METRICS = ["request-success-rate", "request-duration"] as const;

/** How a metric's canary is judged (see MetricSchema.judge). */
export const METRIC_JUDGES = ["threshold", "ratio", "sequential"] as const;
const SEQUENTIAL_RULE =
  "judge sequential needs a builtin metric and takes no thresholdRange or compareToPrimary (it compares canary and primary counts itself)";
/** The fields only `judge: sequential` reads. */
const SEQUENTIAL_ONLY = ["alpha", "margin", "beta", "passMargin", "errorFloor", "minSamples"] as const;
const SEQUENTIAL_ONLY_RULE = `${SEQUENTIAL_ONLY.join(", ")} need judge: sequential`;
/** Defaults of the judge: sequential fields (errorFloor in percent); docs/analysis/evidence-budget.md says why. */
export const SEQUENTIAL_DEFAULTS = {
  alpha: 0.01,
  margin: 0.1,
  beta: 0.05,
  passMargin: 2,
  errorFloor: 0.1,
  minSamples: 0,
} as const;
const PASS_MARGIN_RULE = `passMargin (default ${SEQUENTIAL_DEFAULTS.passMargin}) must exceed margin (default ${SEQUENTIAL_DEFAULTS.margin}): a canary cannot be both tolerated and bad`;
const ERROR_FLOOR_RULE = "errorFloor is an error rate: it needs builtin request-success-rate";

const ONE_SOURCE = "a metric needs exactly one of builtin, query or web";

/** One metric checked at every analysis tick. */
export const MetricSchema = z
  .object({
    name: labelName("Name of the metric, unique within the Rollout; shown in status and notifications."),
    builtin: z
      .enum(BUILTIN_METRICS)
      .optional()
      .describe(
        "A built-in metric of the mesh: request-success-rate (percent of non-5xx responses) or request-duration (p99 in milliseconds).",
      ),
    query: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe(
        "A PromQL template. Variables: {{ namespace }}, {{ target }} (the workload being measured: canary, or primary for compareToPrimary), {{ canary }}, {{ primary }}, {{ service }}, {{ interval }}. Values are escaped for label matchers.",
      ),
    web: WebMetricSchema.optional(),
    window: duration(
      "Range of the query ({{ interval }} of a web metric), e.g. 1m. Defaults to the analysis interval.",
    ).optional(),
    thresholdRange: ThresholdRangeSchema.optional(),
    compareToPrimary: CompareToPrimarySchema.optional(),
    reduce: z
      .enum(["sum", "avg", "min", "max"])
      .optional()
      .describe(
        "How to reduce a query that returns several series (or a web metric's jsonPath that selects several values). Without it, several is an error.",
      ),
    judge: z
      .enum(METRIC_JUDGES)
      .optional()
      .describe(
        "How the canary is judged. threshold: thresholdRange only; ratio: compareToPrimary only; sequential: an anytime-valid sequential test of the canary's error counts (request-success-rate) or slow requests above the pooled p99 bucket (request-duration) against the primary's, over the step so far, which may be evaluated every tick without inflating false alarms. Without it, every bound given is checked.",
      ),
    alpha: z
      .number()
      .gt(0)
      .max(0.5)
      .optional()
      .describe(
        `judge: sequential only. Highest probability of rolling back a canary that is no worse than the primary (within margin); the evidence needed to fail is 1/alpha. Default ${SEQUENTIAL_DEFAULTS.alpha}.`,
      ),
    margin: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .describe(
        `judge: sequential only. Tolerated relative increase of the canary's error (or slow-request) rate over the primary's before it counts as worse, e.g. 0.2 = 20 % more. Default ${SEQUENTIAL_DEFAULTS.margin}.`,
      ),
    beta: z
      .number()
      .gt(0)
      .max(0.5)
      .optional()
      .describe(
        `judge: sequential only. Highest probability of passing a step for a canary whose rate is (1 + passMargin) times the primary's or worse (and above errorFloor); the evidence needed to pass is 1/beta. Default ${SEQUENTIAL_DEFAULTS.beta}.`,
      ),
    passMargin: z
      .number()
      .gt(0)
      .max(100)
      .optional()
      .describe(
        `judge: sequential only. The relative increase that makes a canary bad: a step passes only on evidence that the canary's rate is below (1 + passMargin) times the primary's (or below errorFloor). Must exceed margin. Default ${SEQUENTIAL_DEFAULTS.passMargin} (3 times the primary's).`,
      ),
    errorFloor: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .describe(
        `judge: sequential on request-success-rate only. An error rate, in percent, low enough to pass whatever the primary's: a step also passes on evidence that the canary's error rate is below it, which is how a service without errors passes (0 errors in about 6,100 canary requests at 0.1, 1,200 at 0.5). 0 turns it off. Default ${SEQUENTIAL_DEFAULTS.errorFloor}.`,
      ),
    minSamples: z
      .number()
      .int()
      .min(0)
      .max(100_000_000)
      .optional()
      .describe(
        `judge: sequential only. Canary requests a step must serve before it may pass, on top of the evidence (a step never passes without it). Default ${SEQUENTIAL_DEFAULTS.minSamples}.`,
      ),
  })
  .describe("A metric the canary must satisfy at every analysis tick.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        "(has(self.builtin) ? 1 : 0) + (has(self.query) ? 1 : 0) + (has(self.web) ? 1 : 0) == 1",
        ONE_SOURCE,
      ),
      cel(
        "has(self.thresholdRange) || has(self.compareToPrimary) || (has(self.judge) && self.judge == 'sequential')",
        "a metric needs thresholdRange, compareToPrimary or both",
      ),
      cel(
        "!has(self.judge) || self.judge != 'sequential' || (has(self.builtin) && !has(self.thresholdRange) && !has(self.compareToPrimary))",
        SEQUENTIAL_RULE,
      ),
      cel(
        "!has(self.judge) || self.judge != 'threshold' || has(self.thresholdRange)",
        "judge threshold needs thresholdRange",
      ),
      cel(
        "!has(self.judge) || self.judge != 'ratio' || has(self.compareToPrimary)",
        "judge ratio needs compareToPrimary",
      ),
      cel(
        `(has(self.judge) && self.judge == 'sequential') || !(${SEQUENTIAL_ONLY.map((k) => `has(self.${k})`).join(" || ")})`,
        SEQUENTIAL_ONLY_RULE,
      ),
      cel(
        `(has(self.passMargin) ? self.passMargin : ${SEQUENTIAL_DEFAULTS.passMargin}.0) > (has(self.margin) ? self.margin : ${SEQUENTIAL_DEFAULTS.margin})`,
        PASS_MARGIN_RULE,
      ),
      cel(
        "!has(self.errorFloor) || (has(self.builtin) && self.builtin == 'request-success-rate')",
        ERROR_FLOOR_RULE,
      ),
    ],
  })
  .refine((m) => [m.builtin, m.query, m.web].filter((x) => x !== undefined).length === 1, {
    message: ONE_SOURCE,
  })
  .refine(
    (m) => m.thresholdRange !== undefined || m.compareToPrimary !== undefined || m.judge === "sequential",
    { message: "a metric needs thresholdRange, compareToPrimary or both" },
  )
  .refine(
    (m) =>
      m.judge !== "sequential" ||
      (m.builtin !== undefined && m.thresholdRange === undefined && m.compareToPrimary === undefined),
    { message: SEQUENTIAL_RULE },
  )
  .refine((m) => m.judge !== "threshold" || m.thresholdRange !== undefined, {
    message: "judge threshold needs thresholdRange",
  })
  .refine((m) => m.judge !== "ratio" || m.compareToPrimary !== undefined, {
    message: "judge ratio needs compareToPrimary",
  })
  .refine((m) => m.judge === "sequential" || SEQUENTIAL_ONLY.every((k) => m[k] === undefined), {
    message: SEQUENTIAL_ONLY_RULE,
  })
  .refine(
    (m) => (m.passMargin ?? SEQUENTIAL_DEFAULTS.passMargin) > (m.margin ?? SEQUENTIAL_DEFAULTS.margin),
    { message: PASS_MARGIN_RULE },
  )
  .refine((m) => m.errorFloor === undefined || m.builtin === "request-success-rate", {
    message: ERROR_FLOOR_RULE,
  });

/** Where and how to query Prometheus. */
export const PrometheusSchema = z
  .object({
    address: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, "must be an http(s) URL")
      .max(2048)
      .optional()
      .describe("Prometheus base URL. Defaults to the controller's --prometheus-url."),
    timeout: duration("Timeout of one query.").default("5s"),
    secretRef: z
      .object({
        name: objectName("Secret with either key token (bearer) or keys username and password (basic)."),
      })
      .optional()
      .describe("Credentials for Prometheus. Never logged."),
    insecureSkipVerify: z.boolean().default(false).describe("Skip TLS verification (testing only)."),
    caSecretRef: SecretKeyRefSchema.optional().describe(
      "Secret key holding a PEM CA bundle for Prometheus's TLS.",
    ),
  })
  .describe("Prometheus connection settings.");

/** What a step whose maxStepDuration ran out without a verdict does (`spec.analysis.noEvidence`). */
export const NO_EVIDENCE_POLICIES = ["pause", "promote", "rollback"] as const;
/** Default `spec.analysis.maxStepDuration`. */
export const DEFAULT_MAX_STEP_DURATION = "1h";

const ANALYSIS_CHECKS_NEED_TICKS =
  "analysis.checks run at analysis ticks, which need at least one metric (or template)";
const ANALYSIS_CHECKS_NEED_TICKS_CEL =
  "!has(self.checks) || size(self.checks) == 0 || (has(self.metrics) && size(self.metrics) > 0) || (has(self.templates) && size(self.templates) > 0)";

/** Canary analysis: which metrics, how often, and when to give up. */
export const AnalysisSchema = z
  .object({
    interval: duration(
      "How often metrics are checked. With metrics, each setWeight step lasts at least one interval (it needs a passing tick); without, a step ends once the mesh routes it.",
    ).default("30s"),
    failureLimit: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe("Failed checks (a metric out of bounds) during one rollout before it is rolled back."),
    consecutiveErrorLimit: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(4)
      .describe(
        "Consecutive checks that could not be evaluated (query errors) before the rollout is rolled back.",
      ),
    inconclusiveLimit: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe("Consecutive inconclusive checks (no data) before the rollout pauses for a person."),
    noData: z
      .enum(["inconclusive", "fail", "pass"])
      .default("inconclusive")
      .describe(
        "What a metric with no data means. Default inconclusive: the step holds and Vireo never promotes on silence.",
      ),
    maxStepDuration: duration(
      "How long a step gated by analysis may wait for a verdict (with judge: sequential, for evidence either way) before noEvidence decides. Resuming a paused rollout starts the step's budget again. The InsufficientTraffic condition turns True as soon as the estimate says the step will not make it.",
    ).default(DEFAULT_MAX_STEP_DURATION),
    noEvidence: z
      .enum(NO_EVIDENCE_POLICIES)
      .default("pause")
      .describe(
        "What happens when maxStepDuration runs out without a verdict. pause (default): a person decides (vireo.dev/resume waits another maxStepDuration, vireo.dev/promote moves on); promote: the step passes anyway, and the Event and notifications say promoted without evidence; rollback: traffic goes back to the primary.",
      ),
    historyLimit: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(10)
      .describe(
        "How many recent measurements per metric are kept in status. Status has a size budget (320 KiB besides lastValidSpec): when many metrics' full histories would outgrow it, the oldest measurements go first, each metric's newest last.",
      ),
    labels: z
      .object({
        workload: z
          .string()
          .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)
          .max(128)
          .optional()
          .describe(
            "Prometheus label holding the workload name (Istio destination_workload, Linkerd deployment).",
          ),
        namespace: z
          .string()
          .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)
          .max(128)
          .optional()
          .describe("Prometheus label holding the namespace."),
        revision: z
          .string()
          .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)
          .max(128)
          .optional()
          .describe(
            "StatefulSet and DaemonSet targets: Prometheus label holding the pod's controller-revision-hash label (default controller_revision_hash, as a scrape job's labelmap of pod labels names it).",
          ),
      })
      .optional()
      .describe("Overrides for built-in metric label names, for clusters that relabel mesh metrics."),
    prometheus: PrometheusSchema.optional(),
    metrics: z
      .array(MetricSchema)
      .max(20)
      .default([])
      .describe("Metrics checked at every tick. Empty means steps advance without analysis.")
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    templates: TemplateRefsSchema.optional(),
    checks: checkNames(
      "Checks (spec.checks) run at every analysis tick while the canary is judged, as Flagger's rollout webhooks: a failed or timed-out run counts against failureLimit like a failed metric, and a step completes only once each has passed a run started in it. A run still going at the next tick is not started again. Ticks need metrics (or templates).",
    ),
  })
  .describe("Prometheus analysis of the canary.")
  .meta({
    "x-kubernetes-validations": [cel(ANALYSIS_CHECKS_NEED_TICKS_CEL, ANALYSIS_CHECKS_NEED_TICKS, ".checks")],
  })
  .superRefine((a, ctx) => {
    if (a.checks?.length && a.metrics.length === 0 && !a.templates?.length)
      ctx.addIssue({ code: "custom", path: ["checks"], message: ANALYSIS_CHECKS_NEED_TICKS });
    const seen = new Set<string>();
    for (const [i, m] of a.metrics.entries()) {
      if (seen.has(m.name))
        ctx.addIssue({ code: "custom", path: ["metrics", i, "name"], message: "duplicate name" });
      seen.add(m.name);
    }
  });

/** A deployment window (allow) or blackout (deny). */
export const WindowSchema = z
  .object({
    kind: z
      .enum(["allow", "deny"])
      .describe("allow: rollouts progress only inside; deny: never progress inside."),
    schedule: z
      .string()
      .max(128)
      .regex(new RegExp(CRON_SHAPE), "must be a five-field cron expression such as '0 9 * * 1-5'")
      .describe("Cron expression (five fields) for when the window opens."),
    duration: duration("How long the window stays open after each start."),
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .default("UTC")
      .describe("IANA time zone of the schedule, e.g. Europe/Berlin."),
  })
  .describe("A time window gating progress. Deny wins over allow. Rollback and abort are never gated.");

/** Who may call the service, in SMI TrafficTarget terms. */
export const AccessPolicySchema = z
  .object({
    sources: z
      .array(
        z
          .object({
            serviceAccount: z
              .string()
              .max(63)
              .regex(/^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/, "must be a ServiceAccount name or *")
              .describe(
                "ServiceAccount name of an allowed caller; * allows every ServiceAccount of the namespace.",
              ),
            namespace: labelName("Namespace of the caller. Defaults to the Rollout's namespace.").optional(),
          })
          .describe("An allowed caller identity."),
      )
      .min(1)
      .max(100)
      .describe("Allowed callers. Both primary and canary get exactly this policy."),
    routes: z
      .array(
        z
          .object({
            pathRegex: z
              .string()
              .min(1)
              .max(1024)
              .optional()
              .describe(
                `Regular expression the request path must match. At most ${MAX_LINKERD_PATH_REGEX} characters with provider linkerd.`,
              ),
            methods: z
              .array(z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"]))
              .max(8)
              .optional()
              .describe("Allowed HTTP methods; omitted means all."),
          })
          .describe("An allowed route."),
      )
      .max(50)
      .optional()
      .describe("Allowed routes; omitted means every route."),
  })
  .describe("Access policy applied identically to primary and canary.");

/** Names of notification events. */
export const NOTIFY_EVENTS = [
  "Started",
  "StepAdvanced",
  "Paused",
  "Promoted",
  "RolledBack",
  "Aborted",
  "AnalysisFailed",
  "CheckPassed",
  "CheckFailed",
  "ApprovalRequested",
] as const;

/** Where Vireo reports. */
export const NotificationsSchema = z
  .object({
    slack: z
      .object({
        secretRef: SecretKeyRefSchema.describe(
          "Secret key holding the Slack incoming-webhook URL (default key: url).",
        ),
      })
      .optional()
      .describe("Slack incoming webhook."),
    webhook: z
      .object({
        secretRef: SecretKeyRefSchema.describe("Secret key holding the webhook URL (default key: url)."),
      })
      .optional()
      .describe("Generic JSON webhook."),
    events: z
      .array(z.enum(NOTIFY_EVENTS))
      .max(NOTIFY_EVENTS.length)
      .optional()
      .describe("Which events to send. Defaults to all."),
    minSeverity: z
      .enum(["info", "warning", "error"])
      .default("info")
      .describe("Drop messages below this severity."),
  })
  .describe("Notifications.");

/** What the rules on target kinds read of a spec (the parts that exist before defaulting, too). */
interface KindView {
  targetRef: { kind?: string };
  service?: unknown;
  gatewayApi?: unknown;
  accessPolicy?: unknown;
  strategy: {
    canary?: { steps?: readonly Step[]; nodeOrder?: unknown; sessionAffinity?: unknown } | undefined;
    blueGreen?: unknown;
  };
}
const hasSplit = (s: KindView) => s.service !== undefined;
const kindOf = (s: KindView) => s.targetRef.kind ?? "Deployment";
const steps = (s: KindView) => s.strategy.canary?.steps ?? [];
// CEL's has() tests only the last field: strategy.canary may be absent (blue/green), so it is tested first.
const CANARY_STEPS = "has(self.strategy.canary) && has(self.strategy.canary.steps)";
/** Parts of a spec that only a traffic split can carry: weights and the routes beside them. */
const SPLIT_PARTS = `has(self.gatewayApi) || has(self.accessPolicy) || (has(self.strategy.canary) && has(self.strategy.canary.sessionAffinity)) || (${CANARY_STEPS} && self.strategy.canary.steps.exists(s, has(s.setWeight) || has(s.setHeaderRoute) || has(s.setMirror)))`;
const hasSplitParts = (s: KindView) =>
  Boolean(s.gatewayApi || s.accessPolicy || s.strategy.canary?.sessionAffinity) ||
  steps(s).some(
    (x) => x.setWeight !== undefined || x.setHeaderRoute !== undefined || x.setMirror !== undefined,
  );

/**
 * Combinations of target kind and spec that make no sense, refused at `kubectl apply` (CEL) and by the controller
 * (zod) alike; each rule once, in both languages.
 */
const KIND_RULES: readonly { cel: string; holds: (s: KindView) => boolean; message: string; path: string }[] =
  [
    {
      cel: "self.targetRef.kind != 'Deployment' || has(self.service)",
      holds: (s) => kindOf(s) !== "Deployment" || hasSplit(s),
      message: KIND_MESSAGES.serviceRequired,
      path: ".service",
    },
    {
      cel: `self.targetRef.kind != 'DaemonSet' || !(has(self.service) || ${SPLIT_PARTS})`,
      holds: (s) => kindOf(s) !== "DaemonSet" || !(hasSplit(s) || hasSplitParts(s)),
      message: KIND_MESSAGES.daemonSetSplit,
      path: ".service",
    },
    {
      cel: `has(self.service) || !(${SPLIT_PARTS})`,
      holds: (s) => hasSplit(s) || !hasSplitParts(s),
      message: KIND_MESSAGES.splitNeedsService,
      path: ".service",
    },
    {
      cel: "self.targetRef.kind == 'Deployment' || !has(self.strategy.blueGreen)",
      holds: (s) => kindOf(s) === "Deployment" || s.strategy.blueGreen === undefined,
      message: KIND_MESSAGES.blueGreenKind,
      path: ".strategy.blueGreen",
    },
    {
      // A blue/green StatefulSet or DaemonSet is refused by the rule above, with the message that explains why.
      cel: `self.targetRef.kind == 'Deployment' || has(self.strategy.blueGreen) || (${CANARY_STEPS} && self.strategy.canary.steps.exists(s, has(s.setUpdated)))`,
      holds: (s) =>
        kindOf(s) === "Deployment" ||
        s.strategy.blueGreen !== undefined ||
        steps(s).some((x) => x.setUpdated !== undefined),
      message: KIND_MESSAGES.inPlaceSteps,
      path: ".strategy.canary.steps",
    },
    {
      cel: `self.targetRef.kind != 'Deployment' || !(${CANARY_STEPS}) || self.strategy.canary.steps.all(s, !has(s.setUpdated))`,
      holds: (s) => kindOf(s) !== "Deployment" || steps(s).every((x) => x.setUpdated === undefined),
      message: KIND_MESSAGES.setUpdatedKind,
      path: ".strategy.canary.steps",
    },
    {
      cel: `self.targetRef.kind == 'DaemonSet' || !has(self.strategy.canary) || (!has(self.strategy.canary.nodeOrder) && (!has(self.strategy.canary.steps) || self.strategy.canary.steps.all(s, !has(s.setUpdated) || !has(s.setUpdated.nodeSelector))))`,
      holds: (s) =>
        kindOf(s) === "DaemonSet" ||
        (s.strategy.canary?.nodeOrder === undefined &&
          steps(s).every((x) => x.setUpdated?.nodeSelector === undefined)),
      message: KIND_MESSAGES.nodeKind,
      path: ".strategy.canary",
    },
  ];

/** The full Rollout spec. */
export const RolloutSpecSchema = z
  .object({
    targetRef: TargetRefSchema,
    service: ServiceSchema.optional().describe(
      "The Service whose traffic is split between primary and canary. Required for a Deployment; for a StatefulSet it turns on the traffic split of docs/workloads.md#traffic; a DaemonSet has none.",
    ),
    provider: z
      .enum(MESH_PROVIDER_NAMES)
      .describe("Which mesh API renders the traffic split and access policy."),
    gatewayApi: GatewayApiSchema.optional(),
    strategy: z
      .object({
        canary: CanaryStrategySchema.optional(),
        blueGreen: BlueGreenStrategySchema.optional(),
      })
      .describe("Rollout strategy: exactly one of canary or blueGreen.")
      .meta({ "x-kubernetes-validations": [cel("has(self.canary) != has(self.blueGreen)", ONE_STRATEGY)] })
      .refine((st) => (st.canary !== undefined) !== (st.blueGreen !== undefined), { message: ONE_STRATEGY }),
    analysis: AnalysisSchema.default({
      interval: "30s",
      failureLimit: 2,
      consecutiveErrorLimit: 4,
      inconclusiveLimit: 10,
      noData: "inconclusive",
      maxStepDuration: DEFAULT_MAX_STEP_DURATION,
      noEvidence: "pause",
      historyLimit: 10,
      metrics: [],
    }),
    progressDeadlineSeconds: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(600)
      .describe(
        "Seconds a step may go without progress (canary not ready, routes not applied) before rollback.",
      ),
    windows: z.array(WindowSchema).max(20).optional().describe("Deployment windows and blackouts."),
    accessPolicy: AccessPolicySchema.optional(),
    notifications: NotificationsSchema.optional(),
    checks: z
      .array(CheckSchema)
      .max(CHECK_LIMITS.checks)
      .optional()
      .describe("Named checks (webhook, job, approval). hooks and steps (- check: <name>) run them by name.")
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    hooks: HooksSchema.optional(),
    suspend: z
      .boolean()
      .default(false)
      .describe("Do not start new rollouts. A rollout in flight holds its weight; abort still works."),
    skipAnalysis: z
      .boolean()
      .default(false)
      .describe("Advance steps without checking metrics. Promotion then does not depend on analysis."),
  })
  .describe("What to roll out and how.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        `!has(self.service) || has(self.service.name) || (self.targetRef.name.size() <= ${MAX_SERVICE_NAME} && self.targetRef.name.matches('${DNS_1035_LABEL}'))`,
        DEFAULT_SERVICE_NAME,
        ".targetRef.name",
      ),
      cel(
        `self.provider != 'linkerd' || !has(self.accessPolicy) || !has(self.accessPolicy.routes) || self.accessPolicy.routes.all(r, !has(r.pathRegex) || r.pathRegex.size() <= ${MAX_LINKERD_PATH_REGEX})`,
        LINKERD_PATH_TOO_LONG,
        ".accessPolicy.routes",
      ),
      cel("!has(self.gatewayApi) || self.provider == 'gateway-api'", GATEWAY_API_ONLY, ".gatewayApi"),
      cel(
        "self.provider != 'kubernetes' || has(self.strategy.blueGreen)",
        SELECTOR_BLUE_GREEN_ONLY,
        ".provider",
      ),
      cel("self.provider != 'kubernetes' || !has(self.accessPolicy)", SELECTOR_NO_POLICY, ".accessPolicy"),
      cel(
        `!has(self.strategy.blueGreen) || !has(self.strategy.blueGreen.previewService) || !([(has(self.service) && has(self.service.name) ? self.service.name : self.targetRef.name)].exists(r, self.strategy.blueGreen.previewService in [r, r + '${NAME_SUFFIXES.primary}', r + '${NAME_SUFFIXES.canary}']))`,
        PREVIEW_NAME_TAKEN,
        ".strategy.blueGreen.previewService",
      ),
      ...CHECK_REFERENCE_RULES,
      ...KIND_RULES.map((r) => cel(r.cel, r.message, r.path)),
      ...GATEWAY_MATCH_CEL,
    ],
  })
  .superRefine((s, ctx) => {
    for (const issue of checkReferenceIssues(s)) ctx.addIssue({ code: "custom", ...issue });
    for (const issue of gatewayMatchIssues(s)) ctx.addIssue({ code: "custom", ...issue });
    for (const r of KIND_RULES)
      if (!r.holds(s)) ctx.addIssue({ code: "custom", path: r.path.slice(1).split("."), message: r.message });
    const target = s.targetRef.name;
    if (
      s.service !== undefined &&
      s.service.name === undefined &&
      (target.length > MAX_SERVICE_NAME || !new RegExp(DNS_1035_LABEL).test(target))
    ) {
      ctx.addIssue({ code: "custom", path: ["targetRef", "name"], message: DEFAULT_SERVICE_NAME });
    }
    if (s.gatewayApi && s.provider !== "gateway-api")
      ctx.addIssue({ code: "custom", path: ["gatewayApi"], message: GATEWAY_API_ONLY });
    if (s.provider === "kubernetes" && !s.strategy.blueGreen)
      ctx.addIssue({ code: "custom", path: ["provider"], message: SELECTOR_BLUE_GREEN_ONLY });
    if (s.provider === "kubernetes" && s.accessPolicy)
      ctx.addIssue({ code: "custom", path: ["accessPolicy"], message: SELECTOR_NO_POLICY });
    const preview = s.strategy.blueGreen?.previewService;
    const root = s.service?.name ?? target;
    if (
      preview !== undefined &&
      [root, `${root}${NAME_SUFFIXES.primary}`, `${root}${NAME_SUFFIXES.canary}`].includes(preview)
    )
      ctx.addIssue({
        code: "custom",
        path: ["strategy", "blueGreen", "previewService"],
        message: PREVIEW_NAME_TAKEN,
      });
    if (s.provider !== "linkerd") return;
    for (const [i, r] of (s.accessPolicy?.routes ?? []).entries()) {
      if (r.pathRegex !== undefined && r.pathRegex.length > MAX_LINKERD_PATH_REGEX) {
        ctx.addIssue({
          code: "custom",
          path: ["accessPolicy", "routes", i, "pathRegex"],
          message: LINKERD_PATH_TOO_LONG,
        });
      }
    }
  });

const timestamp = (what: string) => z.string().meta({ format: "date-time" }).describe(what);

/** A Kubernetes condition. */
export const ConditionSchema = z.object({
  type: z
    .string()
    .max(316)
    .describe("Condition type: Ready, Reconciling, Stalled (kstatus), Progressing or Degraded."),
  status: z.enum(["True", "False", "Unknown"]).describe("Status of the condition."),
  reason: z.string().max(1024).describe("PascalCase machine-readable reason."),
  message: z.string().max(32768).describe("Human-readable explanation."),
  lastTransitionTime: timestamp("When the status last changed."),
  observedGeneration: z.number().int().min(0).describe("The spec generation this condition reflects."),
});

/** One measurement kept in status so `kubectl get -o yaml` explains each decision. */
export const MeasurementSchema = z.object({
  metric: z.string().describe("Metric name."),
  verdict: z.enum(["Pass", "Fail", "Inconclusive", "Error"]).describe("Outcome of this measurement."),
  value: z.number().optional().describe("Canary value; absent when there was no data."),
  primaryValue: z.number().optional().describe("Primary value, for compareToPrimary."),
  threshold: z.string().describe("The bound the value was judged against, in words."),
  message: z
    .string()
    .max(1024)
    .optional()
    .describe("Why, when not Pass; for judge: sequential, what the judge saw, on every tick."),
  weight: z.number().int().describe("Canary weight when measured."),
  at: timestamp("When measured."),
  sequential: z
    .object({
      step: z
        .number()
        .int()
        .min(0)
        .describe("Step index the counts were taken in (since that step started)."),
      canaryRequests: z.number().min(0).describe("Canary requests in the step so far."),
      canaryEvents: z
        .number()
        .min(0)
        .describe("Canary errors (or requests slower than boundary) among them."),
      primaryRequests: z.number().min(0).describe("Primary requests in the step so far."),
      primaryEvents: z.number().min(0).describe("Primary errors (or slow requests) among them."),
      boundary: z
        .number()
        .optional()
        .describe("Latency above which a request counted as slow (request-duration)."),
      logEvidence: z
        .number()
        .describe(
          "Natural log of the evidence against the canary over the rollout; it fails at log(1/alpha).",
        ),
      carriedLogEvidence: z.number().describe("The part of logEvidence carried from earlier steps."),
      noWorseLogEvidence: z
        .number()
        .optional()
        .describe(
          "Natural log of the evidence that the canary is no worse than passMargin, over the rollout; with floorLogEvidence, it passes at log(1/beta).",
        ),
      carriedNoWorseLogEvidence: z
        .number()
        .optional()
        .describe("The part of noWorseLogEvidence carried from earlier steps."),
      floorLogEvidence: z
        .number()
        .optional()
        .describe(
          "Natural log of the evidence that the canary's error rate is below errorFloor, over the rollout.",
        ),
      carriedFloorLogEvidence: z
        .number()
        .optional()
        .describe("The part of floorLogEvidence carried from earlier steps."),
      passed: z
        .boolean()
        .optional()
        .describe(
          "The canary was shown no worse in this step: the metric stays passed for the step unless it fails.",
        ),
      requestsNeeded: z
        .number()
        .min(0)
        .optional()
        .describe(
          "Estimated canary requests this step needs in all before a canary as good as the primary passes; absent when no amount would (no events and no errorFloor).",
        ),
    })
    .optional()
    .describe("What the sequential judge saw, for judge: sequential; the next tick continues from it."),
});

/** One managed route as status lists it. */
export const StatusManagedRouteSchema = z
  .object({
    type: z.enum(["HeaderRoute", "StickySession", "Mirror"]).describe("What kind of route."),
    name: z.string().max(64).describe("The step's route name; for StickySession, the canary's cookie."),
    percent: percent("Mirror: share of the selected requests copied.").min(1).optional(),
    state: z
      .enum(["assign", "expire"])
      .optional()
      .describe(
        "StickySession: assign (cookies set and honoured) or expire (the rollout ended: cookies cleared).",
      ),
  })
  .describe("A route Vireo manages beside the weight.");

/** A controller-revision-hash label value (StatefulSet pods: `<name>-<hash>`; DaemonSet pods: the hash). */
const revisionHash = (what: string) => z.string().max(253).describe(what);

/**
 * StatefulSet and DaemonSet targets: which pods run which revision, as Vireo last saw and wanted it — what a
 * restarted controller needs to tell the stable pods from the canary ones (docs/workloads.md#status).
 */
export const InPlaceStatusSchema = z
  .object({
    kind: z.enum(["StatefulSet", "DaemonSet"]).describe("Kind of the target."),
    stableHash: revisionHash(
      "controller-revision-hash of the pods that run stableRevision: the stable side of analysis and the Service of the stable pods.",
    ).optional(),
    canaryHash: revisionHash(
      "controller-revision-hash of the pods that run canaryRevision, once the workload's controller has made them.",
    ).optional(),
    desired: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Pods the workload runs: StatefulSet replicas, DaemonSet nodes scheduled."),
    wanted: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Pods that run canaryRevision at the current step (during promotion: all of them)."),
    updated: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Pods that ran canaryRevision (ready or not) when last observed."),
    held: z
      .boolean()
      .optional()
      .describe(
        "Vireo holds the update strategy (a StatefulSet's partition, a DaemonSet's OnDelete): a change by anyone else is set back and reported.",
      ),
    partition: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("StatefulSet: the updateStrategy.rollingUpdate.partition Vireo holds."),
    restoring: z
      .string()
      .max(64)
      .optional()
      .describe(
        "The revision whose template Vireo replaces with the stable one after a rollback; cleared once the workload runs the stable template again.",
      ),
  })
  .describe("StatefulSet and DaemonSet targets: the revisions of the pods, and how many run the new one.");
/** How far the current step is from a verdict of the sequential judge, at its slowest metric. */
export const EvidenceStatusSchema = z
  .object({
    metric: z.string().max(253).describe("The metric furthest from a verdict."),
    step: z.number().int().min(0).describe("The step the estimate is for."),
    canaryRequests: z.number().min(0).describe("Canary requests seen in the step so far."),
    requestsNeeded: z
      .number()
      .min(0)
      .optional()
      .describe(
        "Canary requests the step needs in all before a canary as good as the primary passes; absent when no amount of traffic would.",
      ),
    canaryRequestsPerMinute: z.number().min(0).describe("The canary's request rate in the step so far."),
    eta: timestamp(
      "When the step should have its evidence at that rate; absent when it never would.",
    ).optional(),
    budgetEndsAt: timestamp("When the step's maxStepDuration runs out."),
    at: timestamp("When estimated (the analysis tick)."),
  })
  .describe(
    "Evidence the current step has and needs (judge: sequential), estimated at every tick from the traffic seen: the plugin and the dashboard draw it as a bar with an ETA.",
  );

/**
 * An object of the user's that Vireo took over for this Rollout — its target Deployment or its root Service —
 * labelled `vireo.dev/rollout: <rollout>` on the object itself, and recorded here with what Vireo changed, so it is
 * handed back on deletion and when the spec names other objects.
 */
export const ClaimSchema = z.object({
  kind: z
    .enum(["Deployment", "StatefulSet", "DaemonSet", "Service"])
    .describe(
      "Deployment: the target, scaled by Vireo. StatefulSet, DaemonSet: the target, updated in place. Service: the root.",
    ),
  name: z.string().max(253).describe("Name of the object, in the Rollout's namespace."),
  uid: z.string().max(64).describe("UID of the object claimed: a same-named object made later is not it."),
  selector: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      "Service only: the selector it had before Vireo pointed it at the primary's pods, restored on hand-back — recorded only when it selected something other than the target's pods; absent, the Service gets the pods of the Deployment that is its target then.",
    ),
});

/** One step in a revision's life, as the controller recorded it. */
export const MilestoneSchema = z.object({
  at: timestamp("When it happened."),
  reason: z.enum(MILESTONE_REASONS).describe("What happened (the reason of the Event recorded with it)."),
  revision: z.string().max(64).describe("The revision it is about (pod-template hash)."),
  message: z.string().max(256).describe("The Event's message, clipped."),
});

/** Everything needed to resume after a crash. */
export const RolloutStatusSchema = z
  .object({
    observedGeneration: z.number().int().optional().describe("Generation of the spec last acted on."),
    phase: z.enum(PHASES).optional().describe("Where the rollout is; see conditions for the contract."),
    pauseReason: z.enum(PAUSE_REASONS).optional().describe("Why the rollout is paused."),
    message: z.string().optional().describe("Human summary of the current state."),
    currentStepIndex: z.number().int().min(0).optional().describe("Index into the expanded steps."),
    canaryWeight: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .describe("Traffic percentage the canary should have."),
    stableRevision: z.string().optional().describe("Pod-template hash that primary runs."),
    canaryRevision: z.string().optional().describe("Pod-template hash under rollout."),
    currentRevision: z
      .string()
      .optional()
      .describe(
        "Pod-template hash of the target Deployment as last observed: the revision the conditions are about. Equal to stableRevision with Ready=True once it is promoted (or was already stable); with Stalled=True it failed.",
      ),
    observedTargetGeneration: z
      .number()
      .int()
      .optional()
      .describe(
        "metadata.generation of the target Deployment the conditions are about, so CI can wait for the decision on its own apply.",
      ),
    rolloutStartedAt: timestamp("When the current rollout started.").optional(),
    stepStartedAt: timestamp("When the current step started.").optional(),
    waitingSince: timestamp(
      "Since when the rollout waits for the canary, the routes or the primary; the progress deadline counts from here.",
    ).optional(),
    pausedAt: timestamp("When the current pause began.").optional(),
    promotedBy: z.enum(["Analysis", "User", "Steps"]).optional().describe("Who promoted the last revision."),
    replicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "Replicas the application should run, following the user's Deployment: the primary gets them, and so does the canary while it runs. With a HorizontalPodAutoscaler on the target, the replicas the primary HPA gave the primary.",
      ),
    scaleDownAt: timestamp(
      "Blue/green: when the canary, which no longer gets traffic, is scaled down (strategy.blueGreen.scaleDownDelay after all traffic and the preview were seen back on the primary).",
    ).optional(),
    promotionReplicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "While promoting a target with a HorizontalPodAutoscaler: the replicas the primary must have ready before it takes all traffic (primary and canary together when promotion began, within the HPA's bounds); the primary HPA's minReplicas until the rollout is Healthy.",
      ),
    workload: InPlaceStatusSchema.optional(),
    claims: z
      .array(ClaimSchema)
      .max(8)
      .optional()
      .describe(
        "Objects Vireo took over for this Rollout (labelled vireo.dev/rollout) and what it changed on them. Deleting the Rollout hands every one back; so does a spec that names another target or root Service, before the new ones are taken.",
      ),
    lastValidSpec: RolloutSpecSchema.optional().describe(
      "The last spec that passed validation. If the spec turns invalid, or the Rollout is deleted while invalid, Vireo still knows which objects to route back to the primary and which workload to hand back.",
    ),
    analysis: z
      .object({
        lastRunAt: timestamp("Last analysis tick.").optional(),
        ticks: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe(
            "Analysis ticks recorded in this rollout attempt; analysis checks' runs carry the tick's number.",
          ),
        lastPassAt: timestamp("Last tick in which every metric passed.").optional(),
        failedChecks: z.number().int().min(0).default(0).describe("Failed checks in this rollout."),
        consecutiveErrors: z.number().int().min(0).default(0).describe("Consecutive ticks with errors."),
        inconclusiveCount: z.number().int().min(0).default(0).describe("Consecutive inconclusive ticks."),
        history: z.array(MeasurementSchema).default([]).describe("Recent measurements, newest last."),
        evidence: EvidenceStatusSchema.optional(),
        budgetStartedAt: timestamp(
          "When the current step's maxStepDuration started counting, if not when the step started (a resume starts it again).",
        ).optional(),
        stepsWithoutEvidence: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe("Steps of this rollout that passed on noEvidence: promote, not on evidence."),
      })
      .optional()
      .describe("Analysis bookkeeping."),
    milestones: z
      .array(MilestoneSchema)
      .max(MILESTONES_KEPT)
      .optional()
      .describe(
        `What happened to this Rollout's revisions, newest last (the last ${MILESTONES_KEPT}). Written only by the controller (status is a subresource), unlike Events, which anyone allowed to create Events in the namespace can write: kubectl vireo history and the dashboard read their history from here.`,
      ),
    handledRequests: z
      .object({
        promote: z.string().optional().describe("Last vireo.dev/promote value acted on."),
        abort: z.string().optional().describe("Last vireo.dev/abort value acted on."),
        pause: z.string().optional().describe("Last vireo.dev/pause value acted on."),
        resume: z.string().optional().describe("Last vireo.dev/resume value acted on."),
        retry: z.string().optional().describe("Last vireo.dev/retry value acted on."),
        approve: z.string().optional().describe("Last vireo.dev/approve value acted on."),
      })
      .optional()
      .describe(
        "Annotation values already acted on; a new value is a new request. A value longer than 253 characters is kept as sha256:<hex digest>.",
      ),
    notifications: z
      .object({
        delivered: z
          .array(z.string().max(256))
          .max(200)
          .default([])
          .describe(
            "Keys (revision/attempt/event/discriminator) already delivered, newest last; bounded. The attempt is the rollout's start or retry time in milliseconds, base 36.",
          ),
        failed: z
          .array(z.string().max(256))
          .max(50)
          .optional()
          .describe(
            "Keys a destination rejected for good (HTTP 4xx other than 408 and 429, or an invalid URL), newest last; bounded. They are not retried; a NotificationFailed Warning Event says why.",
          ),
        pending: z
          .array(
            z
              .object({
                key: z.string().max(256).describe("De-duplication key."),
                event: z.enum(NOTIFY_EVENTS).describe("What happened."),
                severity: z.enum(["info", "warning", "error"]).describe("Severity of the message."),
                message: z.string().max(1024).describe("Human summary."),
                revision: z.string().max(64).describe("Revision the message is about."),
                canaryWeight: z.number().int().min(0).max(100).describe("Canary weight when it happened."),
                metric: z.string().max(253).optional().describe("Failing metric, if any."),
                value: z.number().optional().describe("Failing metric's value."),
                threshold: z.string().max(256).optional().describe("Failing metric's bound."),
              })
              .describe("A notification waiting for delivery."),
          )
          .max(50)
          .default([])
          .describe("Notifications decided but not yet delivered; resent after a controller restart."),
      })
      .optional()
      .describe(
        "Notification bookkeeping so each notification is sent once per rollout attempt, also across restarts (the guarantee: docs/notifications.md#delivery-guarantee).",
      ),
    managedRoutes: z
      .array(StatusManagedRouteSchema)
      .max(2 * ROUTE_LIMITS.installs + 1)
      .optional()
      .describe(
        "The routes beside the weight that the mesh holds as Vireo wrote them, in the order they take precedence: header routes, the sticky-session cookies, mirrors. Absent when there are none.",
      ),
    checks: z
      .array(CheckRunSchema)
      .max(CHECK_LIMITS.runs)
      .optional()
      .describe(
        "Runs of checks in the current rollout attempt (and its post-promotion, rollback or abort hooks): the newest run of each check at each point.",
      ),
    conditions: z
      .array(ConditionSchema)
      .optional()
      .describe(
        "Ready, Reconciling and Stalled as kstatus defines them (Ready = not Reconciling and not Stalled), plus Progressing and Degraded.",
      )
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
  })
  .describe("Observed state of the Rollout.");

/** Rollout spec as written by users (defaults optional). */
export type RolloutSpecInput = z.input<typeof RolloutSpecSchema>;
/** Rollout spec after defaulting. */
export type RolloutSpec = z.output<typeof RolloutSpecSchema>;
/** Rollout status. */
export type RolloutStatus = z.output<typeof RolloutStatusSchema>;
/** A status condition. */
export type Condition = z.output<typeof ConditionSchema>;
/** A managed route as status lists it. */
export type StatusManagedRoute = z.output<typeof StatusManagedRouteSchema>;
/** An object Vireo took over, as recorded in status. */
export type Claim = z.output<typeof ClaimSchema>;
/** A stored measurement. */
export type Measurement = z.output<typeof MeasurementSchema>;
/** A recorded milestone. */
export type Milestone = z.output<typeof MilestoneSchema>;
/** One analysis metric. */
export type MetricSpec = z.output<typeof MetricSchema>;
/** A canary step. */
export type Step = z.output<typeof StepSchema>;
/** How many pods of a StatefulSet or DaemonSet a step updates. */
export type SetUpdated = z.output<typeof SetUpdatedSchema>;
/** The in-place part of status (StatefulSet and DaemonSet targets). */
export type InPlaceStatus = z.output<typeof InPlaceStatusSchema>;
/** A deployment window. */
export type WindowSpec = z.output<typeof WindowSchema>;
/** A notification event name. */
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** The Service whose traffic a Rollout splits. */
export type SplitService = z.output<typeof ServiceSchema>;

/**
 * The split Service of `spec`. Every Deployment target has one (the schema requires it), a StatefulSet with a
 * traffic split too; callers on other paths check `spec.service` themselves.
 */
export function splitServiceOf(spec: RolloutSpec): SplitService {
  if (!spec.service)
    throw new Error(
      `spec.service is required to split traffic for ${spec.targetRef.kind} ${spec.targetRef.name}`,
    );
  return spec.service;
}

/** A Rollout object as read from the API server. */
export interface Rollout {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { namespace: string };
  spec: RolloutSpec;
  status?: RolloutStatus;
}
