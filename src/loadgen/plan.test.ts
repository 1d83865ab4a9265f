// The load generator's planner: what it plans from a check's payload (rate, count, target), and every refusal rule
// (another namespace, an address, a host in a path or header, a value over a cap), with generated payloads.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type LoadCaps, planRun, requestCount, sendOffsetMs, type TargetPolicy } from "./plan.ts";

const policy: TargetPolicy = { namespace: "shop", hostTemplate: "{service}.{namespace}.svc.cluster.local" };
const caps: LoadCaps = { maxRps: 100, maxDurationMs: 600_000, maxBodyBytes: 1024 };
const call = (metadata: Record<string, string>, namespace = "shop") => ({
  name: "checkout",
  namespace,
  phase: "Progressing",
  checksum: "abc",
  metadata,
  point: "step",
  check: "load",
});
const refusal = (metadata: Record<string, string>, namespace = "shop") => {
  const r = planRun(call(metadata, namespace), policy, caps);
  assert.equal(r.ok, false, JSON.stringify(r));
  return (r as { refusal: { status: number; message: string } }).refusal;
};

describe("planRun", () => {
  it("plans rps × duration requests to the Service of its own namespace", () => {
    const r = planRun(
      call({ service: "checkout", port: "8080", rps: "20", duration: "30s", path: "/api?x=1" }),
      policy,
      caps,
    );
    assert.ok(r.ok);
    assert.equal(r.plan.requests, 600);
    assert.equal(r.plan.url, "http://checkout.shop.svc.cluster.local:8080/api?x=1");
    assert.equal(r.plan.host, "checkout.shop.svc.cluster.local:8080");
    assert.equal(r.plan.method, "GET");
  });

  it("with --via connects there and names the target in Host only", () => {
    const r = planRun(call({ service: "checkout" }), { ...policy, via: "http://gw.infra:8000/" }, caps);
    assert.ok(r.ok);
    assert.equal(r.plan.url, "http://gw.infra:8000/");
    assert.equal(r.plan.host, "checkout.shop.svc.cluster.local");
    assert.equal(r.plan.requests, 600, "defaults: 10 rps for 60 s");
  });

  it("refuses a Rollout of another namespace, a target in another namespace, addresses and external hosts", () => {
    assert.match(
      refusal({ service: "checkout" }, "pay").message,
      /serves Rollouts of namespace shop only, not pay/,
    );
    assert.equal(refusal({ service: "checkout", namespace: "pay" }).status, 403);
    for (const service of ["checkout.pay", "checkout.pay.svc.cluster.local", "example.com", "a:80", "u@h"]) {
      const r = refusal({ service });
      assert.equal(r.status, 403, service);
      assert.match(r.message, /another namespace or an external host is refused/);
    }
    for (const service of ["10.0.0.1", "127.0.0.1", "::1", "[fd00::1]"]) {
      assert.match(refusal({ service }).message, /is an IP address/, service);
    }
    for (const path of ["http://evil.example/", "//evil.example/x", "https:x"])
      assert.equal(refusal({ service: "checkout", path }).status, 403, path);
    assert.equal(refusal({ service: "checkout", headers: '{"host":"pay.pay.svc"}' }).status, 403);
  });

  it("refuses values over the caps and values that are not values", () => {
    assert.match(
      refusal({ service: "c", rps: "101" }).message,
      /rps 101 is over this load generator's cap of 100/,
    );
    assert.match(refusal({ service: "c", duration: "11m" }).message, /cap of 600s/);
    assert.match(
      refusal({ service: "c", method: "POST", body: "x".repeat(1025) }).message,
      /cap of 1024 bytes/,
    );
    const bads: Record<string, string>[] = [
      { rps: "0" },
      { rps: "fast" },
      { duration: "0s" },
      { duration: "soon" },
      { port: "0" },
      { port: "70000" },
      { method: "CONNECT" },
      { path: "no-slash" },
      { path: "/a b" },
      { headers: "[1]" },
      { headers: '{"Connection":"close"}' },
      { headers: '{"X-A":"\\n"}' },
      { body: "x" },
      { rsp: "10" },
    ];
    for (const bad of bads) {
      const r = refusal({ service: "checkout", ...bad });
      assert.equal(r.status, 422, JSON.stringify(bad));
    }
    assert.equal(refusal({}).status, 422);
    assert.equal(planRun({ nope: 1 }, policy, caps).ok, false);
  });

  it("property: every accepted plan stays inside the caps, in its own namespace, at the asked rate", () => {
    fc.assert(
      fc.property(
        fc.record({
          service: fc.oneof(
            fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/),
            fc.constantFrom("a.b", "1.2.3.4", "x:1", "EXT", "::1", ""),
          ),
          rps: fc.oneof(fc.double({ min: -5, max: 300, noNaN: true }).map(String), fc.constant("x")),
          duration: fc.oneof(
            fc.integer({ min: 0, max: 1200 }).map((s) => `${s}s`),
            fc.constant("1h"),
          ),
          namespace: fc.constantFrom("shop", "pay"),
          target: fc.option(fc.constantFrom("shop", "pay", "kube-system"), { nil: undefined }),
        }),
        (m) => {
          const metadata: Record<string, string> = { service: m.service, rps: m.rps, duration: m.duration };
          if (m.target !== undefined) metadata.namespace = m.target;
          const r = planRun(call(metadata, m.namespace), policy, caps);
          if (!r.ok) {
            assert.ok(r.refusal.message.length > 0 && r.refusal.status >= 400 && r.refusal.status < 500);
            return;
          }
          assert.equal(m.namespace, "shop");
          assert.ok(m.target === undefined || m.target === "shop");
          assert.ok(r.plan.rps > 0 && r.plan.rps <= caps.maxRps);
          assert.ok(r.plan.durationMs > 0 && r.plan.durationMs <= caps.maxDurationMs);
          assert.ok(r.plan.requests >= 1 && r.plan.requests <= (caps.maxRps * caps.maxDurationMs) / 1000);
          assert.ok(r.plan.host.startsWith(`${m.service}.shop.svc.cluster.local`));
          assert.equal(new URL(r.plan.url).hostname, `${m.service}.shop.svc.cluster.local`);
        },
      ),
    );
  });

  it("property: requests are spread evenly, never faster than the rate, all within the duration", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 100, noNaN: true }),
        fc.integer({ min: 1, max: 120_000 }),
        (rps, ms) => {
          const n = requestCount(rps, ms);
          assert.ok(n >= 1);
          assert.ok(n <= Math.max(1, (rps * ms) / 1000));
          for (const i of [0, 1, Math.floor(n / 2), n - 1].filter((i) => i > 0 && i < n)) {
            assert.ok(sendOffsetMs(i, rps) - sendOffsetMs(i - 1, rps) >= Math.floor(1000 / rps));
          }
          assert.ok(sendOffsetMs(n - 1, rps) <= Math.max(0, ms));
        },
      ),
    );
  });
});
