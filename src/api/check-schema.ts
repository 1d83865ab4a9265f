// Checks: everything besides metrics that can pass or fail a rollout (a webhook, a Job, a person's approval) as
// named, self-contained definitions, and the points of a rollout that run them (hooks and steps).
import * as z from "zod";
import { cel, duration, labelName, objectName } from "./schema-fields.ts";
import { SecretKeyRefSchema } from "./secret-ref.ts";

/** The kinds of check; a check has exactly one. */
export const CHECK_KINDS = ["webhook", "job", "approval"] as const;
/** A kind of check. */
export type CheckKind = (typeof CHECK_KINDS)[number];

/** Lifecycle points that run checks, in the order a rollout meets them (steps aside). */
export const HOOK_POINTS = ["preRollout", "prePromotion", "postPromotion", "onRollback", "onAbort"] as const;
/** A lifecycle point. */
export type HookPoint = (typeof HOOK_POINTS)[number];
/**
 * Every place a check runs: a hook, a `- check:` step, or `analysis` (run at each analysis tick, counted like a
 * failed metric; Flagger's `rollout` webhooks).
 */
export const CHECK_POINTS = [...HOOK_POINTS, "step", "analysis"] as const;
/** A place a check runs. */
export type CheckPoint = (typeof CHECK_POINTS)[number];
/** Points after which nothing can be undone by a check: the revision is promoted, or the rollout already ended. */
export const AFTER_POINTS: readonly CheckPoint[] = ["postPromotion", "onRollback", "onAbort"];

/** What a failed check does. `continue` records it (status, Event, notification) and goes on. */
export const ON_FAILURE = ["rollback", "pause", "continue"] as const;
/** A failure policy. */
export type OnFailure = (typeof ON_FAILURE)[number];

/** Phases of one run of a check, as `status.checks[].phase` says. */
export const CHECK_PHASES = ["Pending", "Running", "Passed", "Failed", "Skipped"] as const;
/** A check run's phase. */
export type CheckPhase = (typeof CHECK_PHASES)[number];

/** Upper bounds of the check definitions, so the spec stays within the status budget's arithmetic. */
export const CHECK_LIMITS = {
  /** Check definitions in one Rollout. */
  checks: 8,
  /** Names in one hook list. */
  perPoint: 8,
  /** Flagger-compatible metadata entries of one webhook. */
  metadataEntries: 8,
  /** Characters of one metadata value. */
  metadataValue: 256,
  /** Bytes of one Job's spec as JSON. */
  jobSpecBytes: 4 * 1024,
  /** Characters of a status message about a check. */
  message: 256,
  /** Runs kept in status.checks: one per place (50 steps, 8 per hook, 8 in analysis) and check. */
  runs: 98,
} as const;

const URL_SHAPE = /^https?:\/\/[^\s]+$/;

/** The rule that a webhook check names its URL exactly once: in the spec, or in a Secret. */
const ONE_URL = "a webhook check needs exactly one of url and urlFrom";

