// DaemonSet targets end to end: kube-controller-manager's real DaemonSet controller over four kwok nodes, a real
// Prometheus answering the analysis queries, and the controller deleting pods node batch by node batch under the
// OnDelete hold it keeps (docs/workloads.md) — promoted, rolled back by analysis, and through a SIGKILL mid-batch.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { annotate, apply, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";
import {
  allAt,
  appPods,
  gatedImage,
  hashOf,
  inPlaceRollout,
  type Pod,
  PodRecorder,
  pausedAt,
  podsCreatedSince,
  promotedFrom,
  ready,
  rolledBack,
  serve,
  showCreates,
  startVireo,
} from "./support/in-place.ts";

const NAME = "agent";
const NODES = 4;

interface DaemonSet {
  metadata: { labels?: Record<string, string> };
  spec: {
    template: { spec: { containers: { image: string }[] } };
    updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
  };
}

let cluster: Cluster;
let controller: ControllerProcess;

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
  const rollout = inPlaceRollout(ns, "DaemonSet", NAME, steps, bad);
  const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } };
  return [namespace, ds, rollout].map((x) => JSON.stringify(x)).join("\n---\n");
}

const ds = (ns: string) => getJson<DaemonSet>(cluster, ["daemonset", NAME, "-n", ns]) as Promise<DaemonSet>;
const pods = (ns: string) => appPods(cluster, ns, NAME);
/** Pods the DaemonSet controller made in `ns` from `since` (the rollout's start) on, at least `expected`. */
const replacedPods = (ns: string, since: number, expected: number) =>
  podsCreatedSince(cluster, ns, "DaemonSet", since, expected);
const setImage = (ns: string, image: string) =>
  cluster.kubectl(["-n", ns, "set", "image", `daemonset/${NAME}`, `app=${image}`]);

