// Carries out the engine's check runs off the worker path: webhook calls (bounded concurrency, one call per run,
// results held until status records them, each result waking the Rollout through the queue), the Jobs of job
// checks, and the operator's rules for both (the URL allow-list — a Secret-held URL's too, and the Secret's opt-in
// label — and namespaces opted in to Jobs).
import { isAllowedAddress } from "../analysis/allowed-urls.ts";
import type { WebhookCheckSpec } from "../api/check-schema.ts";
import type { Rollout, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import type { ReadSecret } from "../api/secret-ref.ts";
import type { SpecIssue } from "../api/validate.ts";
import {
  type CheckOutcome,
  type CheckPayload,
  callCheckWebhook,
  idempotencyKey,
} from "../notify/check-webhook.ts";
import type { EgressRoute } from "../notify/http-post.ts";
import { readSecretUrl, SecretUrlError } from "../notify/secret-url.ts";
import { attemptIdOfStatus, runKey } from "../rollout/checks.ts";
import type { Action, CheckObservations, CheckResult, CheckRunRef } from "../rollout/types.ts";
import type { CheckJobClient } from "../workload/check-job-client.ts";

/** The Job operations the runner needs; {@link CheckJobClient} implements them. */
export type CheckJobPort = Pick<CheckJobClient, "jobsAllowed" | "list" | "create" | "delete">;

/** What the runner is built from (main.ts). */
export interface CheckRunnerOptions {
  jobs: CheckJobPort;
  /** The controller's egress: webhook URLs are a tenant's, so its address policy applies at connect time. */
  egress: EgressRoute["egress"];
  /** URL prefixes webhook checks may call (--allowed-check-urls); empty: none. */
  allowedUrls: readonly string[];
  /** Reads the Secret a webhook check's `urlFrom` names (the check's Rollout's namespace only). */
  readSecret: ReadSecret;
  /** Webhook calls in flight at once, over all Rollouts. */
  concurrency: number;
  /** Wakes a Rollout (`namespace/name`) when a result arrived. */
  wake: (key: string) => void;
  /** One webhook run; {@link callCheckWebhook} unless a test passes another. */
  call?: typeof callCheckWebhook;
  /** Webhook calls started so far (a metric, and the e2e's count). */
  onCall?: () => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Runs the webhook and Job checks the engine records in status. */
export class CheckRunner {
  readonly #o: CheckRunnerOptions;
  /** Results by Rollout key, then by run key and attempt id. */
  readonly #results = new Map<string, Map<string, CheckResult>>();
  readonly #inFlight = new Set<string>();
  readonly #waiting: (() => Promise<void>)[] = [];
  #running = 0;

  constructor(o: CheckRunnerOptions) {
    this.#o = o;
  }

  /** Problems the operator's rules find in the spec's checks: Invalid before any traffic moves, nothing sent. */
  async specIssues(namespace: string, spec: RolloutSpec): Promise<SpecIssue[]> {
    const issues: SpecIssue[] = [];
    for (const [i, c] of (spec.checks ?? []).entries()) {
      if (c.webhook?.url !== undefined && !isAllowedAddress(c.webhook.url, this.#o.allowedUrls))
        issues.push({
          path: `spec.checks[${i}].webhook.url`,
          message: "is not allowed by the controller's --allowed-check-urls",
        });
    }
    if ((spec.checks ?? []).some((c) => c.job) && !(await this.#o.jobs.jobsAllowed(namespace)))
      issues.push({
        path: "spec.checks",
        message: `Job checks need the namespace label vireo.dev/allow-jobs=true (or --job-namespaces): the operator grants running pods for checks`,
      });
    return issues;
  }

  /** What the engine needs to see: the results held for the Rollout, and its check Jobs. */
  async observe(rollout: Rollout, spec: RolloutSpec): Promise<CheckObservations | undefined> {
    const { namespace, name } = rollout.metadata;
    const runs = rollout.status?.checks ?? [];
    if (!spec.checks?.length && runs.length === 0) return undefined;
    const jobs = spec.checks?.some((c) => c.job) || runs.some((r) => r.kind === "job");
    return {
      results: [...(this.#results.get(`${namespace}/${name}`)?.values() ?? [])],
      jobs: jobs ? await this.#o.jobs.list(namespace, name) : [],
    };
  }

  /**
   * Carries out a CreateCheckJob or DeleteCheckJob, after the status write that recorded its run. A create is tried
   * once (status records that it was asked for): a refusal is held as the run's result, with the API server's
   * reason, and wakes the Rollout so its run fails with it rather than as a missing Job.
   */
  async act(rollout: Rollout, spec: RolloutSpec, owner: Parameters<CheckJobPort["create"]>[1], a: Action) {
    const { namespace, name } = rollout.metadata;
    if (a.type === "DeleteCheckJob") await this.#o.jobs.delete(namespace, a.job);
    if (a.type !== "CreateCheckJob") return;
    const job = spec.checks?.find((c) => c.name === a.run.name)?.job;
    if (!job) return;
    try {
      await this.#o.jobs.create(namespace, owner, job, { ...a.run, attemptId: a.attemptId }, a.revision);
    } catch (err) {
      const key = `${namespace}/${name}`;
      const message = `could not create its Job: ${err instanceof Error ? err.message : String(err)}`;
      this.#hold(key, `${runKey(a.run)}@${a.attemptId}`, a.run, a.attemptId, { passed: false, message });
      this.#o.wake(key);
    }
  }

  /**
   * After a status write: starts the call of every Running webhook run it holds no result for and is not calling,
   * and forgets results status has recorded. Never blocks.
   */
  dispatch(rollout: Rollout, spec: RolloutSpec, status: RolloutStatus): void {
    const { namespace, name, uid } = rollout.metadata;
    const key = `${namespace}/${name}`;
    const attemptId = attemptIdOfStatus(status);
    const open = (status.checks ?? []).filter((r) => r.kind === "webhook" && r.phase === "Running");
    // A refused Job create is held until status records its run's failure, as a webhook's result is.
    const unseenJobs = (status.checks ?? []).filter((r) => r.kind === "job" && r.phase === "Pending");
    const held = this.#results.get(key);
    const ids = new Set([...open, ...unseenJobs].map((r) => `${runKey(r)}@${attemptId}`));
    for (const id of held?.keys() ?? []) if (!ids.has(id)) held?.delete(id);
    for (const run of open) {
      const id = `${runKey(run)}@${attemptId}`;
      const flight = `${key}/${id}`;
      if (held?.has(id) || this.#inFlight.has(flight)) continue;
      const check = spec.checks?.find((c) => c.name === run.name)?.webhook;
      if (!check || (check.url !== undefined && !isAllowedAddress(check.url, this.#o.allowedUrls))) continue;
      const payload: CheckPayload = {
        name,
        namespace,
        phase: status.phase ?? "",
        checksum: status.canaryRevision ?? "",
        metadata: check.metadata ?? {},
        point: run.point,
        check: run.name,
        ...(run.point === "analysis" ? { tick: run.attempt } : {}),
      };
      const idem = idempotencyKey([uid, attemptId, run.point, run.step, run.name, run.attempt]);
      this.#inFlight.add(flight);
      this.#enqueue(async () => {
        this.#o.onCall?.();
        const call = this.#o.call ?? callCheckWebhook;
        let out: CheckOutcome;
        try {
          const url = await this.#url(namespace, check);
          const route = { egress: this.#o.egress, trust: "tenant" as const };
          out =
            typeof url === "string"
              ? await call(route, url, check, payload, idem, new AbortController().signal, sleep)
              : url;
        } catch {
          out = { passed: false, message: "check webhook request failed" };
        }
        this.#inFlight.delete(flight);
        this.#hold(key, id, run, attemptId, out);
        this.#o.wake(key);
      });
    }
  }

  /**
   * The URL a webhook check calls: its spec's (allowed by specIssues), or the one in its `urlFrom` Secret, read now
   * and held to the same allow-list; else the failed outcome saying why (naming the Secret, never the URL).
   */
  async #url(namespace: string, check: WebhookCheckSpec): Promise<string | CheckOutcome> {
    if (check.url !== undefined) return check.url;
    const ref = check.urlFrom?.secretKeyRef;
    if (!ref) return { passed: false, message: "check webhook: no url" };
    let url: string;
    try {
      url = await readSecretUrl(namespace, ref, this.#o.readSecret);
    } catch (err) {
      if (err instanceof SecretUrlError) return { passed: false, message: `check webhook: ${err.message}` };
      throw err;
    }
    if (!isAllowedAddress(url, this.#o.allowedUrls))
      return {
        passed: false,
        message: `check webhook: the URL in Secret ${namespace}/${ref.name} is not allowed by the controller's --allowed-check-urls`,
      };
    return url;
  }

  /** Forgets a deleted Rollout. */
  forget(namespace: string, name: string): void {
    this.#results.delete(`${namespace}/${name}`);
  }

  #hold(key: string, id: string, run: CheckRunRef, attemptId: string, out: CheckOutcome): void {
    const held = this.#results.get(key) ?? new Map<string, CheckResult>();
    held.set(id, {
      name: run.name,
      point: run.point,
      ...(run.step !== undefined ? { step: run.step } : {}),
      attempt: run.attempt,
      attemptId,
      passed: out.passed,
      message: out.message,
    });
    this.#results.set(key, held);
  }

  #enqueue(task: () => Promise<void>): void {
    this.#waiting.push(task);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#o.concurrency && this.#waiting.length > 0) {
      const task = this.#waiting.shift()!;
      this.#running++;
      void task().finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }
}
