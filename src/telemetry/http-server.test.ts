import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startTelemetryServer } from "./http-server.ts";
import { VireoMetrics } from "./metrics.ts";

describe("telemetry http server", () => {
  it("serves /metrics, /healthz and /readyz, and closes gracefully", async () => {
    const metrics = new VireoMetrics({ defaultMetrics: false });
    metrics.recordKubeRequest("get");
    let synced = false;
    let watchdog: string | true = true;
    const server = await startTelemetryServer({
      port: 0,
      host: "127.0.0.1",
      registry: metrics.registry,
      healthChecks: [{ name: "informers-watchdog", check: () => watchdog }],
      readyChecks: [{ name: "informers-synced", check: async () => synced }],
    });
    try {
      const m = await fetch(`${server.url}/metrics`);
      assert.equal(m.status, 200);
      assert.match(m.headers.get("content-type") ?? "", /text\/plain/);
      assert.match(await m.text(), /vireo_kube_requests_total\{verb="get"\} 1/);

      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      const notReady = await fetch(`${server.url}/readyz`);
      assert.equal(notReady.status, 500);
      assert.match(await notReady.text(), /\[-\]informers-synced failed/);
      synced = true;
      const ready = await fetch(`${server.url}/readyz?verbose`);
      assert.equal(ready.status, 200);
      assert.match(await ready.text(), /\[\+\]informers-synced ok/);

      watchdog = "configmaps watch silent for 600s";
      const unhealthy = await fetch(`${server.url}/healthz`);
      assert.equal(unhealthy.status, 500);
      assert.match(await unhealthy.text(), /configmaps watch silent/);

      server.markShuttingDown();
      assert.equal((await fetch(`${server.url}/readyz`)).status, 500);
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    } finally {
      await server.close(1000);
    }
    await assert.rejects(fetch(`${server.url}/healthz`));
  });

  it("reports every answered request, so a probe of the controller's port shows", async () => {
    const answered: string[] = [];
    const server = await startTelemetryServer({
      port: 0,
      host: "127.0.0.1",
      registry: new VireoMetrics({ defaultMetrics: false }).registry,
      onAnswered: (method, status) => answered.push(`${method} ${status}`),
    });
    try {
      await (await fetch(`${server.url}/healthz`)).text();
      await (await fetch(`${server.url}/metrics`, { method: "POST", body: "{}" })).text();
      assert.deepEqual(answered, ["GET 200", "POST 405"]);
    } finally {
      await server.close(1000);
    }
  });
});
