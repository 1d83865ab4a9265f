// Ownership end to end (issue 18, observations 1, 2 and 5): a tenant's Rollout cannot take over another's workload or
// Services, a renamed targetRef or service hands the old objects back, and Istio hosts and gateways or Gateway API
// parents outside the Rollout's own Services and namespace need the operator's allowance. The controller runs with
// the shipped RBAC; each scenario checks the victim's objects directly and samples the ready pods its clients reach.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { LABELS } from "../src/api/constants.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { kubeRequest } from "./cluster/kube-request.ts";
import {
  apply,
  appManifests,
  deploymentReplicas,
  getJson,
  getRollout,
  waitFor,
  waitForRollout,
} from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;
const report: string[] = [];

interface ObjectJson {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { selector?: Record<string, string>; replicas?: number };
}

const degraded = (r: Rollout | undefined) =>
  r?.status?.conditions?.find((c) => c.type === "Degraded" && c.status === "True");
const service = (ns: string, name: string) => getJson<ObjectJson>(cluster, ["service", name, "-n", ns]);
const deployment = (ns: string, name: string) => getJson<ObjectJson>(cluster, ["deployment", name, "-n", ns]);
const healthy = (ns: string, name: string) =>
  waitForRollout(cluster, ns, name, "Healthy", (r) => r.status?.phase === "Healthy", 120_000);

/** Ready pods behind a Service's selector right now: what its clients can reach. */
async function readyBehind(ns: string, name: string): Promise<number> {
  const svc = await kubeRequest<ObjectJson>(kc, "GET", `/api/v1/namespaces/${ns}/services/${name}`).catch(
    () => undefined,
  );
  const selector = Object.entries(svc?.spec.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  if (!selector) return 0;
  const pods = await kubeRequest<{
    items: {
      metadata: { deletionTimestamp?: string };
      status?: { conditions?: { type: string; status: string }[] };
    }[];
  }>(kc, "GET", `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`);
  return pods.items.filter(
    (p) =>
      !p.metadata.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  ).length;
}

/** Samples {@link readyBehind} every 200 ms until stopped; counts samples with no ready pod. */
function sampleReady(ns: string, name: string) {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await readyBehind(ns, name).catch(() => -1));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples: samples.length, empty: samples.filter((n) => n === 0).length };
    },
  };
}

