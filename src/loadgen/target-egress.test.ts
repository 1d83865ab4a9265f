// The load generator's egress: a target Service whose name resolves to loopback, link-local (cloud metadata) or the
// API server is refused before a run starts, with the reason the check shows and a metric, and a name that resolves
// there only later (DNS rebinding) stops its run at connect time; nothing reaches the receiver. `--via` is not checked.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { AddressPolicy } from "../net/address-policy.ts";
import { Egress } from "../net/egress.ts";
import type { Resolver } from "../net/guarded-agents.ts";
import { controllerEndpoints } from "../net/own-endpoints.ts";
import { startTelemetryServer, type TelemetryServer } from "../telemetry/http-server.ts";
import { httpSender } from "./http-target.ts";
import { LoadgenMetrics } from "./metrics.ts";
import { type LoadPlan, planRun } from "./plan.ts";
import { LoadRuns } from "./runs.ts";
import { loadgenRoutes } from "./server.ts";

/** The API server as a pod sees it (KUBERNETES_SERVICE_HOST/PORT). */
const API_SERVER = "https://10.96.0.1:443";
/** The only loopback address the operator opened (`--egress-allow`): where the legitimate Service "answers". */
const ALLOWED = "127.0.0.2";

/** A loopback HTTP server counting the requests it got. */
class Receiver {
  hits = 0;
  #server: Server | undefined;
  port = 0;
  async up(host: string, port = 0, closeEach = false): Promise<void> {
    this.#server = createServer((_req, res) => {
      this.hits++;
      res.writeHead(200, closeEach ? { connection: "close" } : {}).end("ok");
    });
    await new Promise<void>((r) => this.#server!.listen(port, host, () => r()));
    this.port = (this.#server.address() as AddressInfo).port;
  }
  down(): void {
    this.#server?.closeAllConnections();
    this.#server?.close();
  }
}

/** Cluster DNS as the tenant made it: each Service name's answer (an ExternalName's, a headless Service's). */
const answers: Record<string, string[]> = {
  "web.shop.svc.cluster.local": [ALLOWED],
  "lo.shop.svc.cluster.local": ["127.0.0.1"],
  "lo6.shop.svc.cluster.local": ["::1"],
  "mapped.shop.svc.cluster.local": ["::ffff:127.0.0.1"],
  "metadata.shop.svc.cluster.local": ["169.254.169.254"],
  "api.shop.svc.cluster.local": ["10.96.0.1"],
  "split.shop.svc.cluster.local": [ALLOWED, "127.0.0.1"],
};
const lookups: string[] = [];
const resolver: Resolver = async (host) => {
  lookups.push(host);
  const list = answers[host];
  if (!list) throw Object.assign(new Error(`${host}: not found`), { code: "ENOTFOUND" });
  return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
};

const caps = { maxRps: 200, maxDurationMs: 60_000, maxBodyBytes: 4096 };
const policy = { namespace: "shop", hostTemplate: "{service}.{namespace}.svc.cluster.local" };

/** The load generator's egress as main.ts builds it, with the API server above and the test's DNS. */
async function loadgenEgress(): Promise<Egress> {
  const endpoints = await controllerEndpoints(API_SERVER, [8080], resolver, "the load generator");
  return new Egress({
    policy: new AddressPolicy({
      allow: [`${ALLOWED}/32`],
      denyHosts: endpoints.apiServerHosts,
      protectedEndpoints: endpoints.protectedEndpoints,
    }),
    resolver,
  });
}

const planFor = (metadata: Record<string, string>, via?: string): LoadPlan => {
  const r = planRun({ name: "r", namespace: "shop", metadata }, { ...policy, ...(via ? { via } : {}) }, caps);
  assert.ok(r.ok, JSON.stringify(r));
  return r.plan;
};

