// A target Deployment with a HorizontalPodAutoscaler on a real control plane, where kube-controller-manager runs
// the HPA controller (no metrics-server: it enforces minReplicas/maxReplicas, not metrics). Vireo copies the user's
// HPA to the primary, keeps it in sync, never fights the HPAs over replicas, raises the primary HPA's floor while
// promoting, and removes its copy with the user's. Also checks the GitOps annotations on every generated object.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GITOPS_ANNOTATIONS } from "../src/api/constants.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import {
  annotate,
  apply,
  appManifests,
  canaryWeight,
  deploymentReplicas,
  getJson,
  setImage,
  waitFor,
  waitForRollout,
} from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const NS = "hpa";

let cluster: Cluster;
let controller: ControllerProcess;

interface Hpa {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: {
    scaleTargetRef: { kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: unknown[];
  };
}

const userHpa = (minReplicas: number) => ({
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "podinfo", namespace: NS },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo" },
    minReplicas,
    maxReplicas: 6,
    metrics: [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      },
    ],
  },
});
const getHpa = (name: string) => getJson<Hpa>(cluster, ["hpa", name, "-n", NS]);
const setUserMin = async (min: number) => {
  const r = await cluster.kubectl([
    "patch",
    "hpa",
    "podinfo",
    "-n",
    NS,
    "--type=merge",
    "-p",
    JSON.stringify({ spec: { minReplicas: min } }),
  ]);
  assert.equal(r.code, 0, r.stderr);
};
/** Samples `read` for `ms` and returns every distinct value seen. */
async function sample<T>(read: () => Promise<T>, ms: number): Promise<Set<T>> {
  const seen = new Set<T>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    seen.add(await read());
    await new Promise((r) => setTimeout(r, 200));
  }
  return seen;
}

