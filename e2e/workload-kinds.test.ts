// StatefulSet targets end to end: kube-controller-manager's real StatefulSet controller over kwok nodes, a real
// Prometheus answering the analysis queries, and the controller stepping the partition (docs/workloads.md) —
// promoted, rolled back by analysis with every ordinal's claim still bound, through a SIGKILL mid-step, and held
// (Invalid) when a web metric names a URL outside the allow-list.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { annotate, apply, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";
import {
  allAt,
  appPods,
  createdNames,
  gatedImage,
  hashOf,
  inPlaceRollout,
  nsEvents,
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
import { LoopbackServer } from "./support/loopback-server.ts";

const NAME = "web";
const REPLICAS = 4;
const STEPS = [{ setUpdated: { replicas: 1 } }, { setUpdated: { percent: 50 } }];
interface StatefulSet {
  metadata: { labels?: Record<string, string> };
  spec: {
    template: { spec: { containers: { image: string }[] } };
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: { updateRevision?: string; currentRevision?: string };
}
interface Claim {
  metadata: { name: string; uid: string };
  spec: { volumeName?: string };
  status?: { phase?: string };
}

let cluster: Cluster;
let controller: ControllerProcess;

/** The PersistentVolumeClaim a StatefulSet with volumes gives `ordinal` (`<template>-<set>-<ordinal>`). */
const claimName = (ordinal: number) => `data-${NAME}-${ordinal}`;

/**
 * One hostPath PersistentVolume per ordinal, each bound ahead to that ordinal's claim, so kube-controller-manager's
 * persistent-volume binder binds every claim to a known volume (the cluster has no provisioner).
 */
function volumes(ns: string): string[] {
  return Array.from({ length: REPLICAS }, (_, i) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `${ns}-${i}` },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        storageClassName: "e2e-static",
        hostPath: { path: `/vireo-e2e/${ns}/${i}` },
        claimRef: { namespace: ns, name: claimName(i) },
      },
    }),
  );
}

/** What a test's app differs in: failing analysis, a claim per ordinal, other steps. */
interface AppOptions {
  bad?: boolean;
  withVolumes?: boolean;
  steps?: unknown[];
}

function manifests(
  ns: string,
  image: string,
  { bad = false, withVolumes = false, steps = STEPS }: AppOptions,
): string {
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
        spec: {
          containers: [
            {
              name: "app",
              image,
              ...(withVolumes ? { volumeMounts: [{ name: "data", mountPath: "/data" }] } : {}),
            },
          ],
        },
      },
      ...(withVolumes
        ? {
            volumeClaimTemplates: [
              {
                metadata: { name: "data" },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  storageClassName: "e2e-static",
                  resources: { requests: { storage: "1Gi" } },
                },
              },
            ],
          }
        : {}),
    },
  };
  const rollout = inPlaceRollout(ns, "StatefulSet", NAME, steps, bad);
  const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } };
  return [
    ...[namespace, sts, rollout].map((x) => JSON.stringify(x)),
    ...(withVolumes ? volumes(ns) : []),
  ].join("\n---\n");
}

const sts = (ns: string) =>
  getJson<StatefulSet>(cluster, ["statefulset", NAME, "-n", ns]) as Promise<StatefulSet>;
const pods = (ns: string) => appPods(cluster, ns, NAME);
/** Pod names by the revision hash they run. */
async function byRevision(ns: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const p of await pods(ns)) {
    const h = hashOf(p);
    out[h] = [...(out[h] ?? []), p.metadata.name];
  }
  for (const v of Object.values(out)) v.sort();
  return out;
}
const events = (ns: string) => nsEvents(cluster, ns);
/** Each claim of the set: its uid, the volume it is bound to and its phase. */
const claims = async (ns: string) =>
  Object.fromEntries(
    ((await getJson<{ items: Claim[] }>(cluster, ["pvc", "-n", ns]))?.items ?? []).map((c) => [
      c.metadata.name,
      `${c.metadata.uid} ${c.spec.volumeName} ${c.status?.phase}`,
    ]),
  );
