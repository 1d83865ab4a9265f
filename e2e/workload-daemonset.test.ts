// DaemonSet targets end to end: kube-controller-manager's real DaemonSet controller over four kwok nodes, a real
// Prometheus answering the analysis queries, and the controller deleting pods node batch by node batch under the
// OnDelete hold it keeps (docs/workloads.md) — promoted, rolled back by analysis, and through a SIGKILL mid-batch.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { annotate, apply, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NAME = "agent";
const NODES = 4;
/** 0 while {{ canary_hash }} renders (the query errors when it is unknown); `bad` makes it 1. */
const query = (bad: boolean) =>
  `vector(${bad ? 1 : 0}) + 0 * sum(absent(vireo_e2e_never{hash="{{ canary_hash }}"}))`;

interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}
interface DaemonSet {
  metadata: { labels?: Record<string, string> };
  spec: {
    template: { spec: { containers: { image: string }[] } };
    updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
  };
}
interface EventJson {
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

let cluster: Cluster;
let controller: ControllerProcess;

const startVireo = () =>
  startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    args: prometheusArgs(cluster.prometheusUrl, "linkerd"),
  });

function manifests(ns: string, steps: unknown[], bad: boolean): string {
  const ds = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: NAME, namespace: ns },
    spec: {
      selector: { matchLabels: { app: NAME } },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: NAME } },
        spec: { containers: [{ name: "app", image: "app:v1" }] },
      },
    },
  };
  const rollout = {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: NAME, namespace: ns },
    spec: {
      targetRef: { apiVersion: "apps/v1", kind: "DaemonSet", name: NAME },
      // Required by the schema; a DaemonSet never takes a traffic split.
      provider: "smi",
      strategy: { canary: { steps } },
      analysis: {
        interval: "3s",
        failureLimit: 1,
        metrics: [{ name: "errors", query: query(bad), thresholdRange: { max: 0.5 } }],
      },
      progressDeadlineSeconds: 120,
    },
  };
  const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } };
  return [namespace, ds, rollout].map((x) => JSON.stringify(x)).join("\n---\n");
}

const ds = (ns: string) => getJson<DaemonSet>(cluster, ["daemonset", NAME, "-n", ns]) as Promise<DaemonSet>;
const pods = async (ns: string) =>
  ((await getJson<{ items: Pod[] }>(cluster, ["pods", "-n", ns, "-l", `app=${NAME}`]))?.items ?? []).filter(
    (p) => !p.metadata.deletionTimestamp,
  );
