// e2e: ingress canaries through a real proxy. Traefik (its Gateway API provider) routes real HTTP to pod processes on
// loopback pod IPs via the EndpointSlices the control plane computes; analysis reads Traefik's own metrics.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Rollout } from "../src/api/rollout-schema.ts";
import type { Cluster } from "./cluster/cluster.ts";
import { kubeRequest } from "./cluster/kube-request.ts";
import { answered, type Load, startLoad } from "./dataplane/load.ts";
import type { PodRunner } from "./dataplane/pod-runner.ts";
import { proxyReaction, routeWeight, shareError, waitForRouteWeight } from "./dataplane/proxy-probe.ts";
import { realPodApp, setEnv } from "./dataplane/real-pod-app.ts";
import {
  GATEWAY,
  type RealProxyEnv,
  startProxyController,
  startRealProxyEnv,
} from "./dataplane/real-proxy-env.ts";
import type { Traefik } from "./dataplane/traefik.ts";
import { apply, getJson, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";

const GATEWAY_NS = GATEWAY.namespace;
/** Requests per |served share − weight| sample. */
const N = 200;

const phaseOf = (r: Rollout | undefined) => r?.status?.phase;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** One weight step as the proxy served it. */
interface StepSample {
  weight: number;
  /** Vireo's write seen → the proxy serving the new weight. */
  proxyDelayMs: number;
  /** |served share − weight| in points over N requests. */
  shareError: number;
  canary: number;
  total: number;
}

describe("ingress canaries through Traefik (real proxy, real endpoints)", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let runner: PodRunner;
  let traefik: Traefik;
  let controller: ControllerProcess;
  let env: RealProxyEnv | undefined;
  const loads: Load[] = [];
  const report: string[] = [];

  const loadFor = (host: string) => {
    const l = startLoad({ url: traefik.webUrl, host, rps: 50, concurrency: 8 });
    loads.push(l);
    return l;
  };

  /** Follows each setWeight step at the proxy: the write, the reaction, the served share over N requests. */
  async function followSteps(
    load: Load,
    at: { namespace: string; route: string; backend: string; rule?: number },
    canaryApp: string,
    weights: number[],
  ): Promise<StepSample[]> {
    const samples: StepSample[] = [];
    let previous = 0;
    for (const weight of weights) {
      const written = await waitForRouteWeight(kc, at, weight, 90_000);
      const proxyDelayMs = await proxyReaction(load, canaryApp, previous, weight, written);
      const s = await shareError(load, canaryApp, weight, N);
      samples.push({ weight, proxyDelayMs, shareError: s.error, canary: s.canary, total: s.total });
      previous = weight;
    }
    return samples;
  }

  before(async () => {
    env = await startRealProxyEnv();
    ({ cluster, runner, traefik } = env);
    kc = cluster.kubeConfig();
    controller = await startProxyController(cluster);
  });

  after(async () => {
    for (const l of loads) await l.stop();
    await controller?.stop();
    if (report.length > 0) console.log(`\n[traefik-gateway] measured:\n${report.join("\n")}\n`);
    await env?.stop();
  });

  it("generated Gateway-parent route: a good template is promoted, the proxy serves each weight", async () => {
    const ns = "shop";
    await apply(
      cluster,
      realPodApp({
        namespace: ns,
        name: "podinfo",
        steps: [
          { setWeight: 20 },
          { pause: { duration: "8s" } },
          { setWeight: 50 },
          { pause: { duration: "8s" } },
        ],
        gatewayApi: {
          parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY_NS, sectionName: "web" }],
          hostnames: ["shop.example.test"],
        },
      }),
    );
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => phaseOf(r) === "Healthy", 90_000);
    const load = loadFor("shop.example.test");
    // The route is accepted and the primary's real pods answer through the Gateway.
    await waitFor(
      "primary answering through Traefik",
      () => load.burst(20),
      (c) => answered(c, "podinfo-primary") === 20,
      30_000,
    );
    const stable = (await getRollout(cluster, ns, "podinfo"))?.status?.stableRevision;

    await setEnv(cluster, ns, "podinfo", "VERSION=v2");
    const at = { namespace: ns, route: "podinfo", backend: "podinfo-canary" };
    const samples = await followSteps(load, at, "podinfo", [20, 50]);
    const done = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "promoted",
      (r) => phaseOf(r) === "Healthy" && r.status?.stableRevision !== stable,
      120_000,
    );
    const back = await proxyReaction(load, "podinfo", 50, 0, Date.now());
    // The label set the builtin queries rely on, read off the running Traefik.
    const metrics = await (await fetch(traefik.metricsUrl)).text();
    const series = metrics
      .split("\n")
      .find((l) => l.startsWith("traefik_service_requests_total{") && l.includes("shop-podinfo-canary"));
    report.push(`  Traefik series: ${series}`);
    assert.match(series ?? "", /service="shop-podinfo-canary-http-80@kubernetesgateway"/);
    assert.match(series ?? "", /code="200"/);
    const history = done.status?.analysis?.history ?? [];
    const passes = history.filter((m) => m.metric === "success" && m.verdict === "Pass");
    for (const s of samples)
      report.push(
        `  generated route, step ${s.weight} %: served ${((100 * s.canary) / s.total).toFixed(1)} % of ${s.total} ` +
          `(|error| ${s.shareError.toFixed(1)} pts), proxy delay after Vireo's write ${fmt(s.proxyDelayMs)}`,
      );
    report.push(
      `  generated route: success-rate ticks passed ${passes.map((m) => m.value?.toFixed(1)).join(", ")} (Traefik series)`,
    );
    for (const s of samples) {
      assert.equal(s.total, N, "every request answered");
      assert.ok(s.shareError <= 5, `step ${s.weight}: served ${s.canary}/${s.total}`);
      assert.ok(s.proxyDelayMs < 15_000, `proxy delay ${s.proxyDelayMs} ms`);
    }
    assert.ok(passes.length >= 2, "a passing tick from Traefik's metrics at each step");
    assert.ok(
      passes.every((m) => typeof m.value === "number" && m.value >= 99),
      JSON.stringify(passes),
    );
    assert.ok(back < 15_000);
    assert.equal(await routeWeight(kc, ns, "podinfo", "podinfo-canary"), 0);
    assert.deepEqual(
      runner.errors().filter((e) => !e.startsWith("list pods")),
      [],
    );
  });

  it("a bad template (ERROR_RATE=0.5) is rolled back on Traefik's metrics; detection = applied → 0 % canary at the proxy", async () => {
    const ns = "shop";
    const load = loads[0]!;
    const t0 = Date.now();
    await setEnv(cluster, ns, "podinfo", "ERROR_RATE=0.5");
    let sawBad = false;
    let detected: number | undefined;
    const deadline = Date.now() + 120_000;
    while (detected === undefined) {
      assert.ok(Date.now() < deadline, "no rollback within 120 s");
      const c = await load.burst(20);
      const canary5xx = c.byApp.get("podinfo")?.get("5xx") ?? 0;
      if (canary5xx > 0) sawBad = true;
      if (
        sawBad &&
        answered(c, "podinfo") === 0 &&
        (await routeWeight(kc, ns, "podinfo", "podinfo-canary")) === 0
      )
        detected = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "RolledBack",
      (x) => phaseOf(x) === "RolledBack",
      30_000,
    );
    const failed = (r.status?.analysis?.history ?? []).filter(
      (m) => m.metric === "success" && m.verdict === "Fail",
    );
    report.push(
      `  bad template: detection (set env → 0 % canary at the proxy) ${fmt(detected)}; failing tick read ${failed.map((m) => m.value?.toFixed(1)).join(", ")} %`,
    );
    assert.ok(
      failed.length >= 1 && failed.every((m) => typeof m.value === "number" && Math.abs(m.value - 50) <= 10),
    );
    // After the rollback only the primary answers, and it answers 200.
    const after = await load.burst(100);
    assert.equal(answered(after, "podinfo-primary"), 100);
    assert.equal(after.byApp.get("podinfo-primary")?.get("2xx"), 100);
  });

  it("user-owned HTTPRoute: Vireo sets only the rule's weights (server-side apply), the rest stays the owner's", async () => {
    const ns = "gitops";
    const route = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "store", namespace: ns, labels: { team: "store" } },
      spec: {
        parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY_NS, sectionName: "web" }],
        hostnames: ["store.example.test"],
        rules: [
          {
            name: "app",
            matches: [{ path: { type: "PathPrefix", value: "/" } }],
            filters: [
              {
                type: "RequestHeaderModifier",
                requestHeaderModifier: { set: [{ name: "x-owner", value: "git" }] },
              },
            ],
            backendRefs: [
              { name: "store-primary", port: 80, weight: 100 },
              { name: "store-canary", port: 80, weight: 0 },
            ],
          },
        ],
      },
    };
    const manifests = realPodApp({
      namespace: ns,
      name: "store",
      steps: [{ setWeight: 30 }, { pause: { duration: "20s" } }],
      gatewayApi: { httpRoute: { name: "store", ruleName: "app" } },
    });
    const [nsDoc, ...rest] = manifests.split("\n---\n");
    // kubectl apply (client-side, like Argo CD's default sync) owns the route before Vireo ever sees it.
    await apply(cluster, [nsDoc, JSON.stringify(route), ...rest].join("\n---\n"));
    await waitForRollout(cluster, ns, "store", "Healthy", (r) => phaseOf(r) === "Healthy", 90_000);
    const load = loadFor("store.example.test");
    await waitFor(
      "primary answering through Traefik",
      () => load.burst(20),
      (c) => answered(c, "store-primary") === 20,
      30_000,
    );
    const stable = (await getRollout(cluster, ns, "store"))?.status?.stableRevision;
    await setEnv(cluster, ns, "store", "VERSION=v2");
    const samples = await followSteps(
      load,
      { namespace: ns, route: "store", backend: "store-canary" },
      "store",
      [30],
    );
    // A GitOps sync mid-rollout: the owner re-applies its manifest, whose weights say 100/0 (atomic rules).
    const synced = await cluster.kubectl(["apply", "-f", "-"], { input: JSON.stringify(route) });
    assert.equal(synced.code, 0, synced.stderr);
    const resetAt = Date.now();
    assert.equal(await routeWeight(kc, ns, "store", "store-canary"), 0, "the sync reset the weights");
    const reasserted =
      (await waitForRouteWeight(kc, { namespace: ns, route: "store", backend: "store-canary" }, 30, 15_000)) -
      resetAt;
    report.push(
      `  user-owned route: a GitOps re-apply reset the weights; Vireo re-applied 30 % after ${fmt(reasserted)}`,
    );
    await waitForRollout(
      cluster,
      ns,
      "store",
      "promoted",
      (r) => phaseOf(r) === "Healthy" && r.status?.stableRevision !== stable,
      120_000,
    );
    for (const s of samples)
      report.push(
        `  user-owned route, step ${s.weight} %: served ${((100 * s.canary) / s.total).toFixed(1)} % of ${s.total} ` +
          `(|error| ${s.shareError.toFixed(1)} pts), proxy delay ${fmt(s.proxyDelayMs)}`,
      );
    assert.ok(
      samples.every((s) => s.shareError <= 5 && s.total === N),
      JSON.stringify(samples),
    );

    const live = await kubeRequest<{
      metadata: {
        labels?: Record<string, string>;
        managedFields?: {
          manager: string;
          operation: string;
          fieldsV1?: { "f:spec"?: Record<string, unknown> };
        }[];
      };
      spec: typeof route.spec;
    }>(kc, "GET", `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/store`);
    assert.deepEqual(live.metadata.labels, { team: "store" }, "no Vireo labels on a route it does not own");
    assert.deepEqual(live.spec.hostnames, route.spec.hostnames);
    assert.deepEqual(live.spec.rules[0]?.filters, route.spec.rules[0]?.filters);
    assert.deepEqual(
      live.spec.rules[0]?.backendRefs.map((b) => [b.name, b.weight]),
      [
        ["store-primary", 100],
        ["store-canary", 0],
      ],
    );
    const vireo = live.metadata.managedFields?.find((f) => f.manager === "vireo");
    assert.equal(vireo?.operation, "Apply");
    assert.deepEqual(
      Object.keys(vireo?.fieldsV1?.["f:spec"] ?? {}),
      ["f:rules"],
      "Vireo owns spec.rules only",
    );
    const owner = live.metadata.managedFields?.find((f) => f.manager !== "vireo" && f.fieldsV1?.["f:spec"]);
    assert.ok(owner?.fieldsV1?.["f:spec"]?.["f:hostnames"], "the hostnames stay the first owner's");
  });

  it("a route the Gateway does not accept (no such listener) is held, the condition quoting the Gateway's reason", async () => {
    const ns = "held";
    await apply(
      cluster,
      realPodApp({
        namespace: ns,
        name: "cart",
        steps: [{ setWeight: 50 }],
        gatewayApi: { parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY_NS, sectionName: "admin" }] },
      }),
    );
    const r = await waitForRollout(
      cluster,
      ns,
      "cart",
      "Degraded quoting the Gateway",
      (x) =>
        x.status?.conditions?.some(
          (c) => c.type === "Degraded" && c.status === "True" && /Accepted=False/.test(c.message),
        ) === true,
      60_000,
    );
    const degraded = r.status?.conditions?.find((c) => c.type === "Degraded");
    report.push(
      `  unaccepted route: phase ${phaseOf(r) ?? "unset (never initialized)"}, Degraded ${degraded?.reason}: ${degraded?.message}`,
    );
    assert.match(degraded?.message ?? "", /Gateway infra\/public listener admin/);
    assert.equal(degraded?.reason, "RouteNotAccepted");
    assert.notEqual(phaseOf(r), "Healthy");
    const route = await getJson<{
      status?: { parents?: { conditions?: { type: string; status: string; reason: string }[] }[] };
    }>(cluster, ["httproute", "cart", "-n", ns]);
    const accepted = route?.status?.parents?.[0]?.conditions?.find((c) => c.type === "Accepted");
    assert.equal(accepted?.status, "False");
    assert.match(degraded?.message ?? "", new RegExp(accepted?.reason ?? "^$"));
  });
});