/** POSTs Flagger's payload to a URL; 2xx passes. */
export const WebhookCheckSchema = z
  .object({
    url: z
      .string()
      .max(2048)
      .regex(URL_SHAPE, "must be an http(s) URL")
      .optional()
      .describe("Where to POST. It must start with one of the controller's --allowed-check-urls."),
    urlFrom: z
      .object({
        secretKeyRef: SecretKeyRefSchema.describe(
          "Secret key holding the URL (default key: url). The Secret must carry vireo.dev/allow-reference=true.",
        ),
      })
      .optional()
      .describe(
        "Where to POST, from a Secret of the Rollout's namespace (a URL holding a token). Read when the check runs; the URL must start with one of --allowed-check-urls and is never shown in status or Events.",
      ),
    timeout: duration("How long one request may take. Default 10s.").default("10s"),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(2)
      .describe(
        "Requests sent again after a timeout, a network error, 408, 429 or 5xx, with backoff (1s, 2s, 4s … at most 30s); every try carries the same Idempotency-Key. Default 2.",
      ),
    metadata: z
      .record(z.string().min(1).max(63), z.string().max(CHECK_LIMITS.metadataValue))
      .optional()
      .describe(
        `Sent as the payload's metadata, as Flagger sends it (e.g. the loadtester's cmd). At most ${CHECK_LIMITS.metadataEntries} entries.`,
      )
      .meta({ maxProperties: CHECK_LIMITS.metadataEntries }),
  })
  .describe(
    "POST {name, namespace, phase, checksum, metadata} (Flagger's payload, checksum = revision) with an Idempotency-Key header; 2xx passes.",
  )
  .meta({ "x-kubernetes-validations": [cel("has(self.url) != has(self.urlFrom)", ONE_URL)] })
  .refine((w) => Object.keys(w.metadata ?? {}).length <= CHECK_LIMITS.metadataEntries, {
    message: `metadata holds at most ${CHECK_LIMITS.metadataEntries} entries`,
  })
  .refine((w) => (w.url === undefined) !== (w.urlFrom === undefined), { message: ONE_URL });

/** A batch/v1 Job whose completion passes the check. */
export const JobCheckSchema = z
  .object({
    serviceAccountName: objectName(
      "ServiceAccount of the Rollout's namespace the Job's pods run as. Required: the controller never lends its own.",
    ),
    timeout: duration(
      "How long the Job may run; past it the check fails and the Job is deleted with its pods. Default 10m.",
    ).default("10m"),
    spec: z
      .looseObject({})
      .describe(
        "A batch/v1 JobSpec. Vireo sets serviceAccountName, activeDeadlineSeconds (from timeout), backoffLimit 0 and restartPolicy Never unless given; at most 4 KiB as JSON.",
      )
      .meta({ "x-kubernetes-preserve-unknown-fields": true }),
  })
  .describe(
    "Runs a Job owned by the Rollout, named from rollout, revision, attempt and check, so a restarted controller adopts it. Complete passes; Failed or timed out fails.",
  )
  .superRefine((j, ctx) => {
    for (const issue of jobSpecIssues(j.spec, j.serviceAccountName))
      ctx.addIssue({ code: "custom", ...issue });
  });

/** Problems of a Job check's spec that no CRD schema can see (its spec is free-form). */
export function jobSpecIssues(
  spec: Record<string, unknown>,
  serviceAccountName: string,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (Buffer.byteLength(JSON.stringify(spec)) > CHECK_LIMITS.jobSpecBytes)
    issues.push({ path: ["spec"], message: `must be at most ${CHECK_LIMITS.jobSpecBytes} bytes as JSON` });
  const template = spec.template as { spec?: Record<string, unknown> } | undefined;
  const pod = template?.spec;
  const containers = pod?.containers;
  if (!Array.isArray(containers) || containers.length === 0)
    issues.push({
      path: ["spec", "template", "spec", "containers"],
      message: "needs at least one container",
    });
  for (const key of ["serviceAccountName", "serviceAccount"] as const) {
    const named = pod?.[key];
    if (named !== undefined && named !== serviceAccountName)
      issues.push({
        path: ["spec", "template", "spec", key],
        message: `must be unset or equal serviceAccountName (${serviceAccountName})`,
      });
  }
  return issues;
}

/** Passes when a person approves (annotation, `kubectl vireo approve`, the dashboard). */
export const ApprovalCheckSchema = z
  .object({
    timeout: duration(
      "How long to wait for the approval; past it the check fails. Default: wait until approved, aborted or superseded.",
    ).optional(),
  })
  .describe(
    "Passes when a person sets vireo.dev/approve=<check name> (kubectl vireo approve, or the dashboard). Recorded in status, so it survives restarts.",
  );