const ready = (p: Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const hashOf = (p: Pod) => p.metadata.labels?.["controller-revision-hash"] ?? "";
const events = async (ns: string) =>
  (await getJson<{ items: EventJson[] }>(cluster, ["events.events.k8s.io", "-n", ns]))?.items ?? [];
/** Pods the DaemonSet controller made, by its own SuccessfulCreate Events (one per pod). */
const podsCreated = async (ns: string) =>
  (await events(ns)).filter((e) => e.reason === "SuccessfulCreate" && e.regarding?.kind === "DaemonSet")
    .length;
const setImage = (ns: string, image: string) =>
  cluster.kubectl(["-n", ns, "set", "image", `daemonset/${NAME}`, `app=${image}`]);

/** One look at the pods and then at the Rollout (in that order: status is written before any pod moves). */
interface Sample {
  at: number;
  pods: Pod[];
  rollout: Rollout | undefined;
}

/**
 * Polls the pods and the Rollout until stopped, keeping every sample: every pod uid seen per node, and whether a
 * pod ever ran a revision the status did not name.
 */
class Recorder {
  readonly samples: Sample[] = [];
  #stopped = false;
  readonly #done: Promise<void>;
  constructor(ns: string) {
    this.#done = (async () => {
      while (!this.#stopped) {
        const p = await pods(ns);
        this.samples.push({ at: Date.now(), pods: p, rollout: await getRollout(cluster, ns, NAME) });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }
  async stop(): Promise<this> {
    this.#stopped = true;
    await this.#done;
    return this;
  }
  /** Distinct pod uids seen on each node. */
  uidsByNode(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const s of this.samples)
      for (const p of s.pods) {
        const node = p.spec?.nodeName;
        if (!node) continue;
        out.set(node, (out.get(node) ?? new Set()).add(p.metadata.uid));
      }
    return out;
  }
  /** Samples where more pods ran the new revision than the status wanted, or a pod ran a revision status lacks. */
  violations(stableHash: string): string[] {
    const out: string[] = [];
    for (const s of this.samples) {
      const w = s.rollout?.status?.workload;
      const known = new Set([stableHash, w?.stableHash, w?.canaryHash]);
      const off = s.pods.filter((p) => !known.has(hashOf(p)));
      // A pod the DaemonSet controller just made can run the new revision a moment before status names its hash.
      const updated = s.pods.filter((p) => hashOf(p) !== stableHash).length;
      if (off.length > 0 && w?.canaryHash !== undefined)
        out.push(
          `${off.map((p) => `${p.metadata.name}@${hashOf(p)}`).join()} not in status ${JSON.stringify(w)}`,
        );
      const stepping = s.rollout?.status?.phase === "Progressing" || s.rollout?.status?.phase === "Paused";
      if (stepping && updated > (w?.wanted ?? 0))
        out.push(`${updated} pods updated, status wants ${w?.wanted}`);
    }
    return out;
  }
}

/** Applies the app and waits until Vireo holds the DaemonSet (OnDelete), a ready pod on every node. */
async function healthy(
  ns: string,
  steps: unknown[],
  bad: boolean,
): Promise<{ r: Rollout; stableHash: string }> {
  await apply(cluster, manifests(ns, steps, bad));
  const r = await waitForRollout(
    cluster,
    ns,
    NAME,
    "Healthy and Ready",
    (x) =>
      x.status?.phase === "Healthy" &&
      x.status.conditions?.find((c) => c.type === "Ready")?.status === "True" &&
      x.status.workload?.stableHash !== undefined,
  );
  await waitFor(
    "OnDelete held, a ready pod on every node",
    async () => ({ d: await ds(ns), p: await pods(ns) }),
    (x) => x.d.spec.updateStrategy?.type === "OnDelete" && x.p.length === NODES && x.p.every(ready),
  );
  return { r, stableHash: r.status?.workload?.stableHash ?? "" };
}

describe("DaemonSet targets", () => {
  before(async () => {
    cluster = await startCluster({ nodes: NODES });
    controller = await startVireo();
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("promotes node batch by node batch: each node's pod replaced once, never more than the step wants", async () => {
    const ns = "ds-promote";
    const { r: initial, stableHash } = await healthy(
      ns,
      [{ setUpdated: { replicas: 1 } }, { setUpdated: { percent: 50 } }],
      false,
    );
    assert.equal((await ds(ns)).metadata.labels?.["vireo.dev/rollout"], NAME, "claimed by label");
    assert.deepEqual(
      initial.status?.claims?.map((c) => `${c.kind}/${c.name}`),
      [`DaemonSet/${NAME}`],
    );
    const createdBefore = await podsCreated(ns);
    const rec = new Recorder(ns);
    const started = Date.now();
    await setImage(ns, "app:v2");
    const promoted = await waitForRollout(
      cluster,
      ns,
      NAME,
      "promoted",
      (x) =>
        x.status?.phase === "Healthy" &&
        x.status.stableRevision === x.status.canaryRevision &&
        x.status.canaryRevision !== initial.status?.stableRevision,
      180_000,
    );
    const total = Date.now() - started;
    const final = await waitFor(
      "every node's pod at the new revision and ready",
      () => pods(ns),
      (ps) => ps.length === NODES && ps.every(ready) && ps.every((p) => hashOf(p) !== stableHash),
    );
    await rec.stop();
    const newHash = promoted.status?.workload?.stableHash ?? "";
    assert.notEqual(newHash, stableHash);
    assert.deepEqual([...new Set(final.map(hashOf))], [newHash]);
    assert.equal((await ds(ns)).spec.updateStrategy?.type, "OnDelete", "held again");
    assert.ok(
      (promoted.status?.analysis?.history ?? []).some((m) => m.metric === "errors" && m.value === 0),
      "analysis ran on the canary pods and passed",
    );
    // Batches: 1 node, then 2 (50 % of 4), then the promotion; the status never trailed the pods.
    assert.deepEqual(rec.violations(stableHash), []);
    const firstUpdated = (n: number) =>
      rec.samples.find((s) => s.pods.filter((p) => hashOf(p) === newHash && ready(p)).length >= n)?.at;
    const batch1 = (firstUpdated(1) ?? Number.NaN) - started;
    const batch2 = (firstUpdated(2) ?? Number.NaN) - started;
    for (const [node, uids] of rec.uidsByNode()) assert.equal(uids.size, 2, `${node}'s pod replaced once`);
    const replaced = (await podsCreated(ns)) - createdBefore;
    assert.equal(replaced, NODES, "one new pod per node");
    console.log(
      `[numbers] DaemonSet ${NODES} nodes, steps 1 node / 50 %: first node updated and ready after ${batch1} ms, second batch's first after ${batch2} ms, promoted after ${total} ms; pods replaced: ${replaced}`,
    );
  });

  it("rolls back on failed analysis: the updated nodes go back to the stable template, the rest untouched", async () => {
    const ns = "ds-rollback";
    const { r: initial, stableHash } = await healthy(ns, [{ setUpdated: { replicas: 1 } }], true);
    const before = new Map((await pods(ns)).map((p) => [p.spec?.nodeName ?? "", p.metadata.uid]));
    const createdBefore = await podsCreated(ns);
    const started = Date.now();
    await setImage(ns, "app:v2");
    const rolled = await waitForRollout(
      cluster,
      ns,
      NAME,
      "RolledBack",
      (x) => x.status?.phase === "RolledBack",
      120_000,
    );
    assert.match(rolled.status?.message ?? "", /errors/);
    const back = await waitFor(
      "every pod back at the stable revision and ready",
      () => pods(ns),
      (ps) => ps.length === NODES && ps.every(ready) && ps.every((p) => hashOf(p) === stableHash),
      120_000,
    );
    const elapsed = Date.now() - started;
    assert.equal((await ds(ns)).spec.template.spec.containers[0]?.image, "app:v1", "stable template back");
    // Exactly one node was updated (and sent back); the other three kept the pods they had.
    const kept = back.filter((p) => before.get(p.spec?.nodeName ?? "") === p.metadata.uid);
    assert.equal(kept.length, NODES - 1, "the nodes never updated keep their pods");
    const replaced = (await podsCreated(ns)) - createdBefore;
    assert.equal(replaced, 2, "one pod to the canary, one back");
    const r = await getRollout(cluster, ns, NAME);
    assert.equal(r?.status?.stableRevision, initial.status?.stableRevision);
    console.log(
      `[numbers] DaemonSet rollback: template changed → every pod back at stable in ${elapsed} ms; pods replaced: ${replaced}`,
    );

    // Deleting the Rollout hands the DaemonSet back: RollingUpdate with its maxUnavailable, no claim label.
    await cluster.kubectl(["-n", ns, "delete", "rollout.vireo.dev", NAME, "--wait=true", "--timeout=60s"]);
    const handed = await ds(ns);
    assert.equal(handed.spec.updateStrategy?.type, "RollingUpdate");
    assert.equal(handed.spec.updateStrategy?.rollingUpdate?.maxUnavailable, 1);
    assert.equal(handed.metadata.labels?.["vireo.dev/rollout"], undefined);
    assert.equal(handed.spec.template.spec.containers[0]?.image, "app:v1");
  });

  it("survives a SIGKILL mid-batch: no node's pod replaced twice, no pod on a revision the status lacks", async () => {
    const ns = "ds-kill";
    // A batch of 2 nodes under maxUnavailable 1: Vireo deletes them one after the other, so there is a mid-batch.
    const { stableHash } = await healthy(
      ns,
      [{ setUpdated: { replicas: 1 } }, { setUpdated: { replicas: 3 } }, { pause: {} }],
      false,
    );
    const createdBefore = await podsCreated(ns);
    const rec = new Recorder(ns);
    await setImage(ns, "app:v2");
    const mid = await waitFor(
      "mid-batch: the second batch wanted, 1 or 2 of its 3 nodes updated",
      async () => ({ r: await getRollout(cluster, ns, NAME), p: await pods(ns) }),
      (x) => {
        const updated = x.p.filter((p) => hashOf(p) !== stableHash).length;
        return x.r?.status?.workload?.wanted === 3 && updated >= 1 && updated < 3;
      },
      120_000,
      50,
    );
    await controller.kill();
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    controller = await startVireo();
    const paused = await waitForRollout(
      cluster,
      ns,
      NAME,
      "paused at the third step with 3 nodes updated",
      (x) =>
        x.status?.currentStepIndex === 2 && x.status.workload?.updated === 3 && x.status.phase === "Paused",
      120_000,
    );
    const w = paused.status?.workload;
    const atPause = await pods(ns);
    assert.equal(atPause.filter((p) => hashOf(p) === w?.canaryHash).length, 3);
    assert.equal(atPause.filter((p) => hashOf(p) === w?.stableHash).length, NODES - 3);
    await annotate(cluster, ns, NAME, "vireo.dev/promote", "after-kill");
    await waitForRollout(
      cluster,
      ns,
      NAME,
      "promoted",
      (x) => x.status?.phase === "Healthy" && x.status.workload?.stableHash === w?.canaryHash,
      120_000,
    );
    await waitFor(
      "every pod at the new revision",
      () => pods(ns),
      (ps) => ps.length === NODES && ps.every(ready) && ps.every((p) => hashOf(p) === w?.canaryHash),
    );
    await rec.stop();
    assert.deepEqual(rec.violations(stableHash), []);
    for (const [node, uids] of rec.uidsByNode()) assert.equal(uids.size, 2, `${node}'s pod replaced once`);
    const replaced = (await podsCreated(ns)) - createdBefore;
    assert.equal(replaced, NODES, "one new pod per node through the SIGKILL");
    console.log(
      `[numbers] DaemonSet SIGKILL mid-batch: killed ${killedAt - (rec.samples[0]?.at ?? killedAt)} ms into the rollout with ${mid.p.filter((p) => hashOf(p) !== stableHash).length}/3 nodes updated; pods replaced: ${replaced} for ${NODES} nodes`,
    );
  });
});
