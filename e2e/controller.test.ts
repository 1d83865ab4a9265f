// The controller on a real control plane, running as its restricted ServiceAccount: promotion, people's requests,
// new revisions, invalid specs, crashes, leader hand-over and idleness.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import {
  annotate,
  apply,
  appManifests,
  deploymentReplicas,
  getJson,
  getRollout,
  setImage,
  waitFor,
  waitForRollout,
  canaryWeight as weightOf,
} from "./support/app.ts";
import { type ControllerProcess, metricValue, startController } from "./support/controller-process.ts";

let cluster: Cluster;
let controller: ControllerProcess;

const canaryWeight = (ns: string) => weightOf(cluster, ns);
const replicas = (ns: string, name: string) => deploymentReplicas(cluster, ns, name);
const condition = (
  r: { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } },
  type: string,
) => r.status?.conditions?.find((c) => c.type === type);

describe("controller on a real API server", () => {
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

  it("adopts the Deployment, then walks a new revision through every step to promotion", async () => {
    const ns = "happy";
    // Without analysis a setWeight step completes as soon as the mesh routes it; short pauses make each weight
    // observable from outside.
    const steps = [
      { setWeight: 20 },
      { pause: { duration: "2s" } },
      { setWeight: 50 },
      { pause: { duration: "2s" } },
    ];
    await apply(cluster, appManifests({ namespace: ns, steps }));
    const healthy = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Healthy after adoption",
      (r) => r.status?.phase === "Healthy",
    );
    assert.equal(condition(healthy, "Ready")?.status, "True");
    assert.equal(await canaryWeight(ns), 0);
    assert.equal(
      await replicas(ns, "podinfo"),
      0,
      "the original Deployment is scaled down once primary serves",
    );
    assert.equal(await replicas(ns, "podinfo-primary"), 2);

    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const seen = new Set<number>();
    const done = await waitFor(
      "promotion of the new revision",
      async () => {
        const w = await canaryWeight(ns);
        if (w !== undefined) seen.add(w);
        return getRollout(cluster, ns, "podinfo");
      },
      (r) => r?.status?.phase === "Healthy" && r.status.stableRevision !== healthy.status?.stableRevision,
      90_000,
      100,
    );
    assert.ok(seen.has(20) && seen.has(50), `saw weights ${[...seen]}`);
    assert.equal(await canaryWeight(ns), 0);
    assert.equal(await replicas(ns, "podinfo"), 0);
    assert.equal(done?.status?.promotedBy, "Steps");
    const primary = await getJson<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
      cluster,
      ["deployment", "podinfo-primary", "-n", ns],
    );
    assert.equal(primary?.spec.template.spec.containers[0]?.image, "ghcr.io/stefanprodan/podinfo:6.0.1");
    const metrics = await controller.metrics();
    assert.equal(metricValue(metrics, "vireo_rollout_canary_weight", { namespace: ns, name: "podinfo" }), 0);
  });

  it("pause → resume, and promote on a pause step, via kubectl annotate", async () => {
    const ns = "people";
    await apply(
      cluster,
      appManifests({
        namespace: ns,
        steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 40 }, { pause: { duration: "15s" } }],
      }),
    );
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const paused = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "pause step",
      (r) => r.status?.phase === "Paused",
    );
    assert.equal(paused.status?.pauseReason, "PauseStep");
    assert.equal(await canaryWeight(ns), 10);
    await annotate(cluster, ns, "podinfo", "vireo.dev/promote", "1");
    await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "weight 40",
      (r) => (r.status?.canaryWeight ?? 0) === 40 || r.status?.phase === "Healthy",
    );
    await waitForRollout(cluster, ns, "podinfo", "promoted", (r) => r.status?.phase === "Healthy");

    // Pause mid-rollout, check nothing moves, resume.
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.2");
    await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "at the pause step",
      (r) => r.status?.phase === "Paused" && r.status.pauseReason === "PauseStep",
    );
    await annotate(cluster, ns, "podinfo", "vireo.dev/promote", "2");
    await waitFor(
      "weight 40",
      () => canaryWeight(ns),
      (w) => w === 40,
    );
    await annotate(cluster, ns, "podinfo", "vireo.dev/pause", "1");
    const p = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "paused by request",
      (r) => r.status?.phase === "Paused" && r.status.pauseReason === "UserRequest",
    );
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(
      (await getRollout(cluster, ns, "podinfo"))?.status?.currentStepIndex,
      p.status?.currentStepIndex,
      "no step advanced while paused",
    );
    await annotate(cluster, ns, "podinfo", "vireo.dev/resume", "1");
    const end = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "promoted after resume",
      (r) => r.status?.phase === "Healthy",
    );
    assert.equal(end.status?.handledRequests?.resume, "1");
  });

  it("abort mid-rollout sends traffic back to primary and scales the canary down", async () => {
    const ns = "abort";
    await apply(cluster, appManifests({ namespace: ns, steps: [{ setWeight: 30 }, { pause: {} }] }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    await waitFor(
      "weight 30",
      () => canaryWeight(ns),
      (w) => w === 30,
    );
    await annotate(cluster, ns, "podinfo", "vireo.dev/abort", "now");
    const aborted = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Aborted",
      (r) => r.status?.phase === "Aborted",
    );
    assert.equal(condition(aborted, "Degraded")?.reason, "Aborted");
    await waitFor(
      "weight 0",
      () => canaryWeight(ns),
      (w) => w === 0,
    );
    await waitFor(
      "canary scaled down",
      () => replicas(ns, "podinfo"),
      (n) => n === 0,
    );
  });

  it("a new revision mid-rollout restarts from the first step with traffic back on primary first", async () => {
    const ns = "revisions";
    await apply(cluster, appManifests({ namespace: ns, steps: [{ setWeight: 25 }, { pause: {} }] }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const first = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "paused at step 2",
      (r) => r.status?.phase === "Paused",
    );
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.2");
    const restarted = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "restart with the newer revision",
      (r) => r.status?.canaryRevision !== first.status?.canaryRevision,
    );
    const again = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "paused again",
      (r) => r.status?.phase === "Paused" && r.status.canaryRevision === restarted.status?.canaryRevision,
    );
    // It went through step 1 again (weight 25) to the pause, on the newer revision, and said why.
    assert.equal(again.status?.currentStepIndex, 1);
    assert.equal(await canaryWeight(ns), 25);
    const events = await cluster.kubectl(["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
    assert.match(events.stdout, /NewRevision/);
    assert.match(events.stdout, /restarting from step 1/);
  });

  it("deleting a Rollout hands the workload back before removing routes: nothing is left pointing at zero pods", async () => {
    const ns = "deletion";
    await apply(cluster, appManifests({ namespace: ns, steps: [{ setWeight: 30 }, { pause: {} }] }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    await waitFor(
      "weight 30",
      () => canaryWeight(ns),
      (w) => w === 30,
    );
    const del = await cluster.kubectl([
      "delete",
      "rollout.vireo.dev/podinfo",
      "-n",
      ns,
      "--wait=true",
      "--timeout=90s",
    ]);
    assert.equal(del.code, 0, del.stderr);
    // The user's Deployment serves again, with the stable template (the unpromoted revision is not left live).
    const target = await getJson<{
      spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
      status?: { readyReplicas?: number };
    }>(cluster, ["deployment", "podinfo", "-n", ns]);
    assert.equal(target?.spec.replicas, 2);
    assert.equal(target?.status?.readyReplicas, 2);
    assert.equal(target?.spec.template.spec.containers[0]?.image, "ghcr.io/stefanprodan/podinfo:6.0.0");
    const svc = await getJson<{ spec: { selector: Record<string, string> } }>(cluster, [
      "service",
      "podinfo",
      "-n",
      ns,
    ]);
    assert.deepEqual(
      svc?.spec.selector,
      { app: "podinfo" },
      "the root Service selects the user's pods again",
    );
    assert.equal(await canaryWeight(ns), undefined, "the TrafficSplit is gone");
    await waitFor(
      "primary garbage-collected",
      () => getJson(cluster, ["deployment", "podinfo-primary", "-n", ns]),
      (d) => d === undefined,
    );
  });

  it("an invalid Rollout is rejected by the API server with the field named", async () => {
    const ns = "invalid";
    await apply(cluster, appManifests({ namespace: ns }));
    const bad = appManifests({ namespace: ns, name: "bad", steps: [{ setWeight: 150 }] });
    const r = await cluster.kubectl(["apply", "-f", "-"], { input: bad });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /setWeight/);
    const decreasing = appManifests({
      namespace: ns,
      name: "bad2",
      steps: [{ setWeight: 50 }, { setWeight: 10 }],
    });
    const r2 = await cluster.kubectl(["apply", "-f", "-"], { input: decreasing });
    assert.match(r2.stderr, /must not decrease/);
  });

  it("a spec the API server accepts but the controller rejects gets a condition and an Event, and no traffic change", async () => {
    const ns = "invalid2";
    await apply(cluster, appManifests({ namespace: ns }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    const patch = JSON.stringify({
      spec: {
        windows: [{ kind: "deny", schedule: "0 18 * * 5", duration: "62h", timeZone: "Mars/Olympus" }],
      },
    });
    const p = await cluster.kubectl([
      "patch",
      "rollout.vireo.dev/podinfo",
      "-n",
      ns,
      "--type=merge",
      "-p",
      patch,
    ]);
    assert.equal(p.code, 0, p.stderr);
    const invalid = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "Invalid",
      (r) => r.status?.phase === "Invalid",
    );
    assert.match(condition(invalid, "Degraded")?.message ?? "", /spec\.windows\[0\]\.timeZone/);
    assert.equal(condition(invalid, "Degraded")?.reason, "InvalidSpec");
    const events = await cluster.kubectl(["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
    assert.match(events.stdout, /InvalidSpec/);
    assert.equal(await canaryWeight(ns), 0);
  });
});
