// Faults a production user causes on a real control plane: owned objects deleted or edited by hand or by GitOps
// pruning, the target deleted mid-rollout, a spec turning invalid mid-rollout, deleting an invalid Rollout, and
// replica changes in Git. Each must be repaired or made safe within seconds, and said where the user looks.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import {
  apply,
  appManifests,
  canaryWeight,
  deploymentReplicas,
  getJson,
  getRollout,
  setImage,
  waitFor,
  waitForRollout,
} from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

let cluster: Cluster;
let controller: ControllerProcess;

type Cond = { type: string; status: string; reason: string; message: string };
const condition = (r: { status?: { conditions?: Cond[] } } | undefined, type: string) =>
  r?.status?.conditions?.find((c) => c.type === type);
const selectorOf = async (ns: string, svc: string) =>
  (await getJson<{ spec: { selector?: Record<string, string> } }>(cluster, ["service", svc, "-n", ns]))?.spec
    .selector;
const eventReasons = async (ns: string) => {
  const r = await cluster.kubectl(["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
  return (JSON.parse(r.stdout) as { items: { reason: string; note?: string }[] }).items;
};
const kubectlOk = async (args: string[]) => {
  const r = await cluster.kubectl(args);
  assert.equal(r.code, 0, r.stderr);
};
/** A spec change the API server accepts but the controller's validation rejects (unknown time zone). */
const INVALIDATING_PATCH = JSON.stringify({
  spec: { windows: [{ kind: "deny", schedule: "0 18 * * 5", duration: "62h", timeZone: "Mars/Olympus" }] },
});

/** Makes the Rollout's spec invalid in a way only the controller can tell (an unknown time zone). */
const invalidate = (ns: string) =>
  kubectlOk(["patch", "rollout.vireo.dev/podinfo", "-n", ns, "--type=merge", "-p", INVALIDATING_PATCH]);

/** Waits (15 s at most, polling every 100 ms) until the split gives the canary 0 %. */
const untilCanaryAtZero = (ns: string, what: string) =>
  waitFor(
    what,
    () => canaryWeight(cluster, ns),
    (w) => w === 0,
    15_000,
    100,
  );

/** Deploys the app, waits for Healthy, pushes a new revision and waits until the canary gets `weight` %. */
async function rolloutAtWeight(ns: string, weight: number): Promise<void> {
  await apply(cluster, appManifests({ namespace: ns, steps: [{ setWeight: weight }, { pause: {} }] }));
  await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
  await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
  await waitFor(
    `weight ${weight}`,
    () => canaryWeight(cluster, ns),
    (w) => w === weight,
  );
}

describe("self-healing and safe states on a real API server", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("a deleted primary is recreated with the stable revision, Ready=False meanwhile, and a Repaired Event", async () => {
    const ns = "lost-primary";
    await apply(cluster, appManifests({ namespace: ns, replicas: 3 }));
    const healthy = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Healthy",
      (r) => r.status?.phase === "Healthy",
    );
    assert.equal(condition(healthy, "Ready")?.status, "True");
    await kubectlOk(["delete", "deployment", "podinfo-primary", "-n", ns, "--wait=false"]);
    const started = Date.now();
    const back = await waitFor(
      "primary recreated and ready",
      () =>
        getJson<{
          spec: { replicas: number };
          status?: { readyReplicas?: number };
          metadata: { annotations?: Record<string, string> };
        }>(cluster, ["deployment", "podinfo-primary", "-n", ns]),
      (d) => (d?.status?.readyReplicas ?? 0) === 3,
      30_000,
      100,
    );
    console.log(`deleted primary serving again after ${Date.now() - started} ms`);
    assert.equal(back?.spec.replicas, 3, "recreated with the application's replicas, not 1");
    assert.equal(back?.metadata.annotations?.["vireo.dev/revision"], healthy.status?.stableRevision);
    const ready = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Ready again",
      (r) => condition(r, "Ready")?.status === "True",
    );
    assert.equal(ready.status?.phase, "Healthy");
    const events = await eventReasons(ns);
    assert.ok(
      events.some((e) => e.reason === "Repaired" && /created Deployment podinfo-primary/.test(e.note ?? "")),
      `a Repaired Event names the primary: ${JSON.stringify(events.map((e) => e.reason))}`,
    );
  });

  it("a hand edit of the root Service selector is reverted within seconds", async () => {
    const ns = "root-edit";
    await apply(cluster, appManifests({ namespace: ns }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    const intended = await selectorOf(ns, "podinfo");
    assert.deepEqual(intended, { app: "podinfo-primary" });
    await kubectlOk([
      "patch",
      "service",
      "podinfo",
      "-n",
      ns,
      "--type=merge",
      "-p",
      '{"spec":{"selector":{"app":"podinfo"}}}',
    ]);
    const started = Date.now();
    await waitFor(
      "root selector repaired",
      () => selectorOf(ns, "podinfo"),
      (s) => s?.app === "podinfo-primary",
      15_000,
      100,
    );
    console.log(`root Service selector repaired after ${Date.now() - started} ms`);
    await kubectlOk(["delete", "service", "podinfo-canary", "-n", ns]);
    await waitFor(
      "canary Service recreated",
      () => selectorOf(ns, "podinfo-canary"),
      (s) => s?.app === "podinfo",
      15_000,
      100,
    );
  });

  it("an out-of-band edit of the TrafficSplit is undone within seconds (routing objects are watched)", async () => {
    const ns = "split-edit";
    await apply(cluster, appManifests({ namespace: ns }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    assert.equal(await canaryWeight(cluster, ns), 0);
    const backends = [
      { service: "podinfo-primary", weight: 50 },
      { service: "podinfo-canary", weight: 50 },
    ];
    await kubectlOk([
      "patch",
      "trafficsplits.split.smi-spec.io/podinfo",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { backends } }),
    ]);
    const started = Date.now();
    await untilCanaryAtZero(ns, "split restored");
    console.log(`TrafficSplit edit undone after ${Date.now() - started} ms`);
  });

  it("a port added to the root Service later is carried to the backend Services", async () => {
    const ns = "port-added";
    await apply(cluster, appManifests({ namespace: ns }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    const ports = {
      spec: {
        ports: [
          { name: "http", port: 80, targetPort: 9898, protocol: "TCP" },
          { name: "metrics", port: 9797, targetPort: 9797, protocol: "TCP" },
        ],
      },
    };
    await kubectlOk(["patch", "service", "podinfo", "-n", ns, "--type=merge", "-p", JSON.stringify(ports)]);
    const portsOf = async (svc: string) =>
      (
        await getJson<{ spec: { ports?: { port: number }[] } }>(cluster, ["service", svc, "-n", ns])
      )?.spec.ports?.map((p) => p.port);
    await waitFor(
      "primary Service has both ports",
      () => portsOf("podinfo-primary"),
      (p) => p?.includes(9797) === true,
      15_000,
      100,
    );
    await waitFor(
      "canary Service has both ports",
      () => portsOf("podinfo-canary"),
      (p) => p?.includes(9797) === true,
      15_000,
      100,
    );
  });

  it("the target Deployment deleted at 50 % sends all traffic back to primary and says why", async () => {
    const ns = "lost-target";
    await rolloutAtWeight(ns, 50);
    await kubectlOk(["delete", "deployment", "podinfo", "-n", ns, "--wait=false"]);
    const started = Date.now();
    await untilCanaryAtZero(ns, "canary weight 0");
    console.log(`target deleted at 50 %: canary weight 0 after ${Date.now() - started} ms`);
    const r = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "TargetNotFound",
      (x) => condition(x, "Degraded")?.reason === "TargetNotFound",
    );
    assert.equal(condition(r, "Degraded")?.status, "True");
    assert.equal(condition(r, "Ready")?.status, "False");
    assert.match(condition(r, "Degraded")?.message ?? "", /all traffic on primary/);
  });

  it("a spec that turns invalid mid-rollout sends all traffic back to primary", async () => {
    const ns = "invalid-mid";
    await rolloutAtWeight(ns, 40);
    await invalidate(ns);
    await untilCanaryAtZero(ns, "canary weight 0");
    const r = await getRollout(cluster, ns, "podinfo");
    assert.equal(r?.status?.phase, "Invalid");
    assert.match(condition(r, "Degraded")?.message ?? "", /invalid spec, all traffic on primary: .*timeZone/);
  });

  it("deleting a Rollout whose spec is invalid still hands the workload back", async () => {
    const ns = "invalid-delete";
    await apply(cluster, appManifests({ namespace: ns }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    assert.equal(await deploymentReplicas(cluster, ns, "podinfo"), 0);
    await invalidate(ns);
    await waitForRollout(cluster, ns, "podinfo", "Invalid", (r) => r.status?.phase === "Invalid");
    await kubectlOk(["delete", "rollout.vireo.dev/podinfo", "-n", ns, "--wait=true", "--timeout=60s"]);
    const target = await getJson<{ spec: { replicas: number }; status?: { readyReplicas?: number } }>(
      cluster,
      ["deployment", "podinfo", "-n", ns],
    );
    assert.equal(target?.spec.replicas, 2, "the user's Deployment is scaled back up");
    assert.equal(target?.status?.readyReplicas, 2);
    assert.deepEqual(
      await selectorOf(ns, "podinfo"),
      { app: "podinfo" },
      "the root Service selects the user's pods",
    );
  });

  it("an API server refusal that persists reaches Degraded=True with its message, and nothing half-made is left", async () => {
    const ns = "persistent-error";
    // A quota that allows no Services: the API server refuses every Service Vireo creates, as it would in a
    // namespace whose quota is used up.
    await kubectlOk(["create", "namespace", ns]);
    await kubectlOk(["create", "quota", "no-services", "--hard=services=0", "-n", ns]);
    await waitFor(
      "quota status computed",
      () =>
        getJson<{ status?: { hard?: Record<string, string> } }>(cluster, [
          "resourcequota",
          "no-services",
          "-n",
          ns,
        ]),
      (q) => q?.status?.hard?.services === "0",
    );
    await apply(cluster, appManifests({ namespace: ns }));
    const r = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Degraded=True ReconcileError",
      (x) => condition(x, "Degraded")?.status === "True",
      30_000,
    );
    assert.equal(condition(r, "Degraded")?.reason, "ReconcileError");
    assert.match(condition(r, "Degraded")?.message ?? "", /exceeded quota/);
    assert.equal(
      await getJson(cluster, ["deployment", "podinfo-primary", "-n", ns]),
      undefined,
      "no primary Deployment before its Services could be made",
    );
    // Lifting the quota heals it: the next reconcile succeeds and clears Degraded.
    await kubectlOk(["delete", "quota", "no-services", "-n", ns]);
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (x) => x.status?.phase === "Healthy", 60_000);
    assert.equal(condition(await getRollout(cluster, ns, "podinfo"), "Degraded")?.status, "False");
  });

  it("replicas changed in the user's Deployment flow to the primary", async () => {
    const ns = "replicas";
    await apply(cluster, appManifests({ namespace: ns, replicas: 3 }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    assert.equal(await deploymentReplicas(cluster, ns, "podinfo-primary"), 3);
    // What a GitOps sync of `replicas: 3 → 5` does to the user's Deployment.
    await kubectlOk(["scale", "deployment", "podinfo", "-n", ns, "--replicas=5"]);
    await waitFor(
      "primary scaled to 5",
      () => deploymentReplicas(cluster, ns, "podinfo-primary"),
      (n) => n === 5,
      15_000,
      100,
    );
    await waitFor(
      "user's Deployment back to 0",
      () => deploymentReplicas(cluster, ns, "podinfo"),
      (n) => n === 0,
      15_000,
      100,
    );
    // A hand scale of the primary is reverted to the application's count.
    await kubectlOk(["scale", "deployment", "podinfo-primary", "-n", ns, "--replicas=1"]);
    await waitFor(
      "primary back to 5",
      () => deploymentReplicas(cluster, ns, "podinfo-primary"),
      (n) => n === 5,
      15_000,
      100,
    );
    const r = await getRollout(cluster, ns, "podinfo");
    assert.equal(r?.status?.replicas, 5);
  });
});
