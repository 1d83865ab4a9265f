// The Jobs of job checks as objects: a run's deterministic name, the Job rendered from the check's template, and
// what the engine needs to know of one the API server holds (which run it is, and how it ended).
import { createHash } from "node:crypto";
import type { JobCheckSpec } from "../api/check-schema.ts";
import { CHECK_ROLE, LABELS } from "../api/constants.ts";
import { parseDuration } from "../api/duration.ts";
import { MANAGED_BY, type ObjectMeta, type OwnerRef, ownerReference } from "../api/object-meta.ts";
import type { CheckJobObservation, CheckRunRef } from "../rollout/types.ts";

/** Annotation on a check's Job: the run it belongs to, as JSON ({@link RunIdentity}). */
export const CHECK_RUN_ANNOTATION = "vireo.dev/check-run";

/** Characters of a failed pod's termination message the engine gets (status clips further). */
const TERMINATION_MESSAGE_LIMIT = 200;

/** The run a Job was created for, within the rollout attempt `attemptId`. */
type RunIdentity = CheckRunRef & { attemptId: string };

/** A batch/v1 Job, as far as Vireo reads it. */
export interface Job {
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** A pod of a Job, as far as its termination message goes. */
export interface JobPod {
  status?: {
    containerStatuses?: {
      state?: { terminated?: { exitCode?: number; message?: string; reason?: string } };
    }[];
  };
}

/**
 * The Job name of a run: the rollout's name (cut to 40) and a hash of rollout, attempt, point, step, check and run
 * attempt. Deterministic, so a restarted controller finds (adopts) the Job it created instead of creating another.
 */
export function checkJobName(rollout: string, run: RunIdentity): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([rollout, run.attemptId, run.point, run.step ?? null, run.name, run.attempt]))
    .digest("hex")
    .slice(0, 12);
  return `${rollout.slice(0, 40).replace(/[-.]+$/, "")}-check-${hash}`;
}

/** Labels of every check Job of `rollout` (the selector Vireo lists them by). */
export function checkJobLabels(rollout: string): Record<string, string> {
  return { [LABELS.managedBy]: MANAGED_BY, [LABELS.rollout]: rollout, [LABELS.role]: CHECK_ROLE };
}

/**
 * The Job of a run: the user's JobSpec with the ServiceAccount the check names (never the controller's), no
 * retries, a deadline from the check's timeout, owned by the Rollout so deleting the Rollout deletes it.
 */
export function renderCheckJob(
  namespace: string,
  owner: OwnerRef,
  check: JobCheckSpec,
  run: RunIdentity,
  revision: string,
): Job {
  const spec = structuredClone(check.spec) as Record<string, unknown> & {
    template: { metadata?: ObjectMeta; spec: Record<string, unknown> };
  };
  spec.template.spec.serviceAccountName = check.serviceAccountName;
  delete spec.template.spec.serviceAccount;
  spec.template.spec.restartPolicy ??= "Never";
  spec.backoffLimit ??= 0;
  spec.activeDeadlineSeconds = Math.max(1, Math.ceil(parseDuration(check.timeout) / 1000));
  return {
    metadata: {
      name: checkJobName(owner.name, run),
      namespace,
      labels: { ...checkJobLabels(owner.name), [LABELS.check]: run.name },
      annotations: {
        [CHECK_RUN_ANNOTATION]: JSON.stringify(identityOf(run)),
        "vireo.dev/revision": revision,
      },
      ownerReferences: [ownerReference(owner)],
    },
    spec,
  };
}

const identityOf = (r: RunIdentity): RunIdentity => ({
  name: r.name,
  point: r.point,
  ...(r.step !== undefined ? { step: r.step } : {}),
  attempt: r.attempt,
  attemptId: r.attemptId,
});

/** The run a Job belongs to, from its annotation; undefined for a Job that is not a check's. */
export function runOfJob(job: Job): RunIdentity | undefined {
  const raw = job.metadata.annotations?.[CHECK_RUN_ANNOTATION];
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as RunIdentity;
    if (typeof r.name !== "string" || typeof r.point !== "string" || typeof r.attempt !== "number")
      return undefined;
    if (typeof r.attemptId !== "string") return undefined;
    return identityOf(r);
  } catch {
    return undefined;
  }
}

/** Printable ASCII only, bounded: a pod's termination message is the tenant's text and ends up in status. */
function sanitize(text: string, limit = TERMINATION_MESSAGE_LIMIT): string {
  const clean = text.replace(/[^\x20-\x7e]+/g, " ").trim();
  return clean.length > limit ? `${clean.slice(0, limit - 1)}…` : clean;
}

/** The termination message of the first failed container among `pods`, sanitised and bounded. */
export function terminationMessage(pods: readonly JobPod[]): string | undefined {
  for (const pod of pods)
    for (const c of pod.status?.containerStatuses ?? []) {
      const t = c.state?.terminated;
      if (t && (t.exitCode ?? 0) !== 0)
        return sanitize(t.message?.trim() ? t.message : `exit code ${t.exitCode} (${t.reason ?? "Error"})`);
    }
  return undefined;
}

/** True when the Job ended in failure (its Failed condition is True). */
export const jobFailed = (job: Job): boolean =>
  (job.status?.conditions ?? []).some((c) => c.type === "Failed" && c.status === "True");

/** What the engine sees of a check's Job; undefined for a Job without a run annotation. */
export function observeCheckJob(job: Job, podMessage?: string): CheckJobObservation | undefined {
  const run = runOfJob(job);
  if (!run) return undefined;
  const conditions = job.status?.conditions ?? [];
  const complete = conditions.some((c) => c.type === "Complete" && c.status === "True");
  const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
  const state = complete ? "Complete" : failed ? "Failed" : "Running";
  const message = failed
    ? [failed.reason ?? "Failed", podMessage].filter((x) => x !== undefined && x !== "").join(": ")
    : undefined;
  return {
    ...run,
    job: job.metadata.name,
    uid: job.metadata.uid ?? "",
    state,
    ...(message !== undefined ? { message: sanitize(message, 240) } : {}),
  };
}