describe("the load generator's egress policy (POST /load)", () => {
  const web = new Receiver();
  const lo = new Receiver();
  let server: TelemetryServer;
  let runs: LoadRuns;
  let sender: ReturnType<typeof httpSender>;
  before(async () => {
    // Both on one port: the two differ only in the address a Service's name resolves to.
    await web.up(ALLOWED);
    await lo.up("127.0.0.1", web.port);
    sender = httpSender({ timeoutMs: 2000, maxSockets: 8, egress: await loadgenEgress() });
    const metrics = new LoadgenMetrics(() => runs.active());
    runs = new LoadRuns({
      maxRuns: 4,
      maxInFlight: 8,
      send: sender.send,
      onOutcome: (o) => metrics.request(o),
    });
    server = await startTelemetryServer({
      port: 0,
      host: "127.0.0.1",
      registry: metrics.registry,
      routes: loadgenRoutes({ runs, metrics, policy, caps, targetRefusal: sender.refusal, log: () => {} }),
    });
  });
  after(async () => {
    await runs.stop();
    sender.close();
    await server.close(100);
    web.down();
    lo.down();
  });
  const post = (service: string, key: string, port = web.port) =>
    fetch(`${server.url}/load`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({
        name: "r",
        namespace: "shop",
        metadata: { service, port: String(port), rps: "20", duration: "300ms" },
      }),
    });

  it("loads a Service whose address the policy admits (the control: the same port, another address)", async () => {
    const answer = await post("web", "ok-1");
    assert.equal(answer.status, 202, await answer.text());
    await runs.finished("ok-1");
    assert.deepEqual([runs.get("ok-1")?.state, runs.get("ok-1")?.sent, web.hits], ["done", 6, 6]);
  });

  it("refuses a Service resolving to loopback, ::1, mapped loopback, metadata or the API server: 403, 0 requests", async () => {
    const cases: [service: string, port: number, reason: RegExp][] = [
      ["lo", web.port, /^egress policy refuses service lo: 127\.0\.0\.1 is loopback$/],
      ["lo6", web.port, /: 0:0:0:0:0:0:0:1 is loopback$/],
      ["mapped", web.port, /is loopback$/],
      ["metadata", 80, /: 169\.254\.169\.254 is link-local \(cloud instance metadata\)$/],
      ["api", 443, /: 10\.96\.0\.1:443 is the Kubernetes API server$/],
      ["api", 8080, /: 10\.96\.0\.1 is the Kubernetes API server's address$/],
      ["split", web.port, /127\.0\.0\.1 is loopback/],
    ];
    for (const [i, [service, port, reason]] of cases.entries()) {
      const answer = await post(service, `refused-${i}`, port);
      assert.equal(answer.status, 403, service);
      const message = ((await answer.json()) as { vireoMessage: string }).vireoMessage;
      assert.match(message, reason, service);
      assert.ok(message.length <= 120, `fits the check's status: ${message}`);
    }
    assert.equal(lo.hits, 0, "the loopback receiver got nothing");
    assert.equal(runs.list().filter((r) => r.run.startsWith("refused-")).length, 0, "no run started");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`vireo_loadgen_targets_refused_total\\{at="start"\\} ${cases.length}`));
    assert.match(metrics, /vireo_loadgen_targets_refused_total\{at="connect"\} 0/);
  });
});

describe("the load generator's egress at connect time", () => {
  it("a name rebound to loopback after the check started stops its run: never sent, and says why", async () => {
    const web = new Receiver();
    const lo = new Receiver();
    // Every answer closes its connection, so each request resolves the name again.
    await web.up(ALLOWED, 0, true);
    await lo.up("127.0.0.1", web.port, true);
    const egress = await loadgenEgress();
    const sender = httpSender({ timeoutMs: 2000, maxSockets: 1, egress });
    const refused: string[] = [];
    const runs = new LoadRuns({
      maxRuns: 1,
      maxInFlight: 1,
      send: sender.send,
      onRefused: (_key, reason) => refused.push(reason),
    });
    try {
      answers["rebind.shop.svc.cluster.local"] = [ALLOWED];
      const plan = planFor({ service: "rebind", port: String(web.port), rps: "20", duration: "2s" });
      assert.equal(await sender.refusal(plan), undefined, "admitted when the check called");
      runs.start("k", plan);
      for (let i = 0; web.hits < 3 && i < 200; i++) await new Promise((r) => setTimeout(r, 10));
      answers["rebind.shop.svc.cluster.local"] = ["127.0.0.1"];
      await runs.finished("k");
      const report = runs.get("k");
      assert.equal(report?.state, "refused", JSON.stringify(report));
      assert.match(report?.refusal ?? "", /rebind\.shop\.svc\.cluster\.local: 127\.0\.0\.1 is loopback/);
      assert.deepEqual(refused, [report?.refusal], "reported once");
      assert.equal(lo.hits, 0, "nothing reached loopback");
      assert.equal(report?.sent, web.hits, "sent counts what was answered, not what was refused");
      assert.ok((report?.sent ?? 0) >= 3 && (report?.sent ?? 40) < 40, `stopped early: ${report?.sent}`);
    } finally {
      delete answers["rebind.shop.svc.cluster.local"];
      await runs.stop();
      sender.close();
      web.down();
      lo.down();
    }
  });

  it("`--via` is the operator's address: connected to without the policy (loopback refused by default)", async () => {
    const gateway = new Receiver();
    await gateway.up("127.0.0.1");
    const sender = httpSender({ timeoutMs: 2000, maxSockets: 2, egress: await loadgenEgress() });
    try {
      const plan = planFor(
        { service: "lo", rps: "10", duration: "100ms" },
        `http://127.0.0.1:${gateway.port}`,
      );
      assert.equal(plan.trust, "operator");
      assert.equal(await sender.refusal(plan), undefined);
      lookups.length = 0;
      assert.equal(await sender.send(plan, new AbortController().signal), "2xx");
      assert.equal(gateway.hits, 1);
      assert.deepEqual(lookups, [], "the target's name is only the Host header: never resolved");
    } finally {
      sender.close();
      gateway.down();
    }
  });
});
