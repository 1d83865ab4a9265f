// e2e: Istio routes beyond the weight, through istiod. Header routes and a blue/green cut-over are measured on the
// data plane (proxyless gRPC clients and servers taking their routes from istiod); sticky cookies and mirrors,
// which gRPC cannot serve, are checked as istiod translates them for an Envoy sidecar.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import type { Cluster } from "./cluster/cluster.ts";
import { ALLOW_MISSING_ENV, istioMissing } from "./cluster/istiod.ts";
import { setEnv } from "./dataplane/real-pod-app.ts";
import { type AdsClient, startAdsClient } from "./istio/ads-client.ts";
import {
  headerMatchers,
  outboundCluster,
  percentOf,
  routeTargets,
  virtualHostFor,
} from "./istio/envoy-config.ts";
import { tally } from "./istio/grpc-load.ts";
import { type GrpcMeshEnv, startGrpcMeshEnv } from "./istio/grpc-mesh-env.ts";
import {
  grpcIstioApp,
  type IstioAppOptions,
  manifests,
  readVirtualService,
  watchVsWeights,
} from "./istio/istio-app.ts";
import { failureSummary, grpcSlices, waitForAnswers } from "./istio/traffic.ts";
import { annotate, apply, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";
import { fmt, releaseBlueGreen } from "./support/traffic-timeline.ts";

const missing = istioMissing();
const skip = missing !== undefined && process.env[ALLOW_MISSING_ENV] === "1" ? missing : false;

const NS = "routes";
const fqdn = (svc: string) => `${svc}.${NS}.svc.cluster.local`;
const target = (svc: string) => `xds:///${fqdn(svc)}:80`;
const cluster80 = (svc: string) => outboundCluster(fqdn(svc), 80);
const phaseOf = (r: Rollout | undefined) => r?.status?.phase;
const pct = (n: number, of: number) => `${of === 0 ? "–" : ((100 * n) / of).toFixed(1)} %`;

/** A gRPC app (grpcIstioApp) in the test namespace. */
const grpcApp = (name: string, o: Partial<IstioAppOptions>): string =>
  manifests(grpcIstioApp({ namespace: NS, name, steps: [], ...o }));

describe("Istio routes beyond the weight, through istiod (proxyless gRPC, xDS)", { skip }, () => {
  let env: GrpcMeshEnv;
  let cluster: Cluster;
  let controller: ControllerProcess;
  const report: string[] = [];
  const client = (svc: string, rps: number, metadata?: Record<string, string>) =>
    env.client({
      namespace: "web",
      serviceAccount: "frontend",
      target: target(svc),
      rps,
      ...(metadata ? { metadata } : {}),
    });

  before(async () => {
    if (missing) throw new Error(missing);
    env = await startGrpcMeshEnv();
    cluster = env.cluster;
    await apply(cluster, manifests([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }]));
    await env.requireMtls(NS);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
  });

  after(async () => {
    await controller?.stop();
    if (report.length > 0) console.log(`\n[istio-routes] measured:\n${report.join("\n")}\n`);
    await env?.stop();
  });

  it("a header route at weight 0: RPCs with the header reach the canary, none without it; after promotion and after an abort the header reaches the stable version", async () => {
    const route = { name: "testers", matches: [{ headers: [{ name: "x-canary", value: "1" }] }] };
    await apply(cluster, grpcApp("hdr", { steps: [{ setHeaderRoute: route }, { pause: {} }] }));
    await waitForRollout(cluster, NS, "hdr", "Healthy", (r) => phaseOf(r) === "Healthy", 120_000);
    const plain = await client("hdr", 50);
    const testers = await client("hdr", 50, { "x-canary": "1" });
    await waitForAnswers(plain, "hdr-primary", 25);
    await waitForAnswers(testers, "hdr-primary", 25);
    const start = Date.now();
    const installed = (r: Rollout | undefined) =>
      (r?.status?.managedRoutes ?? []).some((m) => m.type === "HeaderRoute" && m.name === "testers");

    // Release v2, held at the pause: the testers reach the canary (the user's Deployment, workload "hdr").
    await setEnv(cluster, NS, "hdr", "VERSION=v2");
    await waitForRollout(cluster, NS, "hdr", "the header route installed", installed, 120_000);
    await waitForAnswers(testers, "hdr", 25);
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    await Promise.all([plain.refresh(), testers.refresh()]);
    const heldPlain = tally(plain.between(from));
    const heldTesters = tally(testers.between(from));

    // Promote: the route goes with the rollout; the header now reaches the promoted primary. The window opens
    // 1.5 s after the status says the route is gone, for istiod's push to reach the clients on a loaded machine.
    const settledAfter = async (version: string) => {
      const settled = Date.now() + 1500;
      await new Promise((r) => setTimeout(r, 4500));
      await Promise.all([plain.refresh(), testers.refresh()]);
      return { version, plain: tally(plain.between(settled)), testers: tally(testers.between(settled)) };
    };
    await annotate(cluster, NS, "hdr", "vireo.dev/resume", "1");
    await waitForRollout(
      cluster,
      NS,
      "hdr",
      "promoted, the route gone",
      (r) => phaseOf(r) === "Healthy" && !installed(r),
      120_000,
    );
    const promoted = await settledAfter("v2 promoted");

    // Release v3 and abort it at the pause: the route goes with the abort too.
    await setEnv(cluster, NS, "hdr", "VERSION=v3");
    await waitForRollout(cluster, NS, "hdr", "the header route installed again", installed, 120_000);
    await waitForAnswers(testers, "hdr", 25);
    await annotate(cluster, NS, "hdr", "vireo.dev/abort", "bad-release");
    await waitForRollout(
      cluster,
      NS,
      "hdr",
      "aborted, the route gone",
      (r) => phaseOf(r) === "Aborted" && !installed(r),
      120_000,
    );
    const aborted = await settledAfter("v3 aborted");

    await Promise.all([plain.refresh(), testers.refresh()]);
    const allPlain = tally(plain.between(start));
    const allTesters = tally(testers.between(start));
    const on = (t: ReturnType<typeof tally>, w: string) => t.byWorkload.get(w) ?? 0;
    report.push(
      `  header route at weight 0, held 3 s: with x-canary ${on(heldTesters, "hdr")}/${heldTesters.total} RPCs on the canary; without ${on(heldPlain, "hdr")}/${heldPlain.total}`,
      ...[promoted, aborted].map(
        (x) =>
          `  ${x.version}, 1.5–4.5 s after: with x-canary ${on(x.testers, "hdr-primary")}/${x.testers.total} on the primary, ${on(x.testers, "hdr")} on the canary`,
      ),
      `  whole run (two releases): without the header ${on(allPlain, "hdr")} of ${allPlain.total} RPCs on the canary, ${allPlain.failed.length} failed; with it ${allTesters.failed.length} of ${allTesters.total} failed`,
    );
    assert.equal(on(heldTesters, "hdr"), heldTesters.total, "every RPC with the header on the canary");
    assert.ok(heldTesters.total > 50, `${heldTesters.total} RPCs`);
    for (const x of [promoted, aborted]) {
      assert.equal(
        on(x.testers, "hdr-primary"),
        x.testers.total,
        `${x.version}: the header reaches the primary`,
      );
      assert.ok(x.testers.total > 50, `${x.version}: ${x.testers.total} RPCs`);
    }
    assert.equal(on(allPlain, "hdr"), 0, "no RPC without the header ever reached the canary at weight 0");
    assert.equal(allPlain.failed.length, 0, failureSummary(allPlain.failed));
    assert.equal(allTesters.failed.length, 0, failureSummary(allTesters.failed));
    await Promise.all([plain.stop(), testers.stop()]);
  });

  // Kept running as a todo until its set-up flake is understood: in 1 of 6 runs (the full e2e run of 2026-12-07,
  // 51 files two at a time) the preview client never got 10 answers a second from the primary within 60 s, before
  // any release started; the cut-over's own assertions held in every run that got that far.
  it("blue/green through the mesh: the preview first, one cut-over by the route, the switch back — failed RPCs counted", {
    todo: "the preview client once never reached the primary before the release (1 in 6 runs)",
  }, async () => {
    const blueGreen = { rollbackWindow: "6s", scaleDownDelay: "6s" };
    await apply(cluster, grpcApp("bg", { blueGreen, replicas: 2 }));
    await waitForRollout(cluster, NS, "bg", "Healthy", (r) => phaseOf(r) === "Healthy", 120_000);
    const root = await client("bg", 100);
    const preview = await client("bg-preview", 20);
    await waitForAnswers(root, "bg-primary", 50);
    await waitForAnswers(preview, "bg-primary", 10);
    const record = () => {
      const from = Date.now();
      return {
        stop: async () => {
          await Promise.all([root.refresh(), preview.refresh()]);
          return grpcSlices(root.between(from), preview.between(from), from);
        },
      };
    };
    const writes = await watchVsWeights(cluster.kubeConfig(), NS, "bg");
    const { t0, summary: s } = await releaseBlueGreen(cluster, NS, "bg", "v2", record);
    const written = await writes.written(100);
    writes.stop();
    const share = (from: number | undefined, to: number | undefined) => {
      const n = s.served(from, to, "bg") + s.served(from, to, "bg-primary");
      return `new ${pct(s.served(from, to, "bg"), n)}, old ${pct(s.served(from, to, "bg-primary"), n)} of ${n}`;
    };
    report.push(
      `  blue/green: ${s.failures} failed of ${s.total} RPCs to the root Service at 100/s (${s.previewFailures} of ${s.previewTotal} to the preview at 20/s)`,
      `  new template → preview serves it ${fmt(s.previewNew && s.previewNew - t0)}; → split written 0/100 ${fmt(written - t0)}; → cut-over at the client ${fmt(s.cutOver && s.cutOver - t0)}; → switch back ${fmt(s.back && s.back - t0)}; versions mixed in ${s.mixed} × 100 ms slices`,
      `  served before the cut-over: ${share(t0, s.cutOver)}; cut over → switch back: ${share(s.allNew, s.back)}; after: ${share(s.allBack, undefined)}`,
    );
    assert.equal(s.failures, 0, "no failed RPC to the root Service during the blue/green release");
    assert.ok(
      s.previewNew !== undefined && s.cutOver !== undefined,
      "the preview and the root served the new version",
    );
    assert.ok(s.previewNew <= s.cutOver, "the preview served the new version no later than any user");
    // `written` is when this test's watch received the write: istiod's push can reach the clients first (a race of
    // two deliveries, ~10 ms seen), so the RPCs before the write are those of the slices ending 500 ms before it.
    assert.equal(
      s.served(t0, written - 500, "bg"),
      0,
      "no user RPC on the new version before the cut-over was written",
    );
    assert.ok(
      s.allNew !== undefined && s.back !== undefined && s.allBack !== undefined,
      "cut over, then back",
    );
    assert.equal(
      s.served(s.allNew, s.back, "bg-primary"),
      0,
      "after the cut-over, all RPCs on the new version",
    );
    assert.equal(
      s.served(s.allBack, undefined, "bg"),
      0,
      "after the switch back, all RPCs on the promoted primary",
    );
    await Promise.all([root.stop(), preview.stop()]);
  });

  it("a mirror at weight 0, then sticky cookies at weight 20, as istiod pushes them to a sidecar: the mirror policy with its percentage, Set-Cookie per destination, cookie matches", async () => {
    const sessionAffinity = { cookieName: "shop-canary", maxAge: "1h" };
    // A mirror runs only while the canary serves no one; the sticky cookies only while it has weight.
    const steps = [
      { setMirror: { name: "shadow", percent: 25 } },
      { pause: {} },
      { setMirror: { name: "shadow" } },
      { setWeight: 20 },
      { pause: {} },
    ];
    await apply(cluster, grpcApp("sticky", { steps, canary: { sessionAffinity } }));
    await waitForRollout(cluster, NS, "sticky", "Healthy", (r) => phaseOf(r) === "Healthy", 120_000);
    const sidecar: AdsClient = await startAdsClient({
      istiod: cluster.istiod!,
      dir: cluster.dir,
      node: { pod: "sleep", namespace: "client" },
    });
    const name = (kind: string, n: string) => `vireo.sticky.${kind}.${n}`;
    const pushed = (what: string, ready: (names: string[]) => boolean) =>
      sidecar.until(
        what,
        (x) => {
          const rs = virtualHostFor(x, "80", fqdn("sticky"))?.routes ?? [];
          return ready(rs.map((r) => r.name ?? "")) ? rs : undefined;
        },
        120_000,
      );
    try {
      await setEnv(cluster, NS, "sticky", "VERSION=v2");
      // The mirror: GET and HEAD to the primary, 25 % of them copied to the canary.
      const atMirror = await pushed("the mirror pushed", (n) => n.includes(name("mirror", "shadow")));
      const mirrors = atMirror.filter((r) => r.name === name("mirror", "shadow"));
      const methods = mirrors.map((r) => headerMatchers(r)[":method"]?.exact).sort();
      assert.deepEqual(methods, ["GET", "HEAD"], JSON.stringify(mirrors));
      for (const r of mirrors) {
        assert.deepEqual(routeTargets(r), { [cluster80("sticky-primary")]: 100 });
        const policies = r.route?.requestMirrorPolicies ?? [];
        assert.deepEqual(
          policies.map((p) => [p.cluster, percentOf(p.runtimeFraction?.defaultValue)]),
          [[cluster80("sticky-canary"), 25]],
          JSON.stringify(r.route),
        );
      }
      report.push(
        `  mirror: ${mirrors.length} routes (${methods.join(", ")}) → primary, requestMirrorPolicies ${JSON.stringify(mirrors[0]?.route?.requestMirrorPolicies)}`,
        `  route order at the mirror: ${atMirror.map((r) => r.name).join(", ")}`,
      );

      await annotate(cluster, NS, "sticky", "vireo.dev/resume", "1");
      const routes = await pushed(
        "the sticky rules pushed, the mirror gone",
        (n) => n.includes(name("sticky", "canary")) && !n.includes(name("mirror", "shadow")),
      );
      type Destination = {
        destination?: { host?: string };
        headers?: { response?: { add?: Record<string, string> } };
      };
      const vs = await readVirtualService(cluster.kubeConfig(), NS, "sticky");
      const http = (vs?.spec?.http ?? []) as { name?: string; route?: Destination[] }[];
      const setCookieOf = (host: string) =>
        http.find((h) => h.name === "sticky")?.route?.find((d) => d.destination?.host === host)?.headers
          ?.response?.add?.["set-cookie"];
      const wanted = { primary: setCookieOf("sticky-primary"), canary: setCookieOf("sticky-canary") };
      assert.ok(wanted.canary && wanted.primary, JSON.stringify(http));

      // The split: each weighted cluster adds its own Set-Cookie to its responses, exactly as Vireo wrote it.
      const split = routes.find((r) => r.name === "sticky");
      const cookieOf = (c: string) =>
        split?.route?.weightedClusters?.clusters
          ?.find((w) => w.name === cluster80(c))
          ?.responseHeadersToAdd?.filter((h) => h.header?.key?.toLowerCase() === "set-cookie")
          .map((h) => h.header?.value);
      assert.deepEqual(routeTargets(split), {
        [cluster80("sticky-primary")]: 80,
        [cluster80("sticky-canary")]: 20,
      });
      assert.deepEqual(cookieOf("sticky-canary"), [wanted.canary], JSON.stringify(split));
      assert.deepEqual(cookieOf("sticky-primary"), [wanted.primary], JSON.stringify(split));

      // The cookie rules: a regular expression on the Cookie header, to one backend each.
      const cookieRule = (n: string) => {
        const r = routes.find((x) => x.name === n);
        const regex = (headerMatchers(r).cookie?.safeRegex as { regex?: string } | undefined)?.regex ?? "";
        return { targets: routeTargets(r), regex };
      };
      const canaryRule = cookieRule(name("sticky", "canary"));
      assert.deepEqual(canaryRule.targets, { [cluster80("sticky-canary")]: 100 });
      assert.deepEqual(cookieRule(name("sticky", "primary")).targets, { [cluster80("sticky-primary")]: 100 });
      const session = wanted.canary.split(";")[0]?.split("=")[1] ?? "";
      assert.match(`a=b; shop-canary=${session}`, new RegExp(canaryRule.regex));
      assert.doesNotMatch("shop-canary=stale", new RegExp(canaryRule.regex));
      report.push(
        `  sticky split (80/20): canary cluster adds Set-Cookie "${cookieOf("sticky-canary")}", primary "${cookieOf("sticky-primary")}"`,
        `  cookie rule → canary: ${JSON.stringify(canaryRule)}`,
        `  route order at weight 20: ${routes.map((r) => r.name).join(", ")}`,
      );
    } finally {
      await sidecar.stop();
    }
  });
});
