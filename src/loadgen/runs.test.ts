// Runs against a real loopback target over node:http: the planned count at the planned rate, one run per
// Idempotency-Key, the cap on runs at once, the cap on requests in flight, status classes, stop; and the HTTP edge.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { AddressPolicy } from "../net/address-policy.ts";
import { Egress } from "../net/egress.ts";
import { startTelemetryServer, type TelemetryServer } from "../telemetry/http-server.ts";
import { httpSender } from "./http-target.ts";
import { LoadgenMetrics } from "./metrics.ts";
import { planRun } from "./plan.ts";
import { LoadRuns } from "./runs.ts";
import { loadgenRoutes } from "./server.ts";

let target: Server;
let port = 0;
const hits: { host: string; path: string; ua: string }[] = [];
/** Path → how the target answers: a status code, or "hang". */
const behaviour: Record<string, number | "hang"> = { "/err": 503, "/slow": "hang" };

const caps = { maxRps: 200, maxDurationMs: 60_000, maxBodyBytes: 4096 };
/** The default policy, loopback refused: the target here is `--via`, the operator's address, which it never checks. */
const egress = new Egress({ policy: new AddressPolicy() });
const policy = () => ({
  namespace: "shop",
  hostTemplate: "{service}.{namespace}.test",
  via: `http://127.0.0.1:${port}`,
});
const plan = (metadata: Record<string, string>) => {
  const r = planRun(
    { name: "r", namespace: "shop", metadata: { service: "web", ...metadata } },
    policy(),
    caps,
  );
  assert.ok(r.ok, JSON.stringify(r));
  return r.plan;
};