/** Every pod uid seen on each node. */
const recorder = (ns: string) => new PodRecorder(cluster, ns, NAME, (p) => p.spec?.nodeName);

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
    controller = await startVireo(cluster);
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("promotes node batch by node batch: each node's pod replaced once, never more than the step wants", async (t) => {
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
    const rec = recorder(ns);
    // Stopped even when the test fails, so no poll outlives the cluster.
    t.after(() => rec.stop());
    const started = Date.now();
    await setImage(ns, "app:v2");
    const promoted = await promotedFrom(cluster, ns, NAME, initial.status?.stableRevision);
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
    for (const [node, uids] of rec.uidsBySlot()) assert.equal(uids.size, 2, `${node}'s pod replaced once`);
    const replaced = await replacedPods(ns, started, NODES);
    assert.equal(replaced.length, NODES, `one new pod per node: ${showCreates(replaced)}`);
    console.log(
      `[numbers] DaemonSet ${NODES} nodes, steps 1 node / 50 %: first node updated and ready after ${batch1} ms, second batch's first after ${batch2} ms, promoted after ${total} ms; pods replaced: ${replaced.length}`,
    );
  });

  it("rolls back on failed analysis: the updated nodes go back to the stable template, the rest untouched", async () => {
    const ns = "ds-rollback";
    const { r: initial, stableHash } = await healthy(ns, [{ setUpdated: { replicas: 1 } }], true);
    const before = new Map((await pods(ns)).map((p) => [p.spec?.nodeName ?? "", p.metadata.uid]));
    const started = Date.now();
    await setImage(ns, "app:v2");
    await rolledBack(cluster, ns, NAME);
    const back = await allAt(cluster, ns, NAME, NODES, stableHash);
    const elapsed = Date.now() - started;
    assert.equal((await ds(ns)).spec.template.spec.containers[0]?.image, "app:v1", "stable template back");
    // Exactly one node was updated (and sent back); the other three kept the pods they had.
    const kept = back.filter((p) => before.get(p.spec?.nodeName ?? "") === p.metadata.uid);
    assert.equal(kept.length, NODES - 1, "the nodes never updated keep their pods");
    const replaced = await replacedPods(ns, started, 2);
    assert.equal(replaced.length, 2, `one pod to the canary, one back: ${showCreates(replaced)}`);
    const r = await getRollout(cluster, ns, NAME);
    assert.equal(r?.status?.stableRevision, initial.status?.stableRevision);
    console.log(
      `[numbers] DaemonSet rollback: template changed → every pod back at stable in ${elapsed} ms; pods replaced: ${replaced.length}`,
    );

    // Deleting the Rollout hands the DaemonSet back: RollingUpdate with its maxUnavailable, no claim label.
    await cluster.kubectl(["-n", ns, "delete", "rollout.vireo.dev", NAME, "--wait=true", "--timeout=60s"]);
    const handed = await ds(ns);
    assert.equal(handed.spec.updateStrategy?.type, "RollingUpdate");
    assert.equal(handed.spec.updateStrategy?.rollingUpdate?.maxUnavailable, 1);
    assert.equal(handed.metadata.labels?.["vireo.dev/rollout"], undefined);
    assert.equal(handed.spec.template.spec.containers[0]?.image, "app:v1");
  });

  it("survives a SIGKILL mid-batch: no node's pod replaced twice, no pod on a revision the status lacks", async (t) => {
    const ns = "ds-kill";
    // A batch of 2 nodes under maxUnavailable 1: Vireo deletes them one after the other, so there is a mid-batch.
    const { stableHash } = await healthy(
      ns,
      [{ setUpdated: { replicas: 1 } }, { setUpdated: { replicas: 3 } }, { pause: {} }],
      false,
    );
    const rec = recorder(ns);
    // Stopped even when the test fails, so no poll outlives the cluster.
    t.after(() => rec.stop());
    // New pods wait for the test to serve them: Vireo deletes the next node's pod only once the last new one is
    // Ready (maxUnavailable 1), so the test knows where the batch is. Nodes go in name order.
    const started = Date.now();
    const patched = await cluster.kubectl(["-n", ns, "patch", "daemonset", NAME, "-p", gatedImage("app:v2")]);
    assert.equal(patched.code, 0, patched.stderr);
    const updatedOn = (i: number) => async () =>
      (await pods(ns)).find((p) => p.spec?.nodeName === `kwok-node-${i}` && hashOf(p) !== stableHash);
    const isThere = (p: Pod | undefined) => p !== undefined;
    const serveNode = async (i: number) => {
      const p = await waitFor(`kwok-node-${i}'s pod at the new revision`, updatedOn(i), isThere);
      await serve(cluster, ns, p?.metadata.name ?? "");
    };
    await serveNode(0);
    // Mid-batch: the status wants 3 nodes, kwok-node-1's new pod is not Ready, kwok-node-2 still runs stable.
    const mid = await waitFor(
      "the second batch under way: kwok-node-1's pod at the new revision",
      async () => ({ r: await getRollout(cluster, ns, NAME), p: await updatedOn(1)() }),
      (x) => x.r?.status?.workload?.wanted === 3 && x.p !== undefined,
    );
    await controller.kill();
    await serve(cluster, ns, mid.p?.metadata.name ?? "");
    await new Promise((r) => setTimeout(r, 2000));
    controller = await startVireo(cluster);
    await serveNode(2);
    const paused = await pausedAt(cluster, ns, NAME, 2, 3);
    const w = paused.status?.workload;
    const atPause = await pods(ns);
    const nodesAt = (hash: string | undefined) =>
      atPause
        .filter((p) => hashOf(p) === hash)
        .map((p) => p.spec?.nodeName)
        .sort();
    assert.deepEqual(nodesAt(w?.canaryHash), ["kwok-node-0", "kwok-node-1", "kwok-node-2"]);
    assert.deepEqual(nodesAt(w?.stableHash), ["kwok-node-3"]);
    await annotate(cluster, ns, NAME, "vireo.dev/promote", "after-kill");
    await serveNode(3);
    await promotedFrom(cluster, ns, NAME, paused.status?.stableRevision);
    await allAt(cluster, ns, NAME, NODES, w?.canaryHash ?? "");
    await rec.assertReplacedOnce(stableHash);
    const replaced = await replacedPods(ns, started, NODES);
    assert.equal(
      replaced.length,
      NODES,
      `one new pod per node through the SIGKILL: ${showCreates(replaced)}`,
    );
    console.log(
      `[numbers] DaemonSet SIGKILL mid-batch (kwok-node-1's new pod not ready, kwok-node-2 stable): pods replaced: ${replaced.length} for ${NODES} nodes`,
    );
  });
});