/** One named check. */
export const CheckSchema = z
  .object({
    name: labelName("Name of the check, unique within the Rollout; steps, hooks and analysis name it."),
    webhook: WebhookCheckSchema.optional(),
    job: JobCheckSchema.optional(),
    approval: ApprovalCheckSchema.optional(),
    onFailure: z
      .enum(ON_FAILURE)
      .optional()
      .describe(
        "What a failure does: rollback, pause (resume runs the check again) or continue (record it, an Event and a notification). Default: rollback before and during traffic (preRollout, steps, prePromotion); after promotion, rollback or abort only continue is possible.",
      ),
  })
  .describe("A check: exactly one of webhook, job or approval.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        `[${CHECK_KINDS.map((k) => `has(self.${k})`).join(", ")}].filter(x, x).size() == 1`,
        `a check needs exactly one of ${CHECK_KINDS.join(", ")}`,
      ),
    ],
  })
  .refine((c) => CHECK_KINDS.filter((k) => c[k] !== undefined).length === 1, {
    message: `a check needs exactly one of ${CHECK_KINDS.join(", ")}`,
  });

/** Names of checks, as hooks and analysis list them. */
export const checkNames = (what: string) =>
  z
    .array(labelName("Name of a check."))
    .max(CHECK_LIMITS.perPoint)
    .optional()
    .describe(`${what} At most ${CHECK_LIMITS.perPoint}; they run in parallel.`);

/** The lifecycle points that run checks. */
export const HooksSchema = z
  .object({
    preRollout: checkNames(
      "Checks run once the canary is ready and before any traffic reaches it. Default onFailure: rollback.",
    ),
    prePromotion: checkNames(
      "Checks run after the last step passed and before the primary takes the new revision. Default onFailure: rollback. A person's vireo.dev/promote skips them (recorded as Skipped).",
    ),
    postPromotion: checkNames(
      "Checks run once the new revision is stable; a failure is recorded, with an Event and a notification.",
    ),
    onRollback: checkNames("Checks run after a rollback (analysis, deadline or a failed check)."),
    onAbort: checkNames("Checks run after a person aborted the rollout."),
  })
  .describe("Where checks run besides steps (- check: <name>).");

const UNKNOWN_CHECK = "names a check that spec.checks does not define";
/** `self` is the Rollout spec: CEL rules that every check name used (hooks, steps) is defined in spec.checks. */
export const CHECK_REFERENCE_RULES = [
  ...HOOK_POINTS.map((p) =>
    cel(
      `!has(self.hooks) || !has(self.hooks.${p}) || self.hooks.${p}.all(n, has(self.checks) && self.checks.exists(c, c.name == n))`,
      `hooks.${p} ${UNKNOWN_CHECK}`,
      `.hooks.${p}`,
    ),
  ),
  cel(
    "!has(self.strategy.canary) || !has(self.strategy.canary.steps) || self.strategy.canary.steps.all(s, !has(s.check) || (has(self.checks) && self.checks.exists(c, c.name == s.check)))",
    `a step ${UNKNOWN_CHECK}`,
    ".strategy.canary.steps",
  ),
  cel(
    "!has(self.analysis) || !has(self.analysis.checks) || self.analysis.checks.all(n, has(self.checks) && self.checks.exists(c, c.name == n))",
    `analysis.checks ${UNKNOWN_CHECK}`,
    ".analysis.checks",
  ),
];

