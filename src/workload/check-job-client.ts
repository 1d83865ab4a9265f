// Job checks against the API server: lists a Rollout's check Jobs (with the failed pod's termination message),
// creates a run's Job (AlreadyExists is adoption, never a second Job), deletes one with its pods, and reads whether
// the operator let the namespace run them.

import type { JobCheckSpec } from "../api/check-schema.ts";
import { ALLOW_JOBS_LABEL } from "../api/constants.ts";
import type { OwnerRef } from "../api/object-meta.ts";
import type { KubeClients } from "../kube/clients.ts";
import { isAlreadyExists, isNotFound } from "../kube/errors.ts";
import type { NamespaceLabelReader } from "../kube/namespace-labels.ts";
import type { CheckJobObservation, CheckRunRef } from "../rollout/types.ts";
import {
  checkJobLabels,
  type Job,
  type JobPod,
  jobFailed,
  observeCheckJob,
  renderCheckJob,
  terminationMessage,
} from "./check-jobs.ts";

const jobsPath = (ns: string, name?: string) =>
  `/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs${name ? `/${encodeURIComponent(name)}` : ""}`;
const selector = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** Creates, lists and deletes the Jobs of job checks. */
export class CheckJobClient {
  readonly #clients: KubeClients;
  /** Namespaces the operator opted in by flag (--job-namespaces), beside the namespace label. */
  readonly #allowed: ReadonlySet<string>;
  /** A namespace's labels (undefined when it does not exist): the controller's one cached reader. */
  readonly #namespaceLabels: NamespaceLabelReader;

  constructor(
    clients: KubeClients,
    namespaceLabels: NamespaceLabelReader,
    allowedNamespaces: readonly string[] = [],
  ) {
    this.#clients = clients;
    this.#namespaceLabels = namespaceLabels;
    this.#allowed = new Set(allowedNamespaces);
  }

  /**
   * True when Rollouts of `namespace` may run Job checks: the flag names it, or it carries the opt-in label (a label
   * removed is seen within the reader's cache time).
   */
  async jobsAllowed(namespace: string): Promise<boolean> {
    if (this.#allowed.has(namespace)) return true;
    return (await this.#namespaceLabels(namespace))?.[ALLOW_JOBS_LABEL] === "true";
  }

  /** The check Jobs of `rollout`, with the termination message of a failed one's pod. */
  async list(namespace: string, rollout: string): Promise<CheckJobObservation[]> {
    const list = await this.#clients.request<{ items: Job[] }>({
      path: jobsPath(namespace),
      query: { labelSelector: selector(checkJobLabels(rollout)) },
    });
    const out: CheckJobObservation[] = [];
    for (const job of list.items) {
      if (job.metadata.deletionTimestamp) continue;
      const message = jobFailed(job) ? await this.#podMessage(namespace, job.metadata.name) : undefined;
      const seen = observeCheckJob(job, message);
      if (seen) out.push(seen);
    }
    return out;
  }

  /** Creates the run's Job; an existing Job of that name (this run's, created before a crash) is adopted. */
  async create(
    namespace: string,
    owner: OwnerRef,
    check: JobCheckSpec,
    run: CheckRunRef & { attemptId: string },
    revision: string,
  ): Promise<"created" | "adopted"> {
    try {
      await this.#clients.request({
        method: "POST",
        path: jobsPath(namespace),
        body: {
          apiVersion: "batch/v1",
          kind: "Job",
          ...renderCheckJob(namespace, owner, check, run, revision),
        },
      });
      return "created";
    } catch (err) {
      if (isAlreadyExists(err)) return "adopted";
      throw err;
    }
  }

  /** Deletes a Job with its pods (background propagation); gone already is fine. */
  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.#clients.request({
        method: "DELETE",
        path: jobsPath(namespace, name),
        body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async #podMessage(namespace: string, job: string): Promise<string | undefined> {
    const pods = await this.#clients.request<{ items: JobPod[] }>({
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      query: { labelSelector: `batch.kubernetes.io/job-name=${job}`, limit: 5 },
    });
    return terminationMessage(pods.items);
  }
}
