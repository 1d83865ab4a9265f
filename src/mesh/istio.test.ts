import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MeshError } from "./errors.ts";
import { IstioAdapter } from "./istio.ts";
import {
  assertSplitPortRoutable,
  assertWaypointExpressible,
  WAYPOINT_LABEL,
  waypointOf,
} from "./istio-ambient.ts";
import { analysisVerdict } from "./istio-analysis.ts";
import type { MeshObject } from "./objects.ts";
import { FakeApi } from "./testing/fake-api.ts";
import { anOwner, aPolicy, aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const VS = "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/checkout";
const ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/checkout";
const NS = "/api/v1/namespaces/shop";
const ROOT = "/api/v1/namespaces/shop/services/checkout";

function labelled(api: FakeApi, path: string, kind: string, labels: Record<string, string>): void {
  const name = path.split("/").pop() ?? "";
  api.store(path, {
    apiVersion: "v1",
    kind,
    metadata: { name, ...(kind === "Service" ? { namespace: "shop" } : {}), labels },
  });
}

const adapterOn = (api: FakeApi) => new IstioAdapter({ client: api, httpRouteVersion: "v1" });
const isError = (kind: string, text?: RegExp) => (e: unknown) =>
  e instanceof MeshError && e.kind === kind && (text === undefined || text.test(e.message));

describe("waypointOf", () => {
  it("the Service's label wins over its namespace's; `none` opts out", () => {
    const w = (service?: Record<string, string>, namespace?: Record<string, string>) =>
      waypointOf({ service, namespace });
    assert.equal(w(undefined, undefined), undefined);
    assert.equal(w({}, { [WAYPOINT_LABEL]: "waypoint" }), "waypoint");
    assert.equal(w({ [WAYPOINT_LABEL]: "edge" }, { [WAYPOINT_LABEL]: "waypoint" }), "edge");
    assert.equal(w({ [WAYPOINT_LABEL]: "none" }, { [WAYPOINT_LABEL]: "waypoint" }), undefined);
    assert.equal(w({ [WAYPOINT_LABEL]: "edge" }, undefined), "edge");
    assert.equal(w({}, { [WAYPOINT_LABEL]: "none" }), undefined);
  });

  it("refuses Istio Gateway bindings and extra hosts behind a waypoint, naming the field", () => {
    const split = aSplit({ primary: 90, canary: 10 });
    assertWaypointExpressible({ ...split, gateways: ["mesh"], hosts: ["checkout"] }, "waypoint");
    assert.throws(
      () => assertWaypointExpressible({ ...split, gateways: ["infra/public"] }, "waypoint"),
      isError("Unsupported", /spec\.service\.gateways \(infra\/public\)/),
    );
    assert.throws(
      () => assertWaypointExpressible({ ...split, hosts: ["shop.example.com"] }, "waypoint"),
      isError("Unsupported", /spec\.service\.hosts \(shop\.example\.com\)/),
    );
  });
});

describe("assertSplitPortRoutable", () => {
  const at = { namespace: "shop", rootService: "checkout", port: 80 };
  const root = (...ports: { port: number; name?: string; appProtocol?: string }[]) => ({ labels: {}, ports });

  it("passes a Service not created yet, an HTTP-capable port, and an unnamed one (Istio sniffs it)", () => {
    assertSplitPortRoutable(undefined, at);
    for (const p of [{ name: "http" }, { name: "grpc-web" }, { name: "http2-x" }, {}, { name: "web" }])
      assertSplitPortRoutable(root({ port: 80, ...p }, { port: 9090, name: "tcp-admin" }), at);
    assertSplitPortRoutable(root({ port: 80, name: "tcp", appProtocol: "http" }), at);
  });

  it("refuses a Service without the port, or whose port Istio routes as TCP or TLS", () => {
    assert.throws(
      () => assertSplitPortRoutable(root({ port: 8080, name: "http" }), at),
      isError("Unsupported", /has no port 80 \(its ports: 8080\)/),
    );
    for (const [p, text] of [
      [{ name: "tcp-web" }, /\(name "tcp-web"\) as TCP/],
      [{ name: "https" }, /as HTTPS/],
      [{ name: "web", appProtocol: "TLS" }, /\(appProtocol TLS\) as TLS/],
    ] as const)
      assert.throws(
        () => assertSplitPortRoutable(root({ port: 80, ...p }), at),
        isError("Unsupported", text),
      );
  });
});

describe("analysisVerdict", () => {
  const vs = (messages: unknown, observedGeneration?: number): MeshObject => ({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "checkout", namespace: "shop" },
    status: { validationMessages: messages, ...(observedGeneration ? { observedGeneration } : {}) },
  });

  it("quotes ERROR and WARNING codes with what they mean; INFO, none or junk is no verdict", () => {
    assert.equal(analysisVerdict(vs(undefined)), undefined);
    assert.equal(analysisVerdict(vs("junk")), undefined);
    assert.equal(analysisVerdict(vs([{ type: { code: "IST0131" }, level: "INFO" }])), undefined);
    const v = analysisVerdict(
      vs(
        [
          { type: { code: "IST0109" }, level: "ERROR", documentationUrl: "https://istio.io/ist0109/" },
          { type: { code: "IST0999" }, level: "WARNING" },
        ],
        3,
      ),
    );
    assert.match(v ?? "", /^istiod's analysis of generation 3 of VirtualService shop\/checkout reports /);
    assert.match(v ?? "", /IST0109 \(ERROR\): another VirtualService for the mesh defines the same host/);
    assert.match(v ?? "", /https:\/\/istio\.io\/ist0109\//);
    assert.match(v ?? "", /IST0999 \(WARNING\)$/);
  });

  it("never throws, whatever the status holds", () => {
    fc.assert(
      fc.property(fc.anything(), (status) => {
        analysisVerdict({ apiVersion: "v1", kind: "X", metadata: { name: "x" }, status });
      }),
    );
  });
});

describe("IstioAdapter modes", () => {
  const split = aSplit({ primary: 70, canary: 30 });

  it("sidecars: a VirtualService; no namespace or Service label means no waypoint", async () => {
    const api = new FakeApi();
    const adapter = adapterOn(api);
    assert.deepEqual(await adapter.setRoutes(split), { primary: 70, canary: 30 });
    assert.ok(api.objects.has(VS));
    assert.ok(!api.objects.has(ROUTE));
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 70, canary: 30 });
  });

  it("behind the namespace's waypoint: an HTTPRoute whose parent is the root Service, and never also a VirtualService", async () => {
    const api = new FakeApi();
    await adapterOn(api).setRoutes(aSplit({ primary: 100, canary: 0 }));
    assert.ok(api.objects.has(VS));
    labelled(api, NS, "Namespace", { [WAYPOINT_LABEL]: "waypoint" });
    const adapter = adapterOn(api);
    assert.deepEqual(await adapter.setRoutes(split), { primary: 70, canary: 30 });
    const route = api.objects.get(ROUTE);
    assert.deepEqual((route?.spec as { parentRefs?: unknown[] } | undefined)?.parentRefs, [
      { group: "", kind: "Service", name: "checkout", port: 8080 },
    ]);
    assert.ok(!api.objects.has(VS), "the sidecar-mode VirtualService is gone");
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 70, canary: 30 });

    // The Service opts out: back to a VirtualService, and the HTTPRoute goes.
    labelled(api, ROOT, "Service", { [WAYPOINT_LABEL]: "none" });
    const back = adapterOn(api);
    assert.equal(await back.getRoutes(ref), null, "no VirtualService yet: the split must be written");
    await back.setRoutes(split);
    assert.ok(api.objects.has(VS));
    assert.ok(!api.objects.has(ROUTE));
  });

  it("the waypoint is read once per adapter (one reconcile), the namespace only when the Service has no label", async () => {
    const api = new FakeApi();
    labelled(api, ROOT, "Service", { [WAYPOINT_LABEL]: "edge" });
    const adapter = adapterOn(api);
    await adapter.getRoutes(ref);
    await adapter.setRoutes(split);
    const reads = api.calls.filter((c) => c.path === ROOT || c.path === NS);
    assert.deepEqual(reads, [{ method: "GET", path: ROOT }]);
  });

  it("behind a waypoint without the HTTPRoute CRD, or with Istio Gateways, refuses without writing", async () => {
    const api = new FakeApi();
    labelled(api, NS, "Namespace", { [WAYPOINT_LABEL]: "waypoint" });
    await assert.rejects(
      new IstioAdapter({ client: api }).setRoutes(split),
      isError("Unsupported", /does not serve gateway\.networking\.k8s\.io HTTPRoute/),
    );
    await assert.rejects(
      adapterOn(api).setRoutes({ ...split, gateways: ["infra/public"] }),
      isError("Unsupported", /binds Istio Gateways/),
    );
    assert.deepEqual(api.writes(), []);
  });

  it("behind a waypoint, access policies attach to the Services the role's pods are reached by", async () => {
    const api = new FakeApi();
    labelled(api, NS, "Namespace", { [WAYPOINT_LABEL]: "waypoint" });
    const adapter = adapterOn(api);
    await adapter.applyAccessPolicy({ ...ref, owner: anOwner() }, aPolicy());
    const targets = (role: string) => {
      const ap = api.objects.get(
        `/apis/security.istio.io/v1/namespaces/shop/authorizationpolicies/checkout-${role}`,
      );
      const spec = ap?.spec as { targetRefs?: { name: string }[]; selector?: unknown } | undefined;
      assert.equal(spec?.selector, undefined);
      return spec?.targetRefs?.map((t) => t.name);
    };
    assert.deepEqual(targets("primary"), ["checkout", "checkout-primary"]);
    assert.deepEqual(targets("canary"), ["checkout", "checkout-canary"]);
    assert.equal(await adapter.accessPolicyInSync(ref, aPolicy()), true);
  });

  it("a root Service whose split port Istio routes as TCP: refused before anything is written", async () => {
    const api = new FakeApi();
    api.store(ROOT, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "checkout", namespace: "shop" },
      spec: { ports: [{ port: 8080, name: "tcp-web" }] },
    });
    await assert.rejects(adapterOn(api).setRoutes(split), isError("Unsupported", /as TCP/));
    assert.deepEqual(api.writes(), []);
  });

  it("istiod's analysis on the VirtualService: not routed (getRoutes null) and NotAccepted quoting it", async () => {
    const api = new FakeApi();
    await adapterOn(api).setRoutes(split);
    const live = api.objects.get(VS)!;
    live.status = { validationMessages: [{ type: { code: "IST0109" }, level: "ERROR" }] };
    const adapter = adapterOn(api);
    assert.equal(await adapter.getRoutes(ref), null);
    api.resetCalls();
    await assert.rejects(adapter.setRoutes(split), isError("NotAccepted", /IST0109 \(ERROR\)/));
    assert.deepEqual(api.writes(), [], "the split was already as wanted: nothing rewritten");
    live.status = { validationMessages: [] };
    assert.deepEqual(await adapterOn(api).getRoutes(ref), { primary: 70, canary: 30 });
  });
});