/** The same rules as {@link CHECK_REFERENCE_RULES}, for the controller (objects that predate the CRD). */
export function checkReferenceIssues(spec: {
  checks?: readonly { name: string }[] | undefined;
  hooks?: Partial<Record<HookPoint, readonly string[] | undefined>> | undefined;
  analysis?: { checks?: readonly string[] | undefined } | undefined;
  strategy: { canary?: { steps?: readonly { check?: string | undefined }[] | undefined } | undefined };
}): { path: (string | number)[]; message: string }[] {
  const defined = new Set((spec.checks ?? []).map((c) => c.name));
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const p of HOOK_POINTS)
    for (const [i, n] of (spec.hooks?.[p] ?? []).entries())
      if (!defined.has(n))
        issues.push({ path: ["hooks", p, i], message: `${JSON.stringify(n)} ${UNKNOWN_CHECK}` });
  for (const [i, step] of (spec.strategy.canary?.steps ?? []).entries())
    if (step.check !== undefined && !defined.has(step.check))
      issues.push({
        path: ["strategy", "canary", "steps", i, "check"],
        message: `${JSON.stringify(step.check)} ${UNKNOWN_CHECK}`,
      });
  for (const [i, n] of (spec.analysis?.checks ?? []).entries())
    if (!defined.has(n))
      issues.push({ path: ["analysis", "checks", i], message: `${JSON.stringify(n)} ${UNKNOWN_CHECK}` });
  return issues;
}

/** A check as the engine sees it. */
export type CheckSpec = z.output<typeof CheckSchema>;
/** A webhook check. */
export type WebhookCheckSpec = z.output<typeof WebhookCheckSchema>;
/** A Job check. */
export type JobCheckSpec = z.output<typeof JobCheckSchema>;
/** The hooks. */
export type HooksSpec = z.output<typeof HooksSchema>;

/** The kind of a check definition. */
export function kindOf(check: CheckSpec): CheckKind {
  return check.webhook ? "webhook" : check.job ? "job" : "approval";
}

/**
 * The failure policy in force for `check` run at `point`: its own, or the safe default of the point. A run during
 * analysis has none of its own: it counts against analysis.failureLimit, as a failed metric does.
 */
export function onFailureAt(check: CheckSpec, point: CheckPoint): OnFailure {
  if (AFTER_POINTS.includes(point) || point === "analysis") return "continue";
  return check.onFailure ?? "rollback";
}

/** One run of a check, kept in `status.checks`. */
export const CheckRunSchema = z
  .object({
    name: z.string().max(63).describe("The check."),
    point: z.enum(CHECK_POINTS).describe("Where it ran: a hook or a step (see step)."),
    step: z.number().int().min(0).optional().describe("Index of the step, for point step."),
    kind: z.enum(CHECK_KINDS).describe("webhook, job or approval."),
    phase: z
      .enum(CHECK_PHASES)
      .describe(
        "Pending (decided; the Job is not seen yet, or a person has not approved), Running, Passed, Failed, or Skipped (a person promoted past it).",
      ),
    attempt: z
      .number()
      .int()
      .min(1)
      .describe(
        "Run of this check at this point in this rollout attempt (a resumed pause runs it again); for point analysis, the analysis tick that started it. Part of the Idempotency-Key and the Job name.",
      ),
    startedAt: z.string().meta({ format: "date-time" }).describe("When the run was decided."),
    finishedAt: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe("When its verdict was recorded."),
    message: z
      .string()
      .max(CHECK_LIMITS.message)
      .optional()
      .describe(
        "Why it failed or how it passed: the outcome class of a webhook (never its body), a Job's condition and its failed pod's termination message, who approved.",
      ),
    jobRequestedAt: z
      .string()
      .meta({ format: "date-time" })
      .optional()
      .describe(
        "For job checks: when the controller asked for the Job, recorded before it creates it. A run recorded so whose Job is not there fails; its Job is never created a second time.",
      ),
    job: z.string().max(63).optional().describe("Name of the Job, for job checks."),
    jobUid: z
      .string()
      .max(64)
      .optional()
      .describe("uid of that Job once seen: a Job of that name with another uid is not this run's."),
  })
  .describe("One run of a check.");

/** One run of a check in status. */
export type CheckRun = z.output<typeof CheckRunSchema>;

/** Wait before webhook try `n` (1 = the first retry): 1 s, 2 s, 4 s … at most 30 s. */
export function webhookRetryDelayMs(n: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, n - 1));
}

/** Grace on top of a check's own deadline before the engine gives up waiting for its result. */
export const CHECK_DEADLINE_GRACE_MS = 10_000;