describe("a target with a HorizontalPodAutoscaler", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
    await apply(
      cluster,
      `${appManifests({ namespace: NS, replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] })}\n---\n${JSON.stringify(userHpa(2))}`,
    );
    await waitForRollout(cluster, NS, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("gets a primary HPA: the user's spec retargeted to podinfo-primary, owned by the Rollout", async () => {
    const primary = await waitFor(
      "the primary HPA",
      () => getHpa("podinfo-primary"),
      (h) => h !== undefined,
    );
    const user = await getHpa("podinfo");
    assert.deepEqual(primary?.spec.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "podinfo-primary",
    });
    assert.equal(primary?.spec.minReplicas, 2);
    assert.equal(primary?.spec.maxReplicas, 6);
    assert.deepEqual(primary?.spec.metrics, user?.spec.metrics);
    assert.deepEqual(
      primary?.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.controller]),
      [["Rollout", "podinfo", true]],
    );
  });

  it("every object Vireo generates carries the annotations that keep Argo CD and Flux from pruning or reverting it", async () => {
    const objects: [string, string][] = [
      ["deployment", "podinfo-primary"],
      ["hpa", "podinfo-primary"],
      ["service", "podinfo-primary"],
      ["service", "podinfo-canary"],
      ["service", "podinfo"],
      ["trafficsplits.split.smi-spec.io", "podinfo"],
    ];
    for (const [kind, name] of objects) {
      const o = await getJson<{ metadata: { annotations?: Record<string, string> } }>(cluster, [
        kind,
        name,
        "-n",
        NS,
      ]);
      for (const [k, v] of Object.entries(GITOPS_ANNOTATIONS))
        assert.equal(o?.metadata.annotations?.[k], v, `${kind}/${name} annotation ${k}`);
    }
    // The user's own Deployment is theirs: Vireo adds none of these to it.
    const own = await getJson<{ metadata: { annotations?: Record<string, string> } }>(cluster, [
      "deployment",
      "podinfo",
      "-n",
      NS,
    ]);
    assert.equal(own?.metadata.annotations?.["argocd.argoproj.io/compare-options"], undefined);
  });

  it("follows an edit of the user's HPA; the HPA controller scales the primary and Vireo does not fight it", async () => {
    await setUserMin(4);
    await waitFor(
      "primary HPA minReplicas 4",
      () => getHpa("podinfo-primary"),
      (h) => h?.spec.minReplicas === 4,
    );
    await waitFor(
      "the HPA controller scales the primary to 4",
      () => deploymentReplicas(cluster, NS, "podinfo-primary"),
      (n) => n === 4,
      30_000,
    );
    // Five seconds of samples: the primary stays where its HPA put it, the user's Deployment at zero (where the
    // user's HPA is disabled), and status records the count.
    assert.deepEqual(
      [...(await sample(() => deploymentReplicas(cluster, NS, "podinfo-primary"), 5000))],
      [4],
    );
    assert.deepEqual([...(await sample(() => deploymentReplicas(cluster, NS, "podinfo"), 1000))], [0]);
    await waitForRollout(cluster, NS, "podinfo", "status.replicas 4", (r) => r.status?.replicas === 4);
  });

  it("leaves the canary to the user's HPA during a rollout, and promotes only once the primary is scaled for all traffic", async () => {
    const ready = await cluster.kubectl([
      "wait",
      "--for=condition=Ready",
      "rollout.vireo.dev/podinfo",
      "-n",
      NS,
      "--timeout=10s",
    ]);
    assert.equal(ready.code, 0, `kubectl wait --for=condition=Ready on a Healthy Rollout: ${ready.stderr}`);
    await setImage(cluster, NS, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    // CI's view: the Rollout's status is about the generation it applied, and not Ready until it is promoted.
    const generation = (
      await getJson<{ metadata: { generation: number } }>(cluster, ["deployment", "podinfo", "-n", NS])
    )?.metadata.generation;
    const started = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "status about the new generation",
      // At least ours: Vireo's own scale-up of the canary and the HPA bump the generation again right after.
      (r) => (r.status?.observedTargetGeneration ?? 0) >= (generation ?? Number.POSITIVE_INFINITY),
    );
    const kstatus = (r: typeof started, type: string) =>
      r.status?.conditions?.find((c) => c.type === type)?.status;
    assert.equal(kstatus(started, "Reconciling"), "True");
    assert.equal(kstatus(started, "Ready"), "False");
    assert.notEqual(started.status?.currentRevision, started.status?.stableRevision);
    await waitFor(
      "weight 50",
      () => canaryWeight(cluster, NS),
      (w) => w === 50,
    );
    // Scaled up to the primary's count once; then the user's HPA owns it: raise its floor, the canary follows.
    assert.equal(await deploymentReplicas(cluster, NS, "podinfo"), 4);
    await setUserMin(5);
    await waitFor(
      "the user's HPA scales the canary to 5",
      () => deploymentReplicas(cluster, NS, "podinfo"),
      (n) => n === 5,
      30_000,
    );
    await waitFor(
      "primary HPA minReplicas 5",
      () => getHpa("podinfo-primary"),
      (h) => h?.spec.minReplicas === 5,
    );
    assert.deepEqual([...(await sample(() => deploymentReplicas(cluster, NS, "podinfo"), 3000))], [5]);

    // Promotion: primary (5) + canary (5) capped at maxReplicas 6 is the floor the primary HPA enforces.
    const notYet = await cluster.kubectl([
      "wait",
      "rollout.vireo.dev/podinfo",
      "-n",
      NS,
      "--for=condition=Ready",
      "--timeout=1s",
    ]);
    assert.notEqual(notYet.code, 0, "not Ready while paused mid-rollout");
    await annotate(cluster, NS, "podinfo", "vireo.dev/promote", "go");
    const promoting = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "a promotion floor",
      (r) => r.status?.promotionReplicas !== undefined,
    );
    assert.equal(promoting.status?.promotionReplicas, 6);
    await waitFor(
      "primary HPA minReplicas 6",
      () => getHpa("podinfo-primary"),
      (h) => h?.spec.minReplicas === 6 || h?.spec.minReplicas === 5,
    );
    const healthy = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "Healthy after promotion",
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision === r.status.canaryRevision,
    );
    for (const [condition, timeout] of [
      ["Reconciling=False", "60s"],
      ["Ready", "1s"],
    ]) {
      const r = await cluster.kubectl([
        "wait",
        "rollout.vireo.dev/podinfo",
        "-n",
        NS,
        `--for=condition=${condition}`,
        `--timeout=${timeout}`,
      ]);
      assert.equal(r.code, 0, `kubectl wait --for=condition=${condition}: ${r.stderr}`);
    }
    assert.equal(healthy.status?.promotionReplicas, undefined);
    assert.equal(
      healthy.status?.currentRevision,
      started.status?.currentRevision,
      "the release CI waited for",
    );
    assert.equal(kstatus(healthy, "Ready"), "True");
    assert.equal(kstatus(healthy, "Reconciling"), "False");
    assert.equal(kstatus(healthy, "Stalled"), "False");
    // The HPA controller (not Vireo) scaled the primary to the floor before it took all traffic.
    assert.equal(await deploymentReplicas(cluster, NS, "podinfo-primary"), 6);
    await waitFor(
      "primary HPA back to the user's minReplicas",
      () => getHpa("podinfo-primary"),
      (h) => h?.spec.minReplicas === 5,
    );
    await waitFor(
      "canary scaled to zero",
      () => deploymentReplicas(cluster, NS, "podinfo"),
      (n) => n === 0,
    );
  });

  it("removes the primary HPA when the user deletes theirs", async () => {
    const r = await cluster.kubectl(["delete", "hpa", "podinfo", "-n", NS]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(
      "the primary HPA deleted",
      () => getHpa("podinfo-primary"),
      (h) => h === undefined,
      30_000,
    );
    await waitForRollout(cluster, NS, "podinfo", "still Healthy", (r2) => r2.status?.phase === "Healthy");
  });
});
