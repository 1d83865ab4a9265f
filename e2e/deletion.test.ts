// Deleting a Rollout whose workload cannot be handed back, on a real control plane: a ResourceQuota (the real quota
// admission plugin, kube-controller-manager's ReplicaSet controller) lets the user's Deployment start only one of
// three pods. The Rollout must say why it waits within seconds, go at the deadline having handed back what it could,
// and go at once when a person forces the release.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FORCE_RELEASE_ANNOTATION } from "../src/api/constants.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

/** The deletion deadline the controller runs with here (production default: 10 minutes). */
const DEADLINE_S = 20;

let cluster: Cluster;
let controller: ControllerProcess;

type Cond = { type: string; status: string; reason: string; message: string };
const condition = (r: Rollout | undefined, type: string) =>
  (r?.status?.conditions as Cond[] | undefined)?.find((c) => c.type === type);
const events = async (ns: string, reason: string) => {
  const r = await cluster.kubectl(["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
  return (JSON.parse(r.stdout) as { items: { reason: string; note?: string; type?: string }[] }).items.filter(
    (e) => e.reason === reason,
  );
};
const kubectlOk = async (args: string[]) => {
  const r = await cluster.kubectl(args);
  assert.equal(r.code, 0, r.stderr);
};

/**
 * A Healthy Rollout whose primary runs 3 pods, in a namespace whose quota then allows 4 pods: handing the workload
 * back scales the user's Deployment to 3, and only one of its pods can start while the primary's 3 run.
 */
async function stuckDeletion(ns: string): Promise<number> {
  await apply(cluster, appManifests({ namespace: ns, replicas: 3 }));
  await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
  await kubectlOk(["create", "quota", "four-pods", "--hard=pods=4", "-n", ns]);
  await waitFor(
    "quota counts the primary's pods",
    () =>
      getJson<{ status?: { used?: Record<string, string> } }>(cluster, [
        "resourcequota",
        "four-pods",
        "-n",
        ns,
      ]),
    (q) => q?.status?.used?.pods === "3",
  );
  await kubectlOk(["delete", "rollout.vireo.dev/podinfo", "-n", ns, "--wait=false"]);
  return Date.now();
}

/** Waits until the Rollout says why its deletion waits, naming the quota; returns when it did. */
async function saysWhy(ns: string): Promise<{ rollout: Rollout; at: number }> {
  const rollout = await waitForRollout(
    cluster,
    ns,
    "podinfo",
    "DeletionWaiting condition naming the quota",
    (r) => /exceeded quota/.test(condition(r, "Reconciling")?.message ?? ""),
    30_000,
  );
  return { rollout, at: Date.now() };
}

describe("deletion that says why it waits, and never hangs", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [`--deletion-timeout=${DEADLINE_S}s`],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("a quota that lets the stable pods start only partly: a Warning Event and conditions within seconds, the Rollout released at the deadline with what was left undone", async () => {
    const ns = "quota-deadline";
    const deleted = await stuckDeletion(ns);
    const first = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "DeletionWaiting",
      (r) => condition(r, "Reconciling")?.reason === "DeletionWaiting",
      30_000,
    );
    const firstAt = Date.now();
    const { rollout, at } = await saysWhy(ns);
    assert.equal(condition(first, "Ready")?.status, "False");
    assert.equal(condition(rollout, "Reconciling")?.status, "True", "kstatus: still in progress");
    assert.equal(
      condition(rollout, "Stalled")?.status,
      "True",
      "kstatus: blocked by what the Deployment says",
    );
    assert.match(rollout.status?.message ?? "", /^deleting: waiting for Deployment podinfo has 1\/3 pods/);
    assert.match(rollout.status?.message ?? "", /released without it at .*vireo\.dev\/force-release=true/);
    const warning = await waitFor(
      "Warning Event DeletionWaiting",
      () => events(ns, "DeletionWaiting"),
      (e) => e.some((x) => /exceeded quota/.test(x.note ?? "")),
      10_000,
    );
    assert.equal(warning[0]?.type, "Warning");
    console.log(
      `delete → DeletionWaiting condition ${firstAt - deleted} ms, naming the quota ${at - deleted} ms; ${warning.length} Warning Event(s)`,
    );
    await waitFor(
      "Rollout released",
      () => getRollout(cluster, ns, "podinfo"),
      (r) => r === undefined,
      (DEADLINE_S + 30) * 1000,
      200,
    );
    const gone = Date.now();
    // The deadline counts from metadata.deletionTimestamp, which has whole seconds.
    const deletedAt = Date.parse(first.metadata.deletionTimestamp ?? "");
    console.log(
      `deadline ${DEADLINE_S} s: Rollout gone ${gone - deleted} ms after the delete, ${gone - deletedAt} ms after its deletionTimestamp`,
    );
    assert.ok(gone - deletedAt >= DEADLINE_S * 1000, `released ${gone - deletedAt} ms after deletion`);
    assert.ok(gone - deletedAt < (DEADLINE_S + 10) * 1000, "released within seconds of the deadline");
    const released = await waitFor(
      "DeletionReleased Event",
      () => events(ns, "DeletionReleased"),
      (e) => e.length > 0,
      10_000,
    );
    assert.match(released[0]?.note ?? "", /deletion deadline of 20 s passed/);
    assert.match(released[0]?.note ?? "", /Service podinfo selects: Deployment podinfo has 1\/3 pods/);
    const service = await getJson<{
      spec: { selector?: Record<string, string> };
      metadata: { annotations?: Record<string, string> };
    }>(cluster, ["service", "podinfo", "-n", ns]);
    assert.deepEqual(service?.spec.selector, { app: "podinfo" }, "the root Service selects the user's pods");
    assert.equal(service?.metadata.annotations?.["vireo.dev/original-selector"], undefined);
    const serving = await waitFor(
      "the user's Deployment scales up once the primary is gone",
      () => getJson<{ status?: { readyReplicas?: number } }>(cluster, ["deployment", "podinfo", "-n", ns]),
      (d) => (d?.status?.readyReplicas ?? 0) >= 1,
    );
    console.log(`after the release: podinfo has ${serving?.status?.readyReplicas} ready pods`);
  });

  it(`${FORCE_RELEASE_ANNOTATION} releases a waiting Rollout at once`, async () => {
    const ns = "quota-force";
    await stuckDeletion(ns);
    await saysWhy(ns);
    await kubectlOk(["annotate", "rollout.vireo.dev/podinfo", "-n", ns, `${FORCE_RELEASE_ANNOTATION}=true`]);
    const annotated = Date.now();
    await waitFor(
      "Rollout released",
      () => getRollout(cluster, ns, "podinfo"),
      (r) => r === undefined,
      10_000,
      100,
    );
    const ms = Date.now() - annotated;
    console.log(`force release: Rollout gone ${ms} ms after the annotation`);
    const released = await waitFor(
      "DeletionReleased Event",
      () => events(ns, "DeletionReleased"),
      (e) => e.length > 0,
      10_000,
    );
    assert.match(released[0]?.note ?? "", /release forced by annotation vireo\.dev\/force-release/);
  });
});
