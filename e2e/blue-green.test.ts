// e2e: blue/green without a mesh (provider kubernetes) through a real proxy. Traefik routes a hostname to the root
// Service and another to the preview Service by the EndpointSlices the control plane computes; pod processes answer
// on loopback pod IPs. Steady load counts every failed request across the preview, the cut-over, the switch back
// of a promotion and of an abort in the rollback window.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  KIND_MESSAGES,
  PREVIEW_NAME_TAKEN,
  type Rollout,
  STRATEGY_MESSAGES,
} from "../src/api/rollout-schema.ts";
import type { Cluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { answered, type Load } from "./dataplane/load.ts";
import { podAppDeployment, setEnv } from "./dataplane/real-pod-app.ts";
import { GATEWAY, type RealProxyEnv, startRealProxyEnv } from "./dataplane/real-proxy-env.ts";
import type { Traefik } from "./dataplane/traefik.ts";
import { annotate, apply, deploymentReplicas, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";
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

const NS = "bg";
const APP = "podinfo";
/** x-app of the new version's pods (the user's Deployment) and of the primary's. */
const NEW = APP;
const OLD = `${APP}-primary`;
const HOST = "bg.example.test";
const PREVIEW_HOST = "preview.example.test";
const REPLICAS = 3;
const SCALE_DOWN_DELAY_S = 6;

/** A user's app: Deployment, a Rollout with strategy.blueGreen and provider kubernetes, and routes to two Services. */
function manifests(): string {
  const route = (name: string, host: string, service: string) => ({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: NS },
    spec: {
      parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace, sectionName: GATEWAY.listener }],
      hostnames: [host],
      rules: [{ backendRefs: [{ name: service, port: 80 }] }],
    },
  });
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
        provider: "kubernetes",
        strategy: { blueGreen: { rollbackWindow: "8s", scaleDownDelay: `${SCALE_DOWN_DELAY_S}s` } },
        analysis: { interval: "2s", metrics: [] },
        progressDeadlineSeconds: 120,
      },
    },
    route("app", HOST, APP),
    route("app-preview", PREVIEW_HOST, `${APP}-preview`),
  ];
  return docs.map((d) => JSON.stringify(d)).join("\n---\n");
}

