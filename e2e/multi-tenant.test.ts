// Tenants sharing one controller, end to end on the real control plane (issue 18, observations 3, 4 and 6): a
// tenant's webhook URL cannot reach loopback or the controller's own port and learns only an outcome class; a
// custom query cannot read another namespace's series; forged Events never reach the terminal raw nor pass for
// history; a check or template address the operator's allow-lists name is still refused at loopback. The controller
// runs with the production egress policy, opened only for 127.0.0.2 (where its own /metrics and one allowed
// receiver listen), and with --scope-queries.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, setImage, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, metricValue, startController } from "./support/controller-process.ts";
import { runPlugin, serviceAccountKubeconfig } from "./support/plugin.ts";

const NAME = "podinfo";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
/** Text the allowed receiver answers with; it must never reach a tenant. */
const MARKER = "MARKER-internal-service-says";
const ESC = "\x1b";
/** Escape sequences as the issue found them: OSC title and clipboard writes, cursor movement, 8-bit CSI, bidi. */
const HOSTILE = `${ESC}]0;pwned${"\x07"}${ESC}]52;c;ZWNobyBwd25lZA==${ESC}\\${ESC}[2A${ESC}[2K\u009b31m\u202e`;
// biome-ignore lint/suspicious/noControlCharactersInRegex: what must never reach a terminal
const TERMINAL_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

let cluster: Cluster;
let controller: ControllerProcess;

/** An HTTP receiver recording requests; `status` and `body` are its answer. */
async function receiver(host: string, status = 200, body = "ok"): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(status, { "content-type": "text/plain" }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  servers.push(server);
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, hits };
}
const servers: Server[] = [];

const rollout = (ns: string) => waitForRollout(cluster, ns, NAME, "exists", () => true);

async function eventsText(ns: string): Promise<string> {
  const r = await cluster.kubectl(["get", "events", "-n", ns, "-o", "json"]);
  const list = JSON.parse(r.stdout) as { items: { reason?: string; message?: string }[] };
  return list.items.map((e) => `${e.reason}: ${e.message}`).join("\n");
}

/** A Secret the Rollout may name (opted in), holding `url` under key `url`. */
const hookSecret = (ns: string, name: string, url: string) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: ns, labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
  stringData: { url },
});

/** Deploys the app with `extraSpec`, waits for Healthy, and starts a canary (notifications go out). */
async function canary(ns: string, extraSpec: Record<string, unknown>, extra: object[] = []): Promise<void> {
  await apply(
    cluster,
    [appManifests({ namespace: ns, extraSpec }), ...extra.map((x) => JSON.stringify(x))].join("\n---\n"),
  );
  await waitForRollout(cluster, ns, NAME, "Healthy", (r) => r.status?.phase === "Healthy");
  await setImage(cluster, ns, NAME, NEW_IMAGE);
}

