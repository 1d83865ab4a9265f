// e2e helpers for StatefulSet and DaemonSet targets: their pods, Events, and a recorder that watches the pods and
// the Rollout through a rollout to check what no single look can (no pod replaced twice, status never behind).

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Rollout } from "../../src/api/rollout-schema.ts";
import type { Cluster } from "../cluster/cluster.ts";
import { WORKLOAD_CONTROLLER_USERS } from "../cluster/components.ts";
import { SERVING_GATE } from "../dataplane/grpc-pods.ts";
import { getJson, getRollout, waitFor, waitForRollout } from "./app.ts";
import { auditEntries } from "./audit.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./controller-process.ts";

/** The fields of a pod these tests read. */
export interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}
/** The fields of an events.k8s.io Event these tests read. */
export interface EventJson {
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

/** Starts Vireo against the cluster, with its Prometheus for analysis. */
export function startVireo(cluster: Cluster): Promise<ControllerProcess> {
  return startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    args: prometheusArgs(cluster.prometheusUrl, "linkerd"),
  });
}

/**
 * The Rollout of a StatefulSet or DaemonSet `name`, its analysis one query every 3 s: 0 while {{ canary_hash }}
 * renders (the query errors while it is unknown), 1 when `bad`.
 */
export function inPlaceRollout(
  ns: string,
  kind: "StatefulSet" | "DaemonSet",
  name: string,
  steps: unknown[],
  bad: boolean,
): Record<string, unknown> {
  const query = `vector(${bad ? 1 : 0}) + 0 * sum(absent(vireo_e2e_never{hash="{{ canary_hash }}"}))`;
  return {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name, namespace: ns },
    spec: {
      targetRef: { apiVersion: "apps/v1", kind, name },
      // Required by the schema; with no traffic split, nothing is written through it.
      provider: "smi",
      strategy: { canary: { steps } },
      analysis: {
        interval: "3s",
        failureLimit: 1,
        metrics: [{ name: "errors", query, thresholdRange: { max: 0.5 } }],
      },
      progressDeadlineSeconds: 120,
    },
  };
}

/** Waits until the Rollout promoted a revision other than `from` to stable. */
export function promotedFrom(
  cluster: Cluster,
  ns: string,
  name: string,
  from: string | undefined,
): Promise<Rollout> {
  return waitForRollout(
    cluster,
    ns,
    name,
    "promoted",
    (x) =>
      x.status?.phase === "Healthy" &&
      x.status.stableRevision === x.status.canaryRevision &&
      x.status.canaryRevision !== from,
    180_000,
  );
}

/** Waits until the Rollout is Paused at step `index` with `updated` pods at the new revision. */
export function pausedAt(
  cluster: Cluster,
  ns: string,
  name: string,
  index: number,
  updated: number,
): Promise<Rollout> {
  return waitForRollout(
    cluster,
    ns,
    name,
    `paused at step ${index} with ${updated} pods updated`,
    (x) =>
      x.status?.currentStepIndex === index &&
      x.status.workload?.updated === updated &&
      x.status.phase === "Paused",
    120_000,
  );
}

/** Waits until `count` pods run `hash`, all of them Ready, and no other pod is there. */
export function allAt(
  cluster: Cluster,
  ns: string,
  name: string,
  count: number,
  hash: string,
): Promise<Pod[]> {
  return waitFor(
    `every pod at ${hash} and ready`,
    () => appPods(cluster, ns, name),
    (ps) => ps.length === count && ps.every(ready) && ps.every((p) => hashOf(p) === hash),
    120_000,
  );
}

/** Waits until the Rollout rolled back, its message naming the failed metric `errors`. */
export async function rolledBack(cluster: Cluster, ns: string, name: string): Promise<Rollout> {
  const r = await waitForRollout(
    cluster,
    ns,
    name,
    "RolledBack",
    (x) => x.status?.phase === "RolledBack",
    120_000,
  );
  assert.match(r.status?.message ?? "", /errors/);
  return r;
}

/** The pods labelled `app=<app>` in `ns` that are not being deleted. */
export async function appPods(cluster: Cluster, ns: string, app: string): Promise<Pod[]> {
  const list = await getJson<{ items: Pod[] }>(cluster, ["pods", "-n", ns, "-l", `app=${app}`]);
  return (list?.items ?? []).filter((p) => !p.metadata.deletionTimestamp);
}

