// e2e: routes beside the weight through a real proxy. Traefik (its Gateway API provider) serves the HTTPRoute Vireo
// generates with header routes, sticky-session cookie rules and request mirrors to real pod processes on loopback.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Rollout } from "../src/api/rollout-schema.ts";
import type { Cluster } from "./cluster/cluster.ts";
import { kubeRequest } from "./cluster/kube-request.ts";
import { type Load, startLoad } from "./dataplane/load.ts";
import { APP_HEADER, type PodRunner } from "./dataplane/pod-runner.ts";
import { waitForRouteWeight } from "./dataplane/proxy-probe.ts";
import { realPodApp, setEnv } from "./dataplane/real-pod-app.ts";
import {
  GATEWAY,
  type RealProxyEnv,
  startProxyController,
  startRealProxyEnv,
} from "./dataplane/real-proxy-env.ts";
import type { Traefik } from "./dataplane/traefik.ts";
import { annotate, apply, getRollout, waitFor, waitForRollout } from "./support/app.ts";
import type { ControllerProcess } from "./support/controller-process.ts";

const phaseOf = (r: Rollout | undefined) => r?.status?.phase;
const parentRefs = [{ name: GATEWAY.name, namespace: GATEWAY.namespace, sectionName: GATEWAY.listener }];

/** One answer as a client sees it. */
interface Answer {
  app: string;
  status: number;
  /** Set-Cookie values, `name=value` only. */
  cookies: string[];
}

/** One GET through Traefik with `headers`; loopback only (Traefik's entry point). */
function get(url: string, host: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host, ...headers }, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () =>
        resolve({
          app: String(res.headers[APP_HEADER] ?? ""),
          status: res.statusCode ?? 0,
          cookies: (res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]!.trim()),
        }),
      );
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** `n` GETs, 8 at a time, counted per answering app. */
async function count(url: string, host: string, n: number, headers: Record<string, string> = {}) {
  const byApp = new Map<string, number>();
  for (let i = 0; i < n; i += 8) {
    const answers = await Promise.all(
      Array.from({ length: Math.min(8, n - i) }, () => get(url, host, headers)),
    );
    for (const a of answers) byApp.set(a.app, (byApp.get(a.app) ?? 0) + 1);
  }
  return byApp;
}

/** The rules of HTTPRoute `<name>` as the API server stores them. */
async function routeRules(kc: KubeConfig, ns: string, name: string) {
  const live = await kubeRequest<{ spec: { rules: { name?: string; backendRefs?: unknown[] }[] } }>(
    kc,
    "GET",
    `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/${name}`,
  );
  return live.spec.rules;
}

