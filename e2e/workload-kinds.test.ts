// StatefulSet targets end to end: kube-controller-manager's real StatefulSet controller over kwok nodes, a real
// Prometheus answering the analysis queries, and the controller stepping the partition (docs/workloads.md).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NAME = "web";
const REPLICAS = 4;
const STEPS = [{ setUpdated: { replicas: 1 } }, { setUpdated: { percent: 50 } }];
/** 0 while {{ canary_hash }} renders (the query errors when it is unknown); `bad` makes it 1. */
const query = (bad: boolean) =>
  `vector(${bad ? 1 : 0}) + 0 * sum(absent(vireo_e2e_never{hash="{{ canary_hash }}"}))`;

interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string }[] };
}
interface StatefulSet {
  metadata: { labels?: Record<string, string> };
  spec: {
    template: { spec: { containers: { image: string }[] } };
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: { updateRevision?: string; currentRevision?: string };
}
interface EventJson {
  reason?: string;
  note?: string;
}

let cluster: Cluster;
let controller: ControllerProcess;

function manifests(ns: string, image: string, bad: boolean): string {
  const sts = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: NAME, namespace: ns },
    spec: {
      replicas: REPLICAS,
      serviceName: NAME,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: NAME } },
      template: {
        metadata: { labels: { app: NAME } },
        spec: { containers: [{ name: "app", image }] },
      },
    },
  };
  const rollout = {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: NAME, namespace: ns },
    spec: {
      targetRef: { apiVersion: "apps/v1", kind: "StatefulSet", name: NAME },
      // Required by the schema; with no traffic split, nothing is written through it.
      provider: "smi",
      strategy: { canary: { steps: STEPS } },
      analysis: {
        interval: "3s",
        failureLimit: 1,
        metrics: [{ name: "errors", query: query(bad), thresholdRange: { max: 0.5 } }],
      },
      progressDeadlineSeconds: 120,
    },
  };
  const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } };
  return [namespace, sts, rollout].map((x) => JSON.stringify(x)).join("\n---\n");
}

const sts = (ns: string) =>
  getJson<StatefulSet>(cluster, ["statefulset", NAME, "-n", ns]) as Promise<StatefulSet>;
const pods = async (ns: string) =>
  ((await getJson<{ items: Pod[] }>(cluster, ["pods", "-n", ns, "-l", `app=${NAME}`]))?.items ?? []).filter(
    (p) => !p.metadata.deletionTimestamp,
  );
const ready = (p: Pod) =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
/** Pod names by the revision hash they run. */
async function byRevision(ns: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const p of await pods(ns)) {
    const h = p.metadata.labels?.["controller-revision-hash"] ?? "";
    out[h] = [...(out[h] ?? []), p.metadata.name];
  }
  for (const v of Object.values(out)) v.sort();
  return out;
}
const events = async (ns: string) =>
  (await getJson<{ items: EventJson[] }>(cluster, ["events.events.k8s.io", "-n", ns]))?.items ?? [];
const partition = (s: StatefulSet) => s.spec.updateStrategy?.rollingUpdate?.partition;
const setImage = (ns: string, image: string) =>
  cluster.kubectl(["-n", ns, "set", "image", `statefulset/${NAME}`, `app=${image}`]);

/** Applies the app and waits until Vireo holds the StatefulSet, every pod ready at one revision. */
async function healthy(ns: string, bad: boolean): Promise<Rollout> {
  await apply(cluster, manifests(ns, "app:v1", bad));
  const r = await waitForRollout(
    cluster,
    ns,
    NAME,
    "Healthy and Ready",
    (x) =>
      x.status?.phase === "Healthy" &&
      x.status.conditions?.find((c) => c.type === "Ready")?.status === "True",
  );
  await waitFor(
    "the partition held at the size",
    () => sts(ns),
    (s) => partition(s) === REPLICAS,
  );
  return r;
}