before(async () => {
  target = createServer((req, res) => {
    hits.push({ host: req.headers.host ?? "", path: req.url ?? "", ua: req.headers["user-agent"] ?? "" });
    const b = behaviour[req.url ?? ""];
    if (b === "hang") return;
    res.writeHead(b ?? 200).end("ok");
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", () => r()));
  port = (target.address() as AddressInfo).port;
});
after(() => {
  target.closeAllConnections();
  target.close();
});

describe("LoadRuns over a real target", () => {
  it("sends rps × duration requests at the rate, Host naming the target, and reports them", async () => {
    const sender = httpSender({ timeoutMs: 2000, maxSockets: 16, egress });
    const runs = new LoadRuns({ maxRuns: 2, maxInFlight: 16, send: sender.send });
    hits.length = 0;
    const t0 = Date.now();
    const started = runs.start("k1", plan({ rps: "100", duration: "1s", path: "/ok" }));
    assert.equal(started.kind, "started");
    await runs.finished("k1");
    const took = Date.now() - t0;
    const r = runs.get("k1");
    assert.equal(r?.state, "done");
    // Every request due is sent or, when 16 are already in flight (a loaded machine slows the loopback answers),
    // skipped and counted; what was sent is exactly what the target saw.
    assert.equal((r?.sent ?? 0) + (r?.skipped ?? 0), 100);
    assert.ok((r?.sent ?? 0) >= 50, `sent ${r?.sent}`);
    assert.equal(r?.outcomes["2xx"], r?.sent);
    assert.equal(hits.length, r?.sent);
    assert.ok(
      hits.every((h) => h.host === "web.shop.test" && h.path === "/ok" && h.ua.startsWith("vireo-loadgen")),
    );
    // Paced, not a burst: the last request is due at 990 ms.
    assert.ok(took >= 950, `took ${took} ms`);
    assert.ok(
      r && r.achievedRps > 0 && r.achievedRps <= 101,
      `never above the rate: achieved ${r?.achievedRps}`,
    );
    sender.close();
  });

  it("one run per key; a cap on runs at once; a cap on requests in flight; classes; stop", async () => {
    const sender = httpSender({ timeoutMs: 300, maxSockets: 4, egress });
    const runs = new LoadRuns({ maxRuns: 1, maxInFlight: 2, send: sender.send });
    const a = runs.start("a", plan({ rps: "50", duration: "400ms", path: "/slow" }));
    assert.equal(a.kind, "started");
    assert.equal(
      runs.start("a", plan({ rps: "1" })).kind,
      "existing",
      "the same key never starts a second run",
    );
    assert.equal(runs.start("b", plan({ rps: "1" })).kind, "busy");
    await runs.finished("a");
    const r = runs.get("a");
    // The target never answers: 2 in flight time out after 300 ms, the requests due meanwhile are skipped.
    assert.equal((r?.sent ?? 0) + (r?.skipped ?? 0), 20);
    assert.ok((r?.skipped ?? 0) > 0 && (r?.outcomes.timeout ?? 0) === r?.sent, JSON.stringify(r));
    const e = runs.start("e", plan({ rps: "20", duration: "200ms", path: "/err" }));
    assert.equal(e.kind, "started");
    await runs.finished("e");
    // 4 due; with 2 in flight a slow (loaded) machine may skip one, but every one sent is classed 5xx.
    const er = runs.get("e");
    assert.equal((er?.sent ?? 0) + (er?.skipped ?? 0), 4);
    assert.ok((er?.sent ?? 0) >= 1 && er?.outcomes["5xx"] === er?.sent, JSON.stringify(er));
    runs.start("long", plan({ rps: "10", duration: "30s", path: "/ok" }));
    await runs.stop();
    assert.equal(runs.get("long")?.state, "stopped");
    assert.ok((runs.get("long")?.sent ?? 99) < 5);
    assert.equal(runs.start("later", plan({})).kind, "busy", "a stopping generator starts nothing");
    sender.close();
  });
});

describe("the HTTP edge (POST /load, GET /runs/<key>, /metrics)", () => {
  let server: TelemetryServer;
  let runs: LoadRuns;
  const sender = httpSender({ timeoutMs: 1000, maxSockets: 8, egress });
  before(async () => {
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
      routes: loadgenRoutes({
        runs,
        metrics,
        policy: policy(),
        caps,
        targetRefusal: sender.refusal,
        log: () => {},
      }),
    });
  });
  after(async () => {
    await runs.stop();
    sender.close();
    await server.close(100);
  });
  const post = (body: unknown, key?: string) =>
    fetch(`${server.url}/load`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const check = (metadata: Record<string, string>, namespace = "shop") => ({
    name: "r",
    namespace,
    phase: "Progressing",
    checksum: "c",
    metadata,
  });

  it("answers 202 at once with the plan, 200 with the same run on a retry, and the report later", async () => {
    const first = await post(check({ service: "web", rps: "20", duration: "500ms", path: "/ok" }), "key-1");
    assert.equal(first.status, 202);
    const a = (await first.json()) as { planned: { requests: number }; state: string };
    assert.equal(a.planned.requests, 10);
    assert.equal(a.state, "running");
    const again = await post(check({ service: "web", rps: "20", duration: "500ms", path: "/ok" }), "key-1");
    assert.equal(again.status, 200);
    await runs.finished("key-1");
    const report = (await (await fetch(`${server.url}/runs/key-1`)).json()) as {
      sent: number;
      state: string;
    };
    assert.deepEqual([report.state, report.sent], ["done", 10]);
    const listed = (await (await fetch(`${server.url}/runs/`)).json()) as { run: string }[];
    assert.deepEqual(
      listed.map((r) => r.run),
      ["key-1"],
    );
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /vireo_loadgen_runs_total\{outcome="started"\} 1/);
    assert.match(metrics, /vireo_loadgen_runs_total\{outcome="existing"\} 1/);
    assert.match(metrics, /vireo_loadgen_requests_total\{outcome="2xx"\} 10/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it("refuses with a reason the check can show: another namespace, no key, too large, not JSON", async () => {
    const other = await post(check({ service: "web" }, "pay"), "key-2");
    assert.equal(other.status, 403);
    assert.match(
      ((await other.json()) as { vireoMessage: string }).vireoMessage,
      /namespace shop only, not pay/,
    );
    const dotted = await post(check({ service: "web.pay" }), "key-3");
    assert.equal(dotted.status, 403);
    assert.equal((await post(check({ service: "web" }))).status, 400);
    assert.equal((await post("x".repeat(5000), "key-4")).status, 413);
    assert.equal((await post("{", "key-5")).status, 400);
    assert.equal((await fetch(`${server.url}/runs/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/load`)).status, 405);
  });
});