/** Whether the pod is Ready. */
export const ready = (p: Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** The pod's `controller-revision-hash`. */
export const hashOf = (p: Pod): string => p.metadata.labels?.["controller-revision-hash"] ?? "";

/**
 * A strategic-merge patch of a workload's template: the image `image`, and the serving readiness gate, which kwok
 * leaves False (e2e/cluster/kwok-stages.yaml), so each new pod stays not Ready until the test {@link serve}s it —
 * the test, not the machine's speed, decides where a step is when it acts.
 */
export function gatedImage(image: string): string {
  const spec = { readinessGates: [{ conditionType: SERVING_GATE }], containers: [{ name: "app", image }] };
  return JSON.stringify({ spec: { template: { spec } } });
}

/** Marks a gated pod Ready, as a kubelet does once its readiness probe passes. */
export async function serve(cluster: Cluster, ns: string, pod: string): Promise<void> {
  const conditions = ["Ready", SERVING_GATE].map((type) => ({ type, status: "True" }));
  const patch = JSON.stringify({ status: { conditions } });
  const r = await cluster.kubectl(["-n", ns, "patch", "pod", pod, "--subresource=status", "-p", patch]);
  if (r.code !== 0) throw new Error(`serving ${ns}/${pod}: ${r.stderr}`);
}

/** The Events of a namespace. */
export async function nsEvents(cluster: Cluster, ns: string): Promise<EventJson[]> {
  return (await getJson<{ items: EventJson[] }>(cluster, ["events.events.k8s.io", "-n", ns]))?.items ?? [];
}

/** One pod a workload controller made, as the audit log has it. */
export interface PodCreate {
  name: string;
  /** When the API server received the create (ISO). */
  at: string;
}

/**
 * Pods `kind`'s controller made in `ns` from `since` (ms since the epoch, read before the change that starts the
 * rollout) on, from the API server's audit log (every pod create of kube-controller-manager's StatefulSet and
 * DaemonSet controllers is logged, see AUDIT_POLICY): one entry per pod made, however briefly it lived, in the
 * order the log has them. Pods made before the rollout are left out by time, not by assuming how many there were.
 * (Counting the controller's SuccessfulCreate Events over-counted under load: the event recorder folds repeats of
 * one message into counts it does not always keep straight.) Waits until at least `expected` are there, so a
 * create still being written to the log is not missed.
 */
export async function podsCreatedSince(
  cluster: Cluster,
  ns: string,
  kind: keyof typeof WORKLOAD_CONTROLLER_USERS,
  since: number,
  expected: number,
): Promise<PodCreate[]> {
  const user = WORKLOAD_CONTROLLER_USERS[kind];
  const made = async () =>
    auditEntries(cluster.dir)
      .filter(
        (e) =>
          e.user?.username === user &&
          e.verb === "create" &&
          e.objectRef?.resource === "pods" &&
          e.objectRef.namespace === ns &&
          e.responseStatus?.code === 201 &&
          Date.parse(e.requestReceivedTimestamp) >= since,
      )
      .map((e) => ({ name: e.objectRef?.name ?? "", at: e.requestReceivedTimestamp }));
  return waitFor(`${expected} ${kind} pods made`, made, (c) => c.length >= expected);
}

/** The pod names of `creates`, sorted: one per slot when each was replaced once. */
export const createdNames = (creates: readonly PodCreate[]): string[] => creates.map((c) => c.name).sort();

/** `creates` for an assertion message: `name@time` in the order made (a DaemonSet's pods have generated names). */
export const showCreates = (creates: readonly PodCreate[]): string =>
  creates.map((c) => `${c.name || "(generated)"}@${c.at.slice(11, 23)}`).join(", ");

/** One look at the pods and then at the Rollout (in that order: status is written before any pod moves). */
export interface Sample {
  at: number;
  pods: Pod[];
  rollout: Rollout | undefined;
}

/**
 * Polls the pods and the Rollout until stopped, keeping every sample, to tell every pod uid seen per slot (a
 * StatefulSet's ordinal, a DaemonSet's node) and whether the pods were ever ahead of the status.
 */
export class PodRecorder {
  readonly samples: Sample[] = [];
  #stopped = false;
  readonly #done: Promise<void>;
  readonly #slot: (p: Pod) => string | undefined;

  /** `slot` names the place a pod fills: its name (StatefulSet) or its node (DaemonSet). */
  constructor(cluster: Cluster, ns: string, name: string, slot: (p: Pod) => string | undefined) {
    this.#slot = slot;
    this.#done = (async () => {
      while (!this.#stopped) {
        const pods = await appPods(cluster, ns, name);
        this.samples.push({ at: Date.now(), pods, rollout: await getRollout(cluster, ns, name) });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  /** Stops polling once the poll under way is done. */
  async stop(): Promise<this> {
    this.#stopped = true;
    await this.#done;
    return this;
  }

  /** Distinct pod uids seen in each slot. */
  uidsBySlot(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const s of this.samples)
      for (const p of s.pods) {
        const slot = this.#slot(p);
        if (slot !== undefined) out.set(slot, (out.get(slot) ?? new Set()).add(p.metadata.uid));
      }
    return out;
  }

  /**
   * Stops, then asserts that the pods never ran ahead of the status ({@link violations}) and that every slot's pod
   * was replaced exactly once (two uids: the stable pod and its one replacement).
   */
  async assertReplacedOnce(stableHash: string): Promise<void> {
    await this.stop();
    assert.deepEqual(this.violations(stableHash), []);
    for (const [slot, uids] of this.uidsBySlot()) assert.equal(uids.size, 2, `${slot}'s pod replaced once`);
  }

  /**
   * Samples where, while the rollout stepped, more pods left `stableHash` than the status wanted, or a pod ran a
   * revision the status did not name (once it names the canary's: a pod just made runs it a moment before).
   */
  violations(stableHash: string): string[] {
    const out: string[] = [];
    for (const s of this.samples) {
      const w = s.rollout?.status?.workload;
      const known = new Set([stableHash, w?.stableHash, w?.canaryHash]);
      const off = s.pods.filter((p) => !known.has(hashOf(p)));
      if (off.length > 0 && w?.canaryHash !== undefined)
        out.push(`${off.map((p) => `${p.metadata.name}@${hashOf(p)}`).join()} not in ${JSON.stringify(w)}`);
      const phase = s.rollout?.status?.phase;
      const updated = s.pods.filter((p) => hashOf(p) !== stableHash).length;
      if ((phase === "Progressing" || phase === "Paused") && updated > (w?.wanted ?? 0))
        out.push(`${updated} pods updated, status wants ${w?.wanted}`);
    }
    return out;
  }
}
