// The dashboard server on a real loopback port: Host, Origin and CSRF guards, the user's credentials passed
// through, the API server's Forbidden shown as is, and SSE from a watch.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createKubeClient } from "../kube-client.ts";
import { type FakeApi, startFakeApi, status } from "../testing/fake-api.ts";
import { type Dashboard, startDashboard } from "./server.ts";

let api: FakeApi;
let dash: Dashboard;

/** A raw HTTP request (fetch would not let us forge Host or omit Origin). */
function call(
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: dash.port, path, method: opts.method ?? "GET", headers: opts.headers },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const origin = () => `http://127.0.0.1:${dash.port}`;

describe("dashboard server", () => {
  before(async () => {
    api = await startFakeApi((req, res) => {
      if (req.method === "PATCH" && req.url.includes("/rollouts/locked"))
        return status(
          403,
          "Forbidden",
          'User "viewer" cannot patch resource "rollouts" in API group "vireo.dev"',
        );
      if (req.url.includes("watch=true")) {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write(
          `${JSON.stringify({ type: "MODIFIED", object: { metadata: { name: "podinfo", resourceVersion: "7" }, status: { canaryWeight: 30 } } })}\n`,
        );
        return undefined;
      }
      if (
        req.method === "GET" &&
        req.url.startsWith("/apis/vireo.dev/v1alpha1/namespaces/shop/rollouts/waiting")
      )
        return {
          status: 200,
          body: {
            metadata: { name: "waiting", namespace: "shop" },
            status: {
              checks: [
                {
                  name: "gate",
                  point: "prePromotion",
                  kind: "approval",
                  phase: "Pending",
                  attempt: 1,
                  startedAt: "2026-12-07T10:00:00Z",
                },
              ],
            },
          },
        };
      if (req.method === "GET" && req.url.startsWith("/apis/vireo.dev/v1alpha1/rollouts"))
        return { status: 200, body: { items: [], metadata: { resourceVersion: "5" } } };
      return { status: 200, body: { metadata: { name: "podinfo" } } };
    });
    const dir = mkdtempSync(join(tmpdir(), "vireo-dash-"));
    writeFileSync(join(dir, "index.html"), '<meta name="csrf-token" content="__CSRF_TOKEN__">');
    dash = await startDashboard({
      kube: createKubeClient({
        contextName: "test",
        connection: {
          server: api.url,
          authenticate: (o) => {
            o.headers = { ...o.headers, Authorization: "Bearer user-token" };
          },
        },
      }),
      staticDir: dir,
      port: 0,
    });
  });
  after(async () => {
    await dash.close();
    await api.close();
  });

  it("listens on loopback only and prints a 127.0.0.1 URL", () => {
    assert.equal(dash.url, `http://127.0.0.1:${dash.port}/`);
  });

  it("the page carries the CSRF token and strict security headers", async () => {
    const r = await call("/", { headers: { Host: `127.0.0.1:${dash.port}` } });
    assert.equal(r.status, 200);
    assert.ok(r.body.includes(dash.csrfToken));
    assert.match(String(r.headers["content-security-policy"]), /script-src 'self'/);
    assert.match(String(r.headers["content-security-policy"]), /frame-ancestors 'none'/);
  });

  it("refuses a foreign Host (DNS rebinding) before touching the API", async () => {
    const before = api.seen.length;
    const r = await call("/api/rollouts", { headers: { Host: `evil.example:${dash.port}` } });
    assert.equal(r.status, 421);
    assert.equal(api.seen.length, before);
  });

  it("reads go to the API server with the user's own token", async () => {
    const r = await call("/api/rollouts", { headers: { Host: `localhost:${dash.port}` } });
    assert.equal(r.status, 200);
    assert.equal(api.seen.at(-1)?.headers.authorization, "Bearer user-token");
  });

  it("writes need the same Origin and the CSRF token", async () => {
    const before = api.seen.length;
    const post = (headers: Record<string, string>) =>
      call("/api/rollouts/shop/podinfo/promote", {
        method: "POST",
        headers: { Host: `127.0.0.1:${dash.port}`, ...headers },
      });
    const noOrigin = await post({ "X-CSRF-Token": dash.csrfToken });
    assert.equal(noOrigin.status, 403);
    assert.match(noOrigin.body, /missing Origin/);
    const foreign = await post({ Origin: "http://evil.example", "X-CSRF-Token": dash.csrfToken });
    assert.equal(foreign.status, 403);
    assert.match(foreign.body, /origin http:\/\/evil\.example not allowed/);
    const noToken = await post({ Origin: origin() });
    assert.equal(noToken.status, 403);
    assert.match(noToken.body, /CSRF token/);
    const wrongToken = await post({ Origin: origin(), "X-CSRF-Token": "0".repeat(64) });
    assert.equal(wrongToken.status, 403);
    assert.equal(api.seen.length, before, "no refused write reached the API server");

    const ok = await post({ Origin: origin(), "X-CSRF-Token": dash.csrfToken });
    assert.equal(ok.status, 200, ok.body);
    const patch = api.seen.at(-1);
    assert.equal(patch?.method, "PATCH");
    assert.equal(patch?.headers.authorization, "Bearer user-token");
    const value = JSON.parse(ok.body).value as string;
    assert.deepEqual(JSON.parse(patch?.body ?? ""), {
      metadata: { annotations: { "vireo.dev/promote": value } },
    });
  });

  it("the API server's Forbidden comes back to the page as is", async () => {
    const r = await call("/api/rollouts/shop/locked/abort", {
      method: "POST",
      headers: { Host: `127.0.0.1:${dash.port}`, Origin: origin(), "X-CSRF-Token": dash.csrfToken },
    });
    assert.equal(r.status, 403);
    const body = JSON.parse(r.body);
    assert.equal(body.reason, "Forbidden");
    assert.match(body.error, /forbidden: you may not patch rollouts\.vireo\.dev "locked"/);
    assert.match(body.serverMessage, /cannot patch resource "rollouts"/);
  });

  it("approve writes the plugin's request (vireo.dev/approve=<check>/<token>) with the user's credentials, behind the same guards", async () => {
    const headers = { Host: `127.0.0.1:${dash.port}`, Origin: origin(), "X-CSRF-Token": dash.csrfToken };
    const before = api.seen.length;
    const forged = await call("/api/rollouts/shop/podinfo/approve/gate", {
      method: "POST",
      headers: { Host: headers.Host, Origin: "http://evil.example", "X-CSRF-Token": dash.csrfToken },
    });
    assert.equal(forged.status, 403);
    const noToken = await call("/api/rollouts/shop/podinfo/approve/gate", {
      method: "POST",
      headers: { Host: headers.Host, Origin: origin() },
    });
    assert.equal(noToken.status, 403);
    assert.equal(api.seen.length, before, "no refused approval reached the API server");

    const ok = await call("/api/rollouts/shop/podinfo/approve/gate", { method: "POST", headers });
    assert.equal(ok.status, 200, ok.body);
    const { annotation, value } = JSON.parse(ok.body) as { annotation: string; value: string };
    assert.equal(annotation, "vireo.dev/approve");
    // The plugin's value: `<check>/<token>` (requestValue, shared with `kubectl vireo approve`).
    assert.match(value, /^gate\/\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const patch = api.seen.at(-1);
    assert.equal(patch?.method, "PATCH");
    assert.equal(patch?.headers.authorization, "Bearer user-token");
    assert.match(patch?.url ?? "", /\/namespaces\/shop\/rollouts\/podinfo\?fieldManager=kubectl-vireo/);
    assert.deepEqual(JSON.parse(patch?.body ?? ""), {
      metadata: { annotations: { "vireo.dev/approve": value } },
    });
  });

  it("approve without a check name approves the one approval that waits, as the plugin does, or says none waits", async () => {
    const headers = { Host: `127.0.0.1:${dash.port}`, Origin: origin(), "X-CSRF-Token": dash.csrfToken };
    const ok = await call("/api/rollouts/shop/waiting/approve", { method: "POST", headers });
    assert.equal(ok.status, 200, ok.body);
    assert.match(JSON.parse(ok.body).value, /^gate\//);
    const before = api.seen.length;
    const none = await call("/api/rollouts/shop/podinfo/approve", { method: "POST", headers });
    assert.equal(none.status, 409, none.body);
    assert.match(JSON.parse(none.body).error, /no approval check of .*podinfo waits/);
    assert.equal(api.seen.filter((r, i) => i >= before && r.method === "PATCH").length, 0, "nothing written");
  });

  it("unknown actions and bad names are rejected", async () => {
    const h = { Host: `127.0.0.1:${dash.port}`, Origin: origin(), "X-CSRF-Token": dash.csrfToken };
    assert.equal(
      (await call("/api/rollouts/shop/podinfo/delete", { method: "POST", headers: h })).status,
      404,
    );
    assert.equal((await call("/api/rollouts/shop/..%2Fx/abort", { method: "POST", headers: h })).status, 400);
    assert.equal(
      (await call("/api/rollouts/shop/podinfo/abort/gate", { method: "POST", headers: h })).status,
      404,
    );
    assert.equal(
      (await call("/api/rollouts/shop/podinfo/approve/Bad_Name", { method: "POST", headers: h })).status,
      400,
    );
  });

  it("streams watch events as server-sent events", async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: dash.port,
          path: "/api/stream/shop/podinfo",
          headers: { Host: `127.0.0.1:${dash.port}` },
        },
        (res) => {
          assert.equal(res.headers["content-type"], "text/event-stream");
          let body = "";
          res.on("data", (c) => {
            body += c;
            if (body.includes("\n\n")) {
              req.destroy();
              resolve(body);
            }
          });
        },
      );
      req.on("error", (e) => (e.message.includes("aborted") ? undefined : reject(e)));
      req.end();
    });
    assert.match(text, /^event: (rollout|event)\ndata: \{"type":"MODIFIED"/);
    assert.ok(
      api.seen.some(
        (s) => s.url.includes("watch=true") && s.url.includes("fieldSelector=metadata.name%3Dpodinfo"),
      ),
    );
  });
});
