import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { createKubeClients } from "./clients.ts";
import { KubeApiError } from "./errors.ts";

/** Loopback fake API server recording method, URL and content type. */
describe("createKubeClients (loopback fake API server)", () => {
  let server: Server;
  let kc: KubeConfig;
  const seen: Array<{
    method: string;
    url: string;
    contentType: string | undefined;
    authorization: string | undefined;
  }> = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"],
        authorization: req.headers.authorization,
      });
      req.resume();
      req.on("end", () => {
        if (req.url?.includes("/throttled")) {
          // API Priority and Fairness rejects with a plain-text body and only the header to go by.
          res.writeHead(429, { "content-type": "text/plain", "retry-after": "1" });
          res.end("Too many requests, please try again later.");
          return;
        }
        if (req.url?.includes("/secrets")) {
          res.writeHead(403, { "content-type": "application/json" });
          res.end(JSON.stringify({ kind: "Status", code: 403, reason: "Forbidden", message: "no" }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "ConfigMapList", apiVersion: "v1", metadata: {}, items: [] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "c",
          server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: "u", token: "t0ken" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it("counts requests by verb, with a client-node KubeConfig or a plain connection", async () => {
    const verbs: string[] = [];
    const clients = createKubeClients(kc, { qps: Number.POSITIVE_INFINITY, onRequest: (v) => verbs.push(v) });
    await clients.request({ path: "/api/v1/namespaces/a/configmaps" });
    await clients.request({ path: "/api/v1/namespaces/a/configmaps", query: { labelSelector: "x=y" } });
    await clients.request({ path: "/api/v1/namespaces/a/configmaps/x" });
    await clients.request({
      method: "PATCH",
      path: "/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/r/status",
      body: { status: {} },
      contentType: "application/merge-patch+json",
    });
    const counts = clients.requestCounts();
    assert.equal(counts.list, 2);
    assert.equal(counts.get, 1);
    assert.equal(counts.patch, 1, "per-call options do not bypass the counting pipeline");
    assert.deepEqual(verbs, ["list", "list", "get", "patch"]);
    const patch = seen.at(-1);
    assert.equal(patch?.url, "/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/r/status");
    assert.equal(patch?.contentType, "application/merge-patch+json");
    assert.equal(seen.at(-1)?.authorization, "Bearer t0ken");
    clients.resetRequestCounts();
    assert.equal(clients.requestCounts().list, 0);
  });

  it("enforces the client-side QPS/burst limit", async () => {
    const clients = createKubeClients(kc, { qps: 20, burst: 2 });
    const start = Date.now();
    await Promise.all(
      Array.from({ length: 6 }, () => clients.request({ path: "/api/v1/namespaces/a/configmaps" })),
    );
    const elapsed = Date.now() - start;
    // 2 immediately, then 4 more at 20/s ⇒ ≥ 200 ms.
    assert.ok(elapsed >= 190, `6 requests at qps 20 / burst 2 took only ${elapsed} ms`);
  });

  it("raw requests throw classified errors that name the resource", async () => {
    const clients = createKubeClients(kc);
    await assert.rejects(
      clients.request({ path: "/api/v1/namespaces/kube-system/secrets" }),
      (e: unknown) => {
        assert.ok(e instanceof KubeApiError);
        assert.equal(e.kind, "Forbidden");
        assert.match(e.message, /forbidden to list secrets in namespace kube-system/);
        return true;
      },
    );
  });

  it("a 429's Retry-After holds back every later request but Lease renewals, and is reported", async () => {
    const hints: number[] = [];
    const clients = createKubeClients(kc, {
      qps: Number.POSITIVE_INFINITY,
      onRetryAfter: (s) => hints.push(s),
    });
    const arrived = () => seen.length;
    await assert.rejects(clients.request({ path: "/api/v1/namespaces/a/throttled" }), (e: unknown) => {
      assert.ok(e instanceof KubeApiError);
      assert.equal(e.kind, "TooManyRequests");
      assert.equal(e.retryAfterSeconds, 1);
      return true;
    });
    assert.deepEqual(hints, [1]);
    const rejectedAt = Date.now();
    const before = arrived();
    const lease = clients.request({ path: "/apis/coordination.k8s.io/v1/namespaces/a/leases/l" });
    const other = clients.request({ path: "/api/v1/namespaces/a/configmaps" });
    await lease;
    const leaseAfter = Date.now() - rejectedAt;
    assert.equal(arrived(), before + 1, "only the Lease request went out during the back-off");
    await other;
    const otherAfter = Date.now() - rejectedAt;
    assert.ok(leaseAfter < 500, `the Lease renewal waited ${leaseAfter} ms`);
    assert.ok(otherAfter >= 950, `a request went out ${otherAfter} ms after a Retry-After: 1`);
  });

  it("reports each answer's Date header with the local send and receive times", async () => {
    const dates: Array<[string, number, number]> = [];
    const clients = createKubeClients(kc, {
      qps: Number.POSITIVE_INFINITY,
      onServerDate: (d, sent, received) => dates.push([d, sent, received]),
    });
    const t0 = Date.now();
    await clients.request({ path: "/api/v1/namespaces/a/configmaps" });
    assert.equal(dates.length, 1);
    const [date, sent, received] = dates[0] as [string, number, number];
    assert.ok(Math.abs(Date.parse(date) - t0) < 2000, date);
    assert.ok(t0 <= sent && sent <= received && received <= Date.now());
  });
});
