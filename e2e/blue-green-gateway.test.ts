// e2e: blue/green through a Gateway (provider gateway-api): the cut-over is a route change. Traefik serves the
// HTTPRoute Vireo generates for the hostname (primary 100 → canary 100 → back after promotion) and a user's route to
// the preview Service; pod processes answer on loopback pod IPs. Steady load counts every failed request across
// the promotion and an abort in the rollback window, and times the cut-over from the new template.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Cluster } from "./cluster/cluster.ts";
import { answered, type Load } from "./dataplane/load.ts";
import { waitForRouteWeight } from "./dataplane/proxy-probe.ts";
import { podAppDeployment, setEnv } from "./dataplane/real-pod-app.ts";
import {
  GATEWAY,
  type RealProxyEnv,
  startProxyController,
  startRealProxyEnv,
} from "./dataplane/real-proxy-env.ts";
import type { Traefik } from "./dataplane/traefik.ts";
import { annotate, apply, deploymentReplicas, waitFor, waitForRollout } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";
import {
  failed,
  firstAt,
  fmt,
  releaseBlueGreen,
  setRollbackWindow,
  startRootAndPreviewLoads,
  sum,
  timeline,
} from "./support/traffic-timeline.ts";

const NS = "bggw";
const APP = "shop";
/** x-app of the new version's pods (the user's Deployment) and of the primary's. */
const NEW = APP;
const OLD = `${APP}-primary`;
const HOST = "bggw.example.test";
const PREVIEW_HOST = "preview-bggw.example.test";
const REPLICAS = 3;
const parentRefs = [{ name: GATEWAY.name, namespace: GATEWAY.namespace, sectionName: GATEWAY.listener }];

/** The user's app: Deployment, a blue/green Rollout whose route Vireo generates, and the user's preview route. */
function manifests(): string {
  const docs = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    podAppDeployment({ namespace: NS, name: APP, replicas: REPLICAS }),
    {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: APP, namespace: NS },
      spec: {
        targetRef: { name: APP },
        service: { port: 80, targetPort: 9898 },
        provider: "gateway-api",
        gatewayApi: { parentRefs, hostnames: [HOST] },
        strategy: { blueGreen: { rollbackWindow: "8s", scaleDownDelay: "6s" } },
        analysis: { interval: "2s", metrics: [] },
        progressDeadlineSeconds: 120,
      },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "preview", namespace: NS },
      spec: {
        parentRefs,
        hostnames: [PREVIEW_HOST],
        rules: [{ backendRefs: [{ name: `${APP}-preview`, port: 80 }] }],
      },
    },
  ];
  return docs.map((d) => JSON.stringify(d)).join("\n---\n");
}