const partition = (s: StatefulSet) => s.spec.updateStrategy?.rollingUpdate?.partition;
const setImage = (ns: string, image: string) =>
  cluster.kubectl(["-n", ns, "set", "image", `statefulset/${NAME}`, `app=${image}`]);

/** Applies the app and waits until Vireo holds the StatefulSet, every pod ready at one revision. */
async function healthy(ns: string, opts: AppOptions = {}): Promise<Rollout> {
  await apply(cluster, manifests(ns, "app:v1", opts));
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
    controller = await startVireo(cluster);
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("promotes through partitions, highest ordinals first, and sets a partition a person lowered back", async () => {
    const ns = "sts-promote";
    const initial = await healthy(ns);
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

    const promoted = await promotedFrom(cluster, ns, NAME, initial.status?.stableRevision);
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

  it("rolls back on failed analysis: exactly the updated ordinals go back, their volumes still bound, and deletion hands it back restored", async () => {
    const ns = "sts-rollback";
    const initial = await healthy(ns, { bad: true, withVolumes: true });
    const stableHash = (await sts(ns)).status?.currentRevision ?? "";
    const bound = await waitFor(
      "every ordinal's claim bound to its volume",
      () => claims(ns),
      (c) =>
        Array.from({ length: REPLICAS }, (_, i) => i).every((i) =>
          c[claimName(i)]?.endsWith(` ${ns}-${i} Bound`),
        ),
    );
    const uids = new Map((await pods(ns)).map((p) => [p.metadata.name, p.metadata.uid]));
    const started = Date.now();
    await setImage(ns, "app:v2");
    await rolledBack(cluster, ns, NAME);
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
    // The first step updated the highest ordinal only: web-3 was replaced twice (to the canary, back), the others kept
    // their pods — and every claim is the same object, bound to the same volume.
    const changed = back.all
      .filter((p) => uids.get(p.metadata.name) !== p.metadata.uid)
      .map((p) => p.metadata.name);
    assert.deepEqual(changed, [`${NAME}-3`], "only the updated ordinal changed");
    assert.deepEqual(await claims(ns), bound, "the claims and their volumes are untouched");
    assert.equal(
      back.s.spec.template.spec.containers[0]?.image,
      "app:v1",
      "the stable template is back in the StatefulSet",
    );
    const r = await getRollout(cluster, ns, NAME);
    assert.equal(r?.status?.phase, "RolledBack");
    assert.equal(r?.status?.stableRevision, initial.status?.stableRevision);
    const replaced = await podsCreatedSince(cluster, ns, "StatefulSet", started, 2);
    assert.deepEqual(
      createdNames(replaced),
      [`${NAME}-3`, `${NAME}-3`],
      `web-3 to the canary and back: ${showCreates(replaced)}`,
    );
    console.log(
      `[numbers] StatefulSet rollback: template changed → every pod back at stable in ${elapsed} ms; pods replaced: ${replaced.length}`,
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

  it("survives a SIGKILL mid-step: no ordinal replaced twice, no pod on a revision the status lacks", async (t) => {
    const ns = "sts-kill";
    await healthy(ns, {
      steps: [{ setUpdated: { replicas: 1 } }, { setUpdated: { replicas: 3 } }, { pause: {} }],
    });
    const stableHash = (await sts(ns)).status?.currentRevision ?? "";
    const rec = new PodRecorder(cluster, ns, NAME, (p) => p.metadata.name);
    // Stopped even when the test fails, so no poll outlives the cluster.
    t.after(() => rec.stop());
    // New pods wait for the test to serve them: the StatefulSet controller replaces the next ordinal only once the
    // last one is Ready, so the test knows where the step is.
    const started = Date.now();
    const patched = await cluster.kubectl([
      "-n",
      ns,
      "patch",
      "statefulset",
      NAME,
      "-p",
      gatedImage("app:v2"),
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    const updated = (name: string) => async () =>
      (await pods(ns)).find((p) => p.metadata.name === name && hashOf(p) !== stableHash);
    const isThere = (p: Pod | undefined) => p !== undefined;
    await waitFor("web-3 at the new revision", updated(`${NAME}-3`), isThere);
    await serve(cluster, ns, `${NAME}-3`);
    // Mid-step: the status wants 3 ordinals, the partition is lowered, web-2 is new and not Ready, web-1 is stable.
    await waitFor(
      "the second step under way: web-2 at the new revision",
      async () => ({ r: await getRollout(cluster, ns, NAME), p: await updated(`${NAME}-2`)() }),
      (x) => x.r?.status?.workload?.wanted === 3 && x.p !== undefined,
    );
    await controller.kill();
    // While no controller runs, the StatefulSet controller goes on below the partition Vireo wrote.
    await serve(cluster, ns, `${NAME}-2`);
    await waitFor("web-1 at the new revision", updated(`${NAME}-1`), isThere);
    controller = await startVireo(cluster);
    await serve(cluster, ns, `${NAME}-1`);
    const paused = await pausedAt(cluster, ns, NAME, 2, 3);
    const w = paused.status?.workload;
    assert.deepEqual(await byRevision(ns), {
      [w?.canaryHash ?? "canary"]: [`${NAME}-1`, `${NAME}-2`, `${NAME}-3`],
      [stableHash]: [`${NAME}-0`],
    });
    assert.equal(w?.stableHash, stableHash);
    assert.equal(partition(await sts(ns)), 1);
    await annotate(cluster, ns, NAME, "vireo.dev/promote", "after-kill");
    await waitFor("web-0 at the new revision", updated(`${NAME}-0`), isThere);
    await serve(cluster, ns, `${NAME}-0`);
    await promotedFrom(cluster, ns, NAME, paused.status?.stableRevision);
    await allAt(cluster, ns, NAME, REPLICAS, w?.canaryHash ?? "");
    await rec.assertReplacedOnce(stableHash);
    const replaced = await podsCreatedSince(cluster, ns, "StatefulSet", started, REPLICAS);
    assert.deepEqual(
      createdNames(replaced),
      Array.from({ length: REPLICAS }, (_, i) => `${NAME}-${i}`),
      `one new pod per ordinal through the SIGKILL: ${showCreates(replaced)}`,
    );
    console.log(
      `[numbers] StatefulSet SIGKILL mid-step (web-2 updated, not ready): pods replaced: ${replaced.length} for ${REPLICAS} ordinals`,
    );
  });

  it("a web metric URL outside --allowed-check-urls: Invalid, the partition held, 0 requests", async () => {
    const ns = "sts-web-outside";
    let hits = 0;
    const server = new LoopbackServer((_req, res) => {
      hits++;
      res.end('{"score": 99}');
    });
    await server.up();
    try {
      await healthy(ns);
      const url = server.url("/score");
      // This controller has no --allowed-check-urls, so no web URL is allowed.
      const metrics = [{ name: "score", web: { url, jsonPath: "$.score" }, thresholdRange: { min: 95 } }];
      await cluster.kubectl([
        "-n",
        ns,
        "patch",
        "rollout.vireo.dev",
        NAME,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { analysis: { metrics } } }),
      ]);
      await setImage(ns, "app:v2");
      const r = await waitForRollout(cluster, ns, NAME, "Invalid naming the flag", (x) =>
        (x.status?.conditions ?? []).some((c) =>
          /metric score: URL not allowed by the controller's --allowed-check-urls/.test(c.message),
        ),
      );
      await new Promise((res) => setTimeout(res, 5000));
      assert.equal(hits, 0, "no request reached the server outside the allow-list");
      assert.equal(partition(await sts(ns)), REPLICAS, "no ordinal was handed the new revision");
      console.log(`StatefulSet web metric outside the allow-list: ${r.status?.phase}: ${r.status?.message}`);
    } finally {
      await server.down();
    }
  });
});