async function warnings(ns: string, reason: string): Promise<string[]> {
  const list = await kubeRequest<{ items: { reason?: string; note?: string; type?: string }[] }>(
    kc,
    "GET",
    `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
  );
  return list.items.filter((e) => e.reason === reason && e.type === "Warning").map((e) => e.note ?? "");
}

const manifest = (objects: object[]) => objects.map((o) => JSON.stringify(o)).join("\n---\n");
const app = (ns: string, name: string, labels = { app: name }) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: ns },
  spec: {
    replicas: 2,
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      spec: { containers: [{ name: "app", image: "ghcr.io/stefanprodan/podinfo:6.0.0" }] },
    },
  },
});
const svc = (ns: string, name: string, selector: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: ns },
  spec: { selector, ports: [{ port: 80, targetPort: 9898 }] },
});
const rollout = (ns: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: "vireo.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name, namespace: ns },
  spec: {
    provider: "smi",
    strategy: { canary: { steps: [{ setWeight: 50 }] } },
    analysis: { interval: "5s", metrics: [] },
    ...spec,
    service: { port: 80, targetPort: 9898, ...(spec.service as object) },
  },
});

describe("ownership: a Rollout acts only on what Vireo created or was pointed at", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: ["--allowed-hosts=exposed=*.shop.example.test", "--allowed-gateways=exposed=istio-system/public"],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
    if (report.length > 0) console.log(`\n[ownership] measured:\n${report.join("\n")}\n`);
  });

  it("18.1: a Rollout pointed at another Rollout's primary is refused; the victim's Service keeps its pods", async () => {
    const ns = "victim";
    await apply(cluster, appManifests({ namespace: ns }));
    await healthy(ns, "podinfo");
    const sampler = sampleReady(ns, "podinfo");
    await apply(
      cluster,
      manifest([rollout(ns, "evil", { targetRef: { name: "podinfo-primary" }, service: { name: "evil" } })]),
    );
    const refused = await waitForRollout(
      cluster,
      ns,
      "evil",
      "refused",
      (r) => degraded(r) !== undefined,
      60_000,
    );
    // Long enough for a takeover to scale the victim's primary down (it took ~8 s before the fix).
    await new Promise((r) => setTimeout(r, 20_000));
    const outage = await sampler.stop();
    report.push(
      `  takeover of podinfo-primary: victim's Service podinfo had 0 ready pods in ${outage.empty} of ${outage.samples} samples (200 ms apart, 20 s)`,
    );
    assert.equal(outage.empty, 0, "the victim's clients always reached ready pods");
    assert.equal(refused.status?.phase, "Invalid");
    assert.equal(degraded(refused)?.reason, "OwnershipConflict");
    assert.match(
      degraded(refused)?.message ?? "",
      /Deployment victim\/podinfo-primary \(spec.targetRef\) was created by Vireo for Rollout podinfo/,
    );
    assert.equal(
      await deploymentReplicas(cluster, ns, "podinfo-primary"),
      2,
      "the victim's primary is untouched",
    );
    assert.equal(await deployment(ns, "podinfo-primary-primary"), undefined, "nothing was created from it");
    assert.equal((await deployment(ns, "podinfo-primary"))?.metadata.labels?.[LABELS.rollout], "podinfo");
    assert.ok((await warnings(ns, "OwnershipConflict")).some((n) => n.includes("Rollout podinfo")));
  });

  it("18.1: someone's Services db and db-primary are never rewritten by a Rollout naming service db", async () => {
    const ns = "shared";
    await apply(
      cluster,
      manifest([
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        app(ns, "db"),
        svc(ns, "db", { app: "db" }),
        svc(ns, "db-primary", { app: "db", role: "primary" }),
        app(ns, "intruder"),
        rollout(ns, "intruder", { targetRef: { name: "intruder" }, service: { name: "db" } }),
      ]),
    );
    const refused = await waitForRollout(
      cluster,
      ns,
      "intruder",
      "refused",
      (r) => degraded(r) !== undefined,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(degraded(refused)?.reason, "OwnershipConflict");
    assert.match(
      degraded(refused)?.message ?? "",
      /Service shared\/db-primary exists and is not this Rollout's/,
    );
    assert.deepEqual((await service(ns, "db"))?.spec.selector, { app: "db" });
    assert.deepEqual((await service(ns, "db-primary"))?.spec.selector, { app: "db", role: "primary" });
    assert.equal((await service(ns, "db"))?.metadata.labels?.[LABELS.rollout], undefined, "not even claimed");
    assert.equal(
      await deploymentReplicas(cluster, ns, "intruder"),
      2,
      "its own target was not touched either",
    );
    assert.equal(await readyBehind(ns, "db"), 2);
  });

  it("18.1: a second Rollout on the same target or Service is refused naming the first, until the first is gone", async () => {
    const ns = "twice";
    await apply(
      cluster,
      manifest([
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        app(ns, "api"),
        app(ns, "other"),
        rollout(ns, "first", { targetRef: { name: "api" }, service: { name: "api" } }),
      ]),
    );
    await healthy(ns, "first");
    assert.equal(
      (await deployment(ns, "api"))?.metadata.labels?.[LABELS.rollout],
      "first",
      "claimed by label",
    );
    await apply(
      cluster,
      manifest([
        rollout(ns, "second", { targetRef: { name: "api" }, service: { name: "api2" } }),
        rollout(ns, "third", { targetRef: { name: "other" }, service: { name: "api" } }),
      ]),
    );
    for (const [name, what] of [
      ["second", /Deployment twice\/api \(spec.targetRef\) is managed by Rollout first/],
      ["third", /Service twice\/api \(the root Service\) is managed by Rollout first/],
    ] as const) {
      const r = await waitForRollout(cluster, ns, name, "refused", (x) => degraded(x) !== undefined, 60_000);
      assert.match(degraded(r)?.message ?? "", what);
    }
    assert.equal(await deploymentReplicas(cluster, ns, "other"), 2, "third touched nothing");
    await cluster.kubectl(["delete", "rollout.vireo.dev", "third", "-n", ns]);
    // The first one goes: it hands api back (label removed), and the second takes it over.
    await cluster.kubectl(["delete", "rollout.vireo.dev", "first", "-n", ns, "--wait=false"]);
    await healthy(ns, "second");
    assert.equal((await deployment(ns, "api"))?.metadata.labels?.[LABELS.rollout], "second");
  });

  it("18.2: renaming targetRef and service.name hands the old ones back first; deletion restores everything recorded", async () => {
    const ns = "rename";
    await apply(
      cluster,
      manifest([
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        app(ns, "a"),
        app(ns, "b"),
        svc(ns, "web", { app: "a" }),
        rollout(ns, "r", { targetRef: { name: "a" }, service: { name: "web" } }),
      ]),
    );
    await healthy(ns, "r");
    assert.deepEqual((await service(ns, "web"))?.spec.selector, { app: "a-primary" });
    assert.equal(await deploymentReplicas(cluster, ns, "a"), 0);
    const sampler = sampleReady(ns, "web");
    const patched = await cluster.kubectl([
      "patch",
      "rollout.vireo.dev",
      "r",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { targetRef: { name: "b" }, service: { name: "web2" } } }),
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    const moved = await waitForRollout(
      cluster,
      ns,
      "r",
      "Healthy on b and web2",
      (r) =>
        r.status?.phase === "Healthy" &&
        JSON.stringify(r.status.claims?.map((c) => c.name)) === JSON.stringify(["b", "web2"]),
      120_000,
    );
    const during = await sampler.stop();
    report.push(
      `  rename a/web → b/web2: Service web had 0 ready pods in ${during.empty} of ${during.samples} samples during the hand-back`,
    );
    // The old root selects the user's pods again, the old target serves, Vireo's objects for them are gone.
    const web = await service(ns, "web");
    assert.deepEqual(web?.spec.selector, { app: "a" });
    assert.equal(web?.metadata.labels?.[LABELS.rollout], undefined);
    assert.equal(await deploymentReplicas(cluster, ns, "a"), 2);
    assert.equal((await deployment(ns, "a"))?.metadata.labels?.[LABELS.rollout], undefined);
    for (const gone of ["a-primary"]) assert.equal(await deployment(ns, gone), undefined, gone);
    for (const gone of ["web-primary", "web-canary"]) assert.equal(await service(ns, gone), undefined, gone);
    assert.equal(during.empty, 0, "web's clients always reached ready pods");
    assert.equal(await readyBehind(ns, "web2"), 2);
    assert.ok(moved.status?.claims?.every((c) => c.uid.length > 0));
    // Deletion: the finalizer hands back what status records (b, web2); web stays the user's, with its pods.
    await cluster.kubectl(["delete", "rollout.vireo.dev", "r", "-n", ns, "--wait=false"]);
    await waitFor(
      "Rollout r gone",
      () => getRollout(cluster, ns, "r"),
      (r) => r === undefined,
      90_000,
    );
    assert.deepEqual((await service(ns, "web2"))?.spec.selector, { app: "b" });
    assert.equal(await deploymentReplicas(cluster, ns, "b"), 2);
    await waitFor(
      "b serves web2 again",
      () => readyBehind(ns, "web2"),
      (n) => n === 2,
      30_000,
    );
    assert.equal(
      await readyBehind(ns, "web"),
      2,
      "the original Service, which clients call, still has its pods",
    );
  });

  it("18.5: Istio hosts and gateways, Gateway API parents, beyond its own only as the operator allows", async () => {
    const refusedNs = "tenant";
    await apply(
      cluster,
      appManifests({
        namespace: refusedNs,
        extraSpec: {
          provider: "istio",
          service: {
            port: 80,
            targetPort: 9898,
            hosts: ["db.victim.svc.cluster.local", "www.example.test", "podinfo.tenant.svc.cluster.local"],
            gateways: ["istio-system/public", "own-gateway"],
          },
        },
      }),
    );
    const r = await waitForRollout(
      cluster,
      refusedNs,
      "podinfo",
      "refused",
      (x) => degraded(x) !== undefined,
      60_000,
    );
    assert.equal(degraded(r)?.reason, "NotAllowed");
    const message = degraded(r)?.message ?? "";
    for (const path of ["spec.service.hosts[0]", "spec.service.hosts[1]", "spec.service.gateways[0]"])
      assert.ok(message.includes(path), `${path} named in: ${message}`);
    assert.ok(!message.includes("hosts[2]") && !message.includes("gateways[1]"), "its own are allowed");
    const vs = (ns: string) =>
      getJson<{ spec: { hosts: string[] } }>(cluster, ["virtualservice", "podinfo", "-n", ns]);
    assert.equal(await vs(refusedNs), undefined, "no VirtualService routes a host it may not have");
    assert.ok((await warnings(refusedNs, "NotAllowed")).length > 0);

    // The operator allows *.shop.example.test and istio-system/public in namespace exposed.
    await apply(
      cluster,
      appManifests({
        namespace: "exposed",
        extraSpec: {
          provider: "istio",
          service: {
            port: 80,
            targetPort: 9898,
            hosts: ["checkout.shop.example.test"],
            gateways: ["istio-system/public"],
          },
        },
      }),
    );
    await healthy("exposed", "podinfo");
    assert.deepEqual((await vs("exposed"))?.spec.hosts, ["podinfo", "checkout.shop.example.test"]);

    await apply(
      cluster,
      appManifests({
        namespace: "gwapi",
        extraSpec: {
          provider: "gateway-api",
          gatewayApi: {
            parentRefs: [{ name: "shared", namespace: "infra" }],
            hostnames: ["www.example.test"],
          },
        },
      }),
    );
    const g = await waitForRollout(
      cluster,
      "gwapi",
      "podinfo",
      "refused",
      (x) => degraded(x) !== undefined,
      60_000,
    );
    assert.equal(degraded(g)?.reason, "NotAllowed");
    assert.match(degraded(g)?.message ?? "", /gateway infra\/shared is not allowed in namespace gwapi/);
    assert.equal(
      await getJson(cluster, ["httproute.gateway.networking.k8s.io", "podinfo", "-n", "gwapi"]),
      undefined,
    );

    // Admission refuses what no policy could allow: not a hostname, the legacy dotted gateway form.
    for (const bad of [{ hosts: ["Not A Host"] }, { gateways: ["public.istio-system.svc.cluster.local"] }]) {
      const out = await cluster.kubectl(["apply", "-f", "-"], {
        input: appManifests({
          namespace: "admission",
          extraSpec: { provider: "istio", service: { port: 80, ...bad } },
        }),
      });
      assert.notEqual(out.code, 0, JSON.stringify(bad));
      assert.match(out.stderr, /spec\.service\.(hosts|gateways)\[0\]/);
    }
  });
});