describe("blue/green through a Gateway (provider gateway-api, real Traefik)", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let traefik: Traefik;
  let controller: ControllerProcess;
  let env: RealProxyEnv | undefined;
  let root: Load;
  let preview: Load;
  const report: string[] = [];
  const canaryWeight = (weight: number) =>
    waitForRouteWeight(kc, { namespace: NS, route: APP, backend: `${APP}-canary` }, weight, 180_000);

  before(async () => {
    env = await startRealProxyEnv();
    ({ cluster, traefik } = env);
    kc = cluster.kubeConfig();
    controller = await startProxyController(cluster);
    await apply(cluster, manifests());
    await waitForRollout(cluster, NS, APP, "Healthy", (r) => r.status?.phase === "Healthy", 90_000);
    ({ root, preview } = await startRootAndPreviewLoads(
      traefik.webUrl,
      { root: HOST, preview: PREVIEW_HOST },
      OLD,
    ));
  });

  after(async () => {
    await root?.stop();
    await preview?.stop();
    await controller?.stop();
    if (report.length > 0) console.log(`\n[blue-green-gateway] measured:\n${report.join("\n")}\n`);
    await env?.stop();
  });

  it("a new version: preview, cut-over by the route (0 → 100), promotion, the route back — no failed request", async () => {
    const cutOverWritten = canaryWeight(100);
    const { t0, done, summary } = await releaseBlueGreen(cluster, NS, APP, "v2", () =>
      timeline(root, preview),
    );
    const written = await cutOverWritten;
    const { previewNew, cutOver, allNew, back, total, failures, previewTotal, previewFailures, served } =
      summary;
    report.push(
      `  promotion: ${failures} failed of ${total} requests through the generated route (${previewFailures} of ${previewTotal} through the preview route)`,
      `  new template → preview serves it ${fmt(previewNew && previewNew - t0)}; → route written canary 100 ${fmt(written - t0)}; → cut-over at Traefik ${fmt(cutOver && cutOver - t0)} (route → proxy ${fmt(cutOver && cutOver - written)})`,
    );

    assert.equal(failures, 0, "no failed request through the generated route during the whole rollout");
    assert.equal(previewFailures, 0, "no failed request through the preview route either");
    assert.ok(
      previewNew !== undefined && cutOver !== undefined,
      "both the preview and the root served the new version",
    );
    // Within 250 ms: with no analysis the cut-over is written as soon as the new pods are ready, and Traefik applies
    // the preview's endpoints and the route's weights in one reload; the preview's 20 requests a second can miss the
    // 100 ms slice in which that reload lands (one slice later, seen once in a full run).
    assert.ok(previewNew <= cutOver + 250, "the preview served the new version no later than any user");
    assert.equal(served(t0, written, NEW), 0, "no user reached the new version before the route was written");
    assert.ok(allNew !== undefined && back !== undefined, "cut over, then back to the promoted primary");
    assert.equal(
      served(allNew, back, OLD),
      0,
      "after the cut-over, all traffic on the new version until the route went back",
    );
    assert.equal(done.status?.canaryWeight, 0);
  });

  it("an abort in the rollback window moves the route back to the warm old version at once — no failed request", async () => {
    await setRollbackWindow(cluster, NS, APP, "10m");
    const t = timeline(root, preview);
    await setEnv(cluster, NS, APP, "VERSION=v3");
    await canaryWeight(100);
    await waitFor(
      "the cut-over at Traefik",
      () => root.burst(16),
      (c) => answered(c, NEW) === 16,
      60_000,
    );
    await waitForRollout(
      cluster,
      NS,
      APP,
      "in the rollback window",
      (r) => (r.status?.message ?? "").includes("rollback window"),
      30_000,
    );
    const primaryReplicas = await deploymentReplicas(cluster, NS, `${APP}-primary`);
    const aborted = Date.now();
    await annotate(cluster, NS, APP, "vireo.dev/abort", "bad-release");
    const routeBack = await canaryWeight(0);
    await waitFor(
      "all traffic back on the old version",
      () => root.burst(16),
      (c) => answered(c, OLD) === 16,
      60_000,
    );
    const backAt = Date.now();
    await waitForRollout(cluster, NS, APP, "Aborted", (r) => r.status?.phase === "Aborted", 60_000);
    await waitFor(
      "the new version scaled down",
      () => deploymentReplicas(cluster, NS, APP),
      (n) => n === 0,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const s = t.stop();
    const failures = sum(s, (x) => failed(x.root));
    const total = sum(s, (x) => x.root.total + x.root.transportErrors);
    const firstOld = firstAt(s, aborted, (x) => answered(x.root, OLD) > 0);
    report.push(
      `  abort in the window: ${failures} failed of ${total} requests; abort → route back ${fmt(routeBack - aborted)}; → old version serving at Traefik ${fmt(firstOld && firstOld - aborted)} (all of it ${fmt(backAt - aborted)})`,
    );
    assert.equal(primaryReplicas, REPLICAS, "the old version stayed warm at full size in the window");
    assert.equal(failures, 0, "no failed request across the cut-over and the abort");
    assert.ok(backAt - aborted < 30_000, `switched back in ${backAt - aborted} ms`);
  });
});