describe("routes beside the weight through Traefik (real proxy, real endpoints)", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let runner: PodRunner;
  let traefik: Traefik;
  let controller: ControllerProcess;
  let env: RealProxyEnv | undefined;
  const report: string[] = [];
  const loads: Load[] = [];

  before(async () => {
    env = await startRealProxyEnv();
    ({ cluster, runner, traefik } = env);
    kc = cluster.kubeConfig();
    controller = await startProxyController(cluster);
  });

  after(async () => {
    for (const l of loads) await l.stop();
    await controller?.stop();
    if (report.length > 0) console.log(`\n[traefik-routes] measured:\n${report.join("\n")}\n`);
    await env?.stop();
  });

  /**
   * Applies `name`'s app, waits until its primary answers through Traefik, then starts a new revision. With `load`,
   * a steady stream of requests without headers or cookies gives the analysis something to judge.
   */
  async function startCanary(
    ns: string,
    name: string,
    host: string,
    steps: unknown[],
    o: { canary?: Record<string, unknown>; load?: boolean; userRoute?: object } = {},
  ) {
    await apply(
      cluster,
      realPodApp({
        namespace: ns,
        name,
        steps,
        ...(o.canary ? { canary: o.canary } : {}),
        gatewayApi: o.userRoute
          ? { httpRoute: { name, ruleName: "app" } }
          : { parentRefs, hostnames: [host] },
      }),
    );
    if (o.userRoute) await apply(cluster, JSON.stringify(o.userRoute));
    await waitForRollout(cluster, ns, name, "Healthy", (r) => phaseOf(r) === "Healthy", 90_000);
    await waitFor(
      "primary answering through Traefik",
      () => count(traefik.webUrl, host, 16),
      (c) => c.get(`${name}-primary`) === 16,
      30_000,
    );
    if (o.load) loads.push(startLoad({ url: traefik.webUrl, host, rps: 40, concurrency: 4 }));
    const stable = (await getRollout(cluster, ns, name))?.status?.stableRevision;
    await setEnv(cluster, ns, name, "VERSION=v2");
    return stable;
  }

  it("a header route reaches the canary's pods at weight 0; the others follow the weight; promotion removes it", async () => {
    const ns = "hdr";
    const host = "hdr.example.test";
    const stable = await startCanary(
      ns,
      "web",
      host,
      [
        {
          setHeaderRoute: {
            name: "testers",
            matches: [
              { headers: [{ name: "x-canary", value: "1" }] },
              { headers: [{ name: "x-user", type: "Prefix", value: "qa-" }] },
              { cookie: { name: "canary", value: "always" } },
            ],
          },
        },
        { pause: {} },
        { setWeight: 50 },
        { pause: { duration: "6s" } },
      ],
      { load: true },
    );
    const paused = await waitForRollout(
      cluster,
      ns,
      "web",
      "the header route installed",
      (r) => r.status?.managedRoutes?.some((m) => m.type === "HeaderRoute" && m.name === "testers") === true,
      90_000,
    );
    assert.equal(paused.status?.canaryWeight ?? 0, 0);
    // Traefik programs the route a moment after the write: wait until a tester reaches the canary.
    await waitFor(
      "a tester's request reaching the canary",
      () => get(traefik.webUrl, host, { "x-canary": "1" }),
      (a) => a.app === "web",
      30_000,
    );
    const N = 200;
    const exact = await count(traefik.webUrl, host, N, { "x-canary": "1" });
    const prefix = await count(traefik.webUrl, host, N, { "x-user": "qa-anna" });
    const cookie = await count(traefik.webUrl, host, N, { cookie: "theme=dark; canary=always; lang=en" });
    const others = await count(traefik.webUrl, host, N, { "x-canary": "0", cookie: "canary=never" });
    report.push(
      `  header route at weight 0: exact ${exact.get("web") ?? 0}/${N}, prefix ${prefix.get("web") ?? 0}/${N}, ` +
        `cookie ${cookie.get("web") ?? 0}/${N} to the canary; non-matching ${others.get("web-primary") ?? 0}/${N} to the primary`,
    );
    assert.equal(exact.get("web"), N, JSON.stringify([...exact]));
    assert.equal(prefix.get("web"), N, JSON.stringify([...prefix]));
    assert.equal(cookie.get("web"), N, JSON.stringify([...cookie]));
    assert.equal(others.get("web-primary"), N, JSON.stringify([...others]));

    // Resume: at weight 50 the header route still holds, the rest is split.
    await waitForRollout(cluster, ns, "web", "paused at the pause step", (r) => phaseOf(r) === "Paused");
    await annotate(cluster, ns, "web", "vireo.dev/resume", "1");
    await waitForRouteWeight(
      kc,
      { namespace: ns, route: "web", backend: "web-canary", rule: -1 },
      50,
      60_000,
    );
    // Traefik serves the new weight a moment after the write.
    await waitFor(
      "Traefik serving weight 50",
      () => count(traefik.webUrl, host, 40),
      (c) => (c.get("web") ?? 0) >= 12,
      30_000,
    );
    const atHalf = await count(traefik.webUrl, host, N, { "x-canary": "1" });
    const split = await count(traefik.webUrl, host, N);
    const share = (100 * (split.get("web") ?? 0)) / N;
    report.push(
      `  header route at weight 50: testers ${atHalf.get("web") ?? 0}/${N} on the canary; others ${share.toFixed(1)} % on the canary`,
    );
    assert.equal(atHalf.get("web"), N);
    assert.ok(Math.abs(share - 50) <= 12, `served ${share} % at weight 50`);

    await waitForRollout(
      cluster,
      ns,
      "web",
      "promoted",
      (r) => phaseOf(r) === "Healthy" && r.status?.stableRevision !== stable,
      120_000,
    );
    const done = await getRollout(cluster, ns, "web");
    assert.equal(done?.status?.managedRoutes, undefined, "status lists no managed route after promotion");
    const rules = await routeRules(kc, ns, "web");
    assert.equal(rules.length, 1, `only the split rule is left: ${JSON.stringify(rules)}`);
    await waitFor(
      "testers back on the primary",
      () => count(traefik.webUrl, host, 20, { "x-canary": "1" }),
      (c) => c.get("web-primary") === 20,
      30_000,
    );
  });

  it("a user-owned HTTPRoute: a header tester reaches the canary at weight 0 through Vireo's own rule; the user's rules stay as written; promotion removes it", async () => {
    const ns = "owned";
    const host = "owned.example.test";
    // The user's route (GitOps): a static rule of their own and the rule Vireo weights.
    const userRules = [
      {
        name: "static",
        matches: [{ path: { type: "PathPrefix", value: "/static" } }],
        backendRefs: [{ group: "", kind: "Service", name: "shop-primary", port: 80, weight: 1 }],
      },
      {
        name: "app",
        matches: [{ path: { type: "PathPrefix", value: "/" } }],
        backendRefs: [
          { group: "", kind: "Service", name: "shop-primary", port: 80, weight: 100 },
          { group: "", kind: "Service", name: "shop-canary", port: 80, weight: 0 },
        ],
      },
    ];
    const userRoute = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "shop", namespace: ns },
      spec: { parentRefs, hostnames: [host], rules: userRules },
    };
    const testers = { name: "testers", matches: [{ headers: [{ name: "x-canary", value: "1" }] }] };
    const stable = await startCanary(
      ns,
      "shop",
      host,
      [{ setHeaderRoute: testers }, { pause: {} }, { setWeight: 50 }, { pause: { duration: "4s" } }],
      { load: true, userRoute },
    );
    const paused = await waitForRollout(
      cluster,
      ns,
      "shop",
      "the header route installed",
      (r) => r.status?.managedRoutes?.some((m) => m.type === "HeaderRoute" && m.name === "testers") === true,
      90_000,
    );
    assert.equal(paused.status?.canaryWeight ?? 0, 0);
    await waitFor(
      "a tester's request reaching the canary",
      () => get(traefik.webUrl, host, { "x-canary": "1" }),
      (a) => a.app === "shop",
      30_000,
    );
    const N = 200;
    const testersOn = await count(traefik.webUrl, host, N, { "x-canary": "1" });
    const others = await count(traefik.webUrl, host, N);
    const rules = await routeRules(kc, ns, "shop");
    report.push(
      `  user-owned route, header route at weight 0: testers ${testersOn.get("shop") ?? 0}/${N} on the canary, others ${others.get("shop-primary") ?? 0}/${N} on the primary; rules ${rules.map((r) => r.name).join(", ")}`,
    );
    assert.equal(testersOn.get("shop"), N, JSON.stringify([...testersOn]));
    assert.equal(others.get("shop-primary"), N, JSON.stringify([...others]));
    assert.deepEqual(
      rules.map((r) => r.name),
      ["static", "app", "vireo.shop.header.testers"],
    );
    assert.deepEqual(rules.slice(0, 2), userRules, "the user's rules as written");

    await waitForRollout(cluster, ns, "shop", "paused at the pause step", (r) => phaseOf(r) === "Paused");
    await annotate(cluster, ns, "shop", "vireo.dev/resume", "1");
    await waitForRollout(
      cluster,
      ns,
      "shop",
      "promoted",
      (r) => phaseOf(r) === "Healthy" && r.status?.stableRevision !== stable,
      120_000,
    );
    const after = await routeRules(kc, ns, "shop");
    assert.deepEqual(after, userRules, "promotion leaves the user's route as they wrote it");
    await waitFor(
      "testers back on the primary",
      () => count(traefik.webUrl, host, 20, { "x-canary": "1" }),
      (c) => c.get("shop-primary") === 20,
      30_000,
    );
  });

  it("sticky canaries: a cookie-bearing client keeps its version across 200 requests while the weight moves", async () => {
    const ns = "sticky";
    const host = "sticky.example.test";
    const stable = await startCanary(
      ns,
      "cart",
      host,
      [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }],
      { canary: { sessionAffinity: { cookieName: "cart-canary", maxAge: "1h" } }, load: true },
    );
    await waitForRouteWeight(
      kc,
      { namespace: ns, route: "cart", backend: "cart-canary", rule: -1 },
      20,
      90_000,
    );
    // The cookies of this rollout attempt, as Vireo wrote them (the value a version's answer would set).
    const live = await kubeRequest<{ metadata: { annotations: Record<string, string> } }>(
      kc,
      "GET",
      `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/cart`,
    );
    const recorded = JSON.parse(live.metadata.annotations["vireo.dev/managed-routes"] ?? "{}");
    const session: string = recorded.routes?.sticky?.session ?? "";
    assert.notEqual(session, "", "the route records the session of this attempt");
    const canaryCookie = `theme=dark; cart-canary=${session}`;
    const primaryCookie = `cart-canary-primary=${session}`;
    await waitFor(
      "the sticky rules served",
      () => get(traefik.webUrl, host, { cookie: canaryCookie }),
      (a) => a.app === "cart",
      30_000,
    );
    // Clients without a cookie follow the weight.
    const first = await count(traefik.webUrl, host, 200);
    const firstShare = (100 * (first.get("cart") ?? 0)) / 200;
    // Whether Traefik applies the split's per-backend Set-Cookie (an Extended backendRef filter).
    const assigned = (await get(traefik.webUrl, host)).cookies;

    // Two clients keep asking (200 requests each) while the weight moves from 20 to 60.
    const kept = { canary: new Map<string, number>(), primary: new Map<string, number>() };
    let moved = false;
    // A resume is taken only by a paused Rollout: wait for the pause step.
    await waitForRollout(cluster, ns, "cart", "paused at 20", (r) => phaseOf(r) === "Paused");
    const resumed = annotate(cluster, ns, "cart", "vireo.dev/resume", "1").then(async () => {
      await waitForRouteWeight(
        kc,
        { namespace: ns, route: "cart", backend: "cart-canary", rule: -1 },
        60,
        60_000,
      );
      moved = true;
    });
    for (let i = 0; i < 200; i++) {
      const [c, p] = await Promise.all([
        get(traefik.webUrl, host, { cookie: canaryCookie }),
        get(traefik.webUrl, host, { cookie: primaryCookie }),
      ]);
      kept.canary.set(c.app, (kept.canary.get(c.app) ?? 0) + 1);
      kept.primary.set(p.app, (kept.primary.get(p.app) ?? 0) + 1);
      if (i === 100) await resumed;
    }
    assert.ok(moved, "the weight moved to 60 while the clients asked");
    await waitFor(
      "Traefik serving weight 60",
      () => count(traefik.webUrl, host, 40),
      (c) => (c.get("cart") ?? 0) >= 16,
      30_000,
    );
    const second = await count(traefik.webUrl, host, 200);
    const secondShare = (100 * (second.get("cart") ?? 0)) / 200;
    // A cookie of another attempt (an earlier rollout) is not honoured: it follows the weight like no cookie.
    const stale = await count(traefik.webUrl, host, 100, { cookie: "cart-canary-primary=other.attempt" });
    report.push(
      `  sticky: clients without cookie at weight 20 → ${firstShare.toFixed(1)} % canary, at 60 → ${secondShare.toFixed(1)} %; ` +
        `canary-cookie client ${kept.canary.get("cart") ?? 0}/200 and primary-cookie client ${kept.primary.get("cart-primary") ?? 0}/200 kept their version across the move; ` +
        `stale-attempt cookie → ${stale.get("cart") ?? 0}/100 canary; Set-Cookie on a cookie-less answer: ${assigned.length > 0 ? assigned.join(", ") : "none (Traefik ignores backendRef filters)"}`,
    );
    assert.equal(kept.canary.get("cart"), 200, JSON.stringify([...kept.canary]));
    assert.equal(kept.primary.get("cart-primary"), 200, JSON.stringify([...kept.primary]));
    assert.ok(Math.abs(firstShare - 20) <= 10, `weight 20 served ${firstShare} %`);
    assert.ok(Math.abs(secondShare - 60) <= 12, `weight 60 served ${secondShare} %`);
    assert.ok((stale.get("cart") ?? 0) < 100, "a stale cookie does not pin the canary");

    // Promotion: the canary's cookie is answered by the primary, with the cookie expired.
    await waitForRollout(
      cluster,
      ns,
      "cart",
      "paused at 60",
      (r) => phaseOf(r) === "Paused" && r.status?.canaryWeight === 60,
      120_000,
    );
    await annotate(cluster, ns, "cart", "vireo.dev/resume", "2");
    await waitForRollout(
      cluster,
      ns,
      "cart",
      "promoted",
      (r) => phaseOf(r) === "Healthy" && r.status?.stableRevision !== stable,
      120_000,
    );
    const after = await waitFor(
      "a canary cookie answered by the primary after promotion",
      () => get(traefik.webUrl, host, { cookie: canaryCookie }),
      (a) => a.app === "cart-primary",
      30_000,
    );
    report.push(`  sticky after promotion: canary cookie → ${after.app}`);
  });

  it("a mirror Traefik's GatewayClass does not list is refused (RouteNotSupported): no mirror rule, clients keep the primary", async () => {
    const ns = "mirror";
    const host = `${ns}.example.test`;
    // A rollout paused at weight 0, then the user adds a mirror: Traefik v3.6 would answer the mirrored requests
    // with 500 (measured before this refusal existed, docs/benchmarks/traffic-routes.md).
    await startCanary(ns, "api", host, [{ pause: {} }, { setWeight: 50 }]);
    const steps = [
      { setMirror: { name: "reads", percent: 50 } },
      { pause: {} },
      { setMirror: { name: "reads" } },
    ];
    const patch = { spec: { strategy: { canary: { steps: [...steps, { setWeight: 50 }] } } } };
    const r = await cluster.kubectl([
      "-n",
      ns,
      "patch",
      "rollout",
      "api",
      "--type",
      "merge",
      "-p",
      JSON.stringify(patch),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const refused = await waitForRollout(
      cluster,
      ns,
      "api",
      "the mirror refused",
      (x) => x.status?.conditions?.some((c) => c.reason === "RouteNotSupported") === true,
      90_000,
    );
    assert.equal(refused.status?.phase, "Invalid");
    const ready = refused.status?.conditions?.find((c) => c.type === "Ready");
    assert.match(
      ready?.message ?? "",
      /setMirror: GatewayClass traefik .*(does not list HTTPRouteRequestMirror|publishes no status.supportedFeatures)/,
    );
    assert.equal(refused.status?.managedRoutes, undefined, "nothing installed");
    const rules = await routeRules(kc, ns, "api");
    assert.ok(
      rules.every((rule) => !JSON.stringify(rule).includes("RequestMirror")),
      `no mirror rule written: ${JSON.stringify(rules)}`,
    );
    const N = 200;
    const before = canaryRequests(ns, "api");
    const answers: Answer[] = [];
    for (let i = 0; i < N; i += 8)
      answers.push(
        ...(await Promise.all(Array.from({ length: Math.min(8, N - i) }, () => get(traefik.webUrl, host)))),
      );
    const ok = answers.filter((a) => a.status === 200 && a.app === "api-primary").length;
    report.push(
      `  mirror refused on Traefik (GatewayClass lists no HTTPRouteRequestMirror): ${ok}/${N} answered 200 by the primary, ` +
        `${answers.filter((a) => a.status >= 500).length} 5xx, canary received ${canaryRequests(ns, "api") - before}`,
    );
    assert.equal(ok, N, "every client request answered by the primary");
    assert.equal(canaryRequests(ns, "api") - before, 0, "no copy, no answer from the canary");
  });

  /** Requests the pods of `app` in `ns` (its canary: the target Deployment's pods) have served so far. */
  function canaryRequests(ns: string, app: string): number {
    return [...runner.served().values()]
      .filter((p) => p.namespace === ns && p.app === app)
      .reduce((n, p) => n + p.requests, 0);
  }
});