describe("one controller, many tenants", () => {
  let metricsPort: number;
  /** A loopback endpoint the operator's check allow-list names, which the egress policy still refuses. */
  let checkTarget: { url: string; hits: string[] };
  /** A loopback "Prometheus" the operator's Prometheus allow-list names, which the egress policy still refuses. */
  let promTarget: { url: string; hits: string[] };
  before(async () => {
    checkTarget = await receiver("127.0.0.1");
    promTarget = await receiver(
      "127.0.0.1",
      200,
      '{"status":"success","data":{"resultType":"vector","result":[]}}',
    );
    cluster = await startCluster();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      // Production policy, except one loopback address: the controller's /metrics and an allowed receiver live
      // there, so a refusal of the former is the own-port rule, not the loopback default.
      egressAllow: ["127.0.0.2/32"],
      metricsHost: "127.0.0.2",
      args: [
        `--prometheus-url=${cluster.prometheusUrl}`,
        "--prometheus-scrape-interval=1s",
        "--metrics-mesh=linkerd",
        "--scope-queries=true",
        `--allowed-check-urls=${checkTarget.url}/`,
        `--allowed-prometheus-urls=${promTarget.url}/`,
      ],
    });
    metricsPort = Number(new URL(controller.metricsUrl).port);
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it("observation 3: webhook URLs at loopback and at the controller's own port receive nothing; the tenant sees only an outcome class", async () => {
    const admin = await receiver("127.0.0.1");
    const allowed = await receiver("127.0.0.2", 418, MARKER);
    const notify = { notifications: { webhook: { secretRef: { name: "hook" } } } };
    const cases = [
      { ns: "egress-admin", url: `${admin.url}/admin/shutdown` },
      { ns: "egress-admin-name", url: `http://localhost:${new URL(admin.url).port}/admin/shutdown` },
      { ns: "egress-self", url: `http://127.0.0.2:${metricsPort}/metrics` },
      { ns: "egress-allowed", url: `${allowed.url}/hook` },
    ];
    const before = metricValue(await controller.metrics(), "vireo_telemetry_requests_total", {
      method: "other",
    });
    await Promise.all(cases.map((c) => canary(c.ns, notify, [hookSecret(c.ns, "hook", c.url)])));
    // Wait until the Started notification is settled, delivered or failed, for each tenant.
    for (const c of cases) {
      await waitFor(
        `${c.ns}: the Started notification settled`,
        () => rollout(c.ns),
        (r) => {
          const box = r.status?.notifications;
          return [...(box?.delivered ?? []), ...(box?.failed ?? [])].some((k) => k.includes("/Started/"));
        },
        90_000,
        500,
      );
    }
    assert.deepEqual(admin.hits, [], "the loopback admin endpoint received no request");
    const after = metricValue(await controller.metrics(), "vireo_telemetry_requests_total", {
      method: "other",
    });
    assert.equal(after - before, 0, "no POST reached the controller's own port");
    assert.ok(
      allowed.hits.length > 0,
      "the allowed receiver got the notifications: the policy refuses only what it must",
    );

    for (const c of cases) {
      const events = await waitFor(
        `${c.ns}: NotificationFailed`,
        () => eventsText(c.ns),
        (t) => /NotificationFailed/.test(t),
        30_000,
        500,
      );
      const status = JSON.stringify((await rollout(c.ns)).status?.notifications ?? {});
      const expected = c.ns === "egress-allowed" ? "webhook: 4xx" : "webhook: refused-by-policy";
      assert.match(
        events,
        new RegExp(`NotificationFailed: .*not delivered: webhook: ${expected.slice(9)}`),
        events,
      );
      for (const leak of [MARKER, "418", "405", "HTTP", "ECONNREFUSED", "127.0.0.1", "loopback"]) {
        assert.ok(!events.includes(leak), `${c.ns}: Events leak ${leak}: ${events}`);
        assert.ok(!status.includes(leak), `${c.ns}: status leaks ${leak}: ${status}`);
      }
    }
  });

  it("a check webhook at loopback, on the check allow-list but refused by the egress policy, receives 0 requests", async () => {
    const ns = "egress-check";
    await canary(ns, {
      checks: [{ name: "smoke", webhook: { url: `${checkTarget.url}/smoke` } }],
      hooks: { preRollout: ["smoke"] },
    });
    const r = await waitFor(
      `${ns}: the smoke check failed`,
      () => rollout(ns),
      (x) => (x.status?.checks ?? []).some((c) => c.name === "smoke" && c.phase === "Failed"),
      90_000,
      500,
    );
    const run = (r.status?.checks ?? []).find((c) => c.name === "smoke");
    assert.match(run?.message ?? "", /refused-by-policy/, JSON.stringify(run));
    assert.ok((r.status?.canaryWeight ?? 0) === 0, "the canary got no traffic");
    assert.deepEqual(checkTarget.hits, [], "the loopback endpoint received no request");
  });

  it("a template's Prometheus address at loopback, on the Prometheus allow-list but refused by the egress policy, receives 0 requests", async () => {
    const ns = "egress-template";
    const template = {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "AnalysisTemplate",
      metadata: { name: "remote", namespace: ns },
      spec: {
        prometheus: { address: promTarget.url },
        metrics: [{ name: "remote-up", query: "sum(up)", thresholdRange: { min: 0 } }],
      },
    };
    await canary(ns, { analysis: { interval: "5s", templates: [{ name: "remote" }] } }, [template]);
    const r = await waitFor(
      `${ns}: a tick refused by the egress policy`,
      () => rollout(ns),
      (x) => (x.status?.analysis?.history ?? []).some((m) => /refused-by-policy/.test(m.message ?? "")),
      90_000,
      500,
    );
    assert.ok(
      (r.status?.analysis?.history ?? []).every((m) => m.verdict !== "Pass"),
      `no tick passes on an address never asked: ${JSON.stringify(r.status?.analysis?.history)}`,
    );
    assert.deepEqual(promTarget.hits, [], "the loopback endpoint received no request");
  });

  it("observation 4: a query aimed at another namespace stores none of its values", async () => {
    // One exporter with both tenants' series, as a shared Prometheus holds them.
    const exporter = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(
        '# TYPE tenant_secret_value gauge\ntenant_secret_value{namespace="victim"} 4242\ntenant_secret_value{namespace="attacker"} 7\n',
      );
    });
    await new Promise<void>((r) => exporter.listen(0, "127.0.0.1", () => r()));
    servers.push(exporter);
    await cluster.addScrapeTarget(`http://127.0.0.1:${(exporter.address() as AddressInfo).port}/metrics`, {
      job: "tenants",
    });
    const analysis = (query: string) => ({
      analysis: {
        interval: "3s",
        consecutiveErrorLimit: 100,
        metrics: [{ name: "peek", query, thresholdRange: { min: 0 } }],
      },
    });
    // Without a namespace matcher: confined to the Rollout's own namespace.
    await canary("attacker", analysis("max(tenant_secret_value)"));
    const measured = await waitFor(
      "attacker: two measurements with a value",
      () => rollout("attacker"),
      (r) => (r.status?.analysis?.history ?? []).filter((m) => m.value !== undefined).length >= 2,
      90_000,
      500,
    );
    const values = (measured.status?.analysis?.history ?? []).map((m) => m.value);
    assert.ok(!values.includes(4242), `the victim's value was stored: ${values}`);
    assert.ok(values.includes(7), `its own series was measured: ${values}`);

    // Naming the victim's namespace: refused with a condition before any query is sent.
    const ns = "attacker-named";
    await apply(
      cluster,
      appManifests({
        namespace: ns,
        extraSpec: analysis('sum(tenant_secret_value{namespace="victim"}) + sum({__name__=~".+"})'),
      }),
    );
    const refused = await waitForRollout(cluster, ns, NAME, "Invalid", (r) => r.status?.phase === "Invalid");
    const stalled = refused.status?.conditions?.find((c) => c.type === "Stalled");
    assert.match(
      stalled?.message ?? "",
      /spec\.analysis\.metrics\[0\]\.query: selector tenant_secret_value\{namespace="victim"\} has its own namespace matcher namespace="victim"; queries are limited to namespace="attacker-named"/,
    );
    assert.deepEqual(refused.status?.analysis?.history ?? [], []);
  });

  it("observation 6: forged Events are neither printed raw nor shown as history", async () => {
    const ns = "forged";
    await canary(ns, {});
    await waitForRollout(cluster, ns, NAME, "the rollout's start recorded", (r) =>
      (r.status?.milestones ?? []).some((m) => m.reason === "RolloutStarted"),
    );
    // A ServiceAccount that may only create Events.
    const forger = await eventWriter(ns);
    const forged = ["PromotedByUser", "RolledBack"].map((reason, i) => ({
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `forged-${i}`, namespace: ns },
      involvedObject: { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: NAME, namespace: ns },
      reason,
      message: `FORGED-${reason} by oncall ${HOSTILE}`,
      type: "Normal",
      source: { component: "vireo" },
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      count: 1,
    }));
    const created = await cluster.kubectl(["--kubeconfig", forger, "create", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "List", items: forged }),
    });
    assert.equal(created.code, 0, created.stderr);

    const admin = cluster.kubeconfigPath;
    const history = await runPlugin(admin, ["history", NAME, "-n", ns]);
    assert.equal(history.code, 0, history.stderr);
    assert.doesNotMatch(history.stdout, TERMINAL_CONTROLS, "history printed a control character");
    assert.ok(!history.stdout.includes("FORGED"), `a forged Event passed for history:\n${history.stdout}`);
    assert.match(history.stdout, /RolloutStarted/, "the controller's own milestones are the history");

    for (const args of [["get", NAME], ["get", NAME, "-o", "yaml"], ["get", NAME, "-o", "json"], ["list"]]) {
      const r = await runPlugin(admin, [...args, "-n", ns]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, TERMINAL_CONTROLS, `${args.join(" ")} printed a control character`);
    }
    const get = await runPlugin(admin, ["get", NAME, "-n", ns]);
    const eventsAt = get.stdout.indexOf("Events: (as reported;");
    assert.ok(eventsAt > 0, get.stdout);
    assert.ok(
      get.stdout.indexOf("FORGED") > eventsAt,
      "forged text appears only among Events, marked as such",
    );
  });
});

/** A ServiceAccount in `namespace` that may only create Events there, and a kubeconfig for it. */
async function eventWriter(namespace: string): Promise<string> {
  const name = "event-writer";
  const objects = [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace },
      rules: [
        { apiGroups: [""], resources: ["events"], verbs: ["create"] },
        { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
  return serviceAccountKubeconfig(cluster, namespace, name, objects);
}