describe("blue/green without a mesh through Traefik (real proxy, real EndpointSlices)", () => {
  let cluster: Cluster;
  let traefik: Traefik;
  let controller: ControllerProcess;
  let env: RealProxyEnv | undefined;
  let root: Load;
  let preview: Load;
  const report: string[] = [];

  before(async () => {
    env = await startRealProxyEnv();
    ({ cluster, traefik } = env);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
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
    if (report.length > 0) console.log(`\n[blue-green] measured:\n${report.join("\n")}\n`);
    await env?.stop();
  });

  it("kubectl apply refuses the combinations that make no sense, naming the rule", async () => {
    const kc = cluster.kubeConfig();
    const base = {
      targetRef: { name: "web" },
      service: { port: 80 },
      provider: "kubernetes",
      strategy: { blueGreen: {} },
    };
    const refused = async (spec: Record<string, unknown>, message: string) => {
      const body = {
        apiVersion: "vireo.dev/v1alpha1",
        kind: "Rollout",
        metadata: { name: "refused" },
        spec: { ...base, ...spec },
      };
      const err = await kubeRequest(
        kc,
        "POST",
        `/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts?dryRun=All`,
        body,
      ).then(
        () => assert.fail(`accepted ${JSON.stringify(spec)}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeApiError && err.status === 422, String(err));
      assert.ok(err.message.includes(message), err.message);
    };
    await refused({ strategy: {} }, STRATEGY_MESSAGES.oneStrategy);
    await refused(
      { strategy: { blueGreen: {}, canary: { steps: [{ setWeight: 50 }] } } },
      STRATEGY_MESSAGES.oneStrategy,
    );
    await refused(
      { strategy: { canary: { steps: [{ setWeight: 50 }] } } },
      STRATEGY_MESSAGES.selectorBlueGreenOnly,
    );
    await refused(
      { accessPolicy: { sources: [{ serviceAccount: "client" }] } },
      STRATEGY_MESSAGES.selectorNoPolicy,
    );
    // A StatefulSet or DaemonSet is updated in place: there is no second full-size version to switch to.
    await refused({ targetRef: { name: "web", kind: "StatefulSet" } }, KIND_MESSAGES.blueGreenKind);
    await refused(
      { targetRef: { name: "web", kind: "DaemonSet" }, service: undefined },
      KIND_MESSAGES.blueGreenKind,
    );
    for (const taken of ["web", "web-primary", "web-canary"])
      await refused({ strategy: { blueGreen: { previewService: taken } } }, PREVIEW_NAME_TAKEN);
    // Blue/green is not only for provider kubernetes: a mesh or Gateway switches it by route.
    await kubeRequest(kc, "POST", `/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts?dryRun=All`, {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: "accepted" },
      spec: { ...base, provider: "istio", strategy: { blueGreen: { previewService: "web-blue" } } },
    });
  });

  it("a new version: preview first, one cut-over, promotion, the switch back — no failed request", async () => {
    const { t0, done, summary } = await releaseBlueGreen(cluster, NS, APP, "v2", () =>
      timeline(root, preview),
    );
    const {
      previewNew,
      cutOver,
      allNew,
      back,
      allBack,
      total,
      failures,
      previewTotal,
      previewFailures,
      mixed,
      served,
    } = summary;
    report.push(
      `  promotion: ${failures} failed of ${total} requests to the root Service (${previewFailures} of ${previewTotal} to the preview)`,
      `  applied → preview serves the new version ${fmt(previewNew && previewNew - t0)}; → cut-over at the proxy ${fmt(cutOver && cutOver - t0)}; versions mixed at the proxy for ${mixed} × 100 ms slices during the switches`,
      `  served by the new version before the cut-over ${served(t0, cutOver, NEW)}; by the old one between cut-over and switch back ${served(allNew, back, OLD)}; promoted primary back at ${fmt(allBack && allBack - t0)}`,
    );
    const events = await cluster.kubectl(["get", "events", "-n", NS, "-o", "json"]);
    const reasons = (JSON.parse(events.stdout).items as { reason?: string }[]).map((e) => e.reason);

    assert.equal(failures, 0, "no failed request to the root Service during the whole blue/green rollout");
    assert.equal(previewFailures, 0, "no failed request to the preview either");
    assert.ok(
      previewNew !== undefined && cutOver !== undefined,
      "both the preview and the root served the new version",
    );
    // The controller points the root only after the preview's slices list the new pods, but Traefik applies the
    // changes it sees within one throttle window together: on an idle machine both land in the same 100 ms slice.
    assert.ok(previewNew <= cutOver, "the preview served the new version no later than any user");
    assert.equal(served(t0, cutOver, NEW), 0);
    assert.ok(
      allNew !== undefined && back !== undefined && allBack !== undefined,
      "cut over, then back to the promoted primary",
    );
    assert.equal(
      served(allNew, back, OLD),
      0,
      "after the cut-over, all traffic on the new version until the switch back",
    );
    assert.ok(reasons.includes("CutOver"), `a CutOver Event: ${reasons.join(", ")}`);
    assert.equal(done.status?.canaryWeight, 0);
  });

  it("an abort in the rollback window switches back to the warm old version at once; the new one is scaled down after scaleDownDelay", async () => {
    // A long window, so the abort lands in it.
    await setRollbackWindow(cluster, NS, APP, "10m");
    const t = timeline(root, preview);
    await setEnv(cluster, NS, APP, "VERSION=v3");
    await waitFor(
      "the cut-over at the proxy",
      () => root.burst(16),
      (c) => answered(c, NEW) === 16,
      120_000,
    );
    const inWindow = await waitForRollout(
      cluster,
      NS,
      APP,
      "in the rollback window",
      (r: Rollout) => (r.status?.message ?? "").includes("rollback window"),
      30_000,
    );
    const primaryReplicas = await deploymentReplicas(cluster, NS, `${APP}-primary`);
    const aborted = Date.now();
    await annotate(cluster, NS, APP, "vireo.dev/abort", "bad-release");
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
    const scaledAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    const s = t.stop();
    const failures = sum(s, (x) => failed(x.root));
    const total = sum(s, (x) => x.root.total + x.root.transportErrors);
    const firstOld = firstAt(s, aborted, (x) => answered(x.root, OLD) > 0);
    report.push(
      `  abort in the window: ${failures} failed of ${total} requests; abort → old version serving at the proxy ${fmt(firstOld && firstOld - aborted)} (all of it ${fmt(backAt - aborted)}); back → new version scaled down ${fmt(scaledAt - backAt)} (scaleDownDelay ${SCALE_DOWN_DELAY_S}s)`,
    );
    assert.equal(inWindow.status?.canaryWeight, 100);
    assert.equal(primaryReplicas, REPLICAS, "the old version stayed warm at full size in the window");
    assert.equal(failures, 0, "no failed request across the cut-over and the abort");
    assert.ok(backAt - aborted < 15_000, `switched back in ${backAt - aborted} ms`);
    // The delay runs from the switch back confirmed in the EndpointSlices, which Traefik's provider follows up to
    // ~1.5 s later on a loaded machine (4.79 s after the proxy's first old answer was seen once): measured from the
    // abort, which the delay cannot precede.
    assert.ok(
      scaledAt - aborted >= SCALE_DOWN_DELAY_S * 1000,
      `scaled down ${scaledAt - aborted} ms after the abort, before scaleDownDelay`,
    );
  });
});