describe("StatefulSet targets", () => {
  before(async () => {
    cluster = await startCluster({ nodes: 3 });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: prometheusArgs(cluster.prometheusUrl, "linkerd"),
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("promotes through partitions, highest ordinals first, and sets a partition a person lowered back", async () => {
    const ns = "sts-promote";
    const initial = await healthy(ns, false);
    assert.equal((await sts(ns)).metadata.labels?.["vireo.dev/rollout"], NAME, "claimed by label");
    assert.deepEqual(
      initial.status?.claims?.map((c) => `${c.kind}/${c.name}`),
      [`StatefulSet/${NAME}`],
    );
    const stableHash = (await sts(ns)).status?.currentRevision ?? "";
    const uids = new Map((await pods(ns)).map((p) => [p.metadata.name, p.metadata.uid]));

    const started = Date.now();
    await setImage(ns, "app:v2");
    // Step 1: one pod (the highest ordinal) at the new revision.
    const s1 = await waitFor(
      "partition 3",
      () => sts(ns),
      (s) => partition(s) === 3,
    );
    const updateHash = s1.status?.updateRevision ?? "";
    await waitFor(
      "web-3 updated",
      () => byRevision(ns),
      (r) => r[updateHash]?.join() === "web-3",
    );
    const firstStep = Date.now() - started;

    // A person lowers the partition to 0: Vireo sets it back and sends the pods it updated back to stable.
    await cluster.kubectl([
      "-n",
      ns,
      "patch",
      "statefulset",
      NAME,
      "--type=merge",
      "-p",
      '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}',
    ]);
    await waitFor(
      "Repaired event",
      () => events(ns),
      (es) =>
        es.some((e) => e.reason === "Repaired" && /partition 0 while Vireo holds it/.test(e.note ?? "")),
    );

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
      "all at the new revision",
      () => byRevision(ns),
      (r) => r[updateHash]?.length === REPLICAS,
    );
    assert.deepEqual(Object.keys(final), [updateHash]);
    assert.notEqual(updateHash, stableHash);
    assert.equal(partition(await sts(ns)), REPLICAS, "held again at the size");
    assert.equal(promoted.status?.workload?.stableHash, updateHash);
    // Analysis ran (its query needs {{ canary_hash }}, which errors until the canary pods exist) and passed.
    const history = promoted.status?.analysis?.history ?? [];
    assert.ok(
      history.some((m) => m.metric === "errors" && m.value === 0),
      JSON.stringify(history),
    );
    // Every pod was replaced exactly once by the StatefulSet controller (new uid), none by Vireo twice.
    const after = new Map((await pods(ns)).map((p) => [p.metadata.name, p.metadata.uid]));
    for (const [name, uid] of uids) assert.notEqual(after.get(name), uid, `${name} replaced`);
    console.log(
      `[numbers] StatefulSet ${REPLICAS} pods, 2 steps: first step's pod updated and ready after ${firstStep} ms; promoted after ${total} ms; pods replaced: ${REPLICAS}`,
    );
  });

  it("rolls back on failed analysis: exactly the updated ordinals go back, and deletion hands it back restored", async () => {
    const ns = "sts-rollback";
    const initial = await healthy(ns, true);
    const stableHash = (await sts(ns)).status?.currentRevision ?? "";
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
      async () => ({ revs: await byRevision(ns), all: await pods(ns), s: await sts(ns) }),
      (x) =>
        Object.keys(x.revs).join() === stableHash &&
        x.all.length === REPLICAS &&
        x.all.every(ready) &&
        x.s.status?.updateRevision === stableHash &&
        // Rolled back through the StatefulSet's own partition, then held at its size again.
        partition(x.s) === REPLICAS,
      120_000,
    );
    const elapsed = Date.now() - started;
    assert.equal(
      back.s.spec.template.spec.containers[0]?.image,
      "app:v1",
      "the stable template is back in the StatefulSet",
    );
    const r = await getRollout(cluster, ns, NAME);
    assert.equal(r?.status?.phase, "RolledBack");
    assert.equal(r?.status?.stableRevision, initial.status?.stableRevision);
    console.log(
      `[numbers] StatefulSet rollback: template changed → every pod back at stable in ${elapsed} ms`,
    );

    // Deleting the Rollout hands the StatefulSet back: no hold, no claim label, the stable template.
    await cluster.kubectl(["-n", ns, "delete", "rollout.vireo.dev", NAME, "--wait=true", "--timeout=60s"]);
    const handed = await sts(ns);
    assert.equal(partition(handed), 0);
    assert.equal(handed.metadata.labels?.["vireo.dev/rollout"], undefined);
    assert.equal(handed.spec.template.spec.containers[0]?.image, "app:v1");
    assert.ok(
      (await events(ns)).some((e) => e.reason === "HandedBack" && /StatefulSet web/.test(e.note ?? "")),
    );
  });
});
