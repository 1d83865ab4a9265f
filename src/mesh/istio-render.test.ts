import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MeshError } from "./errors.ts";
import {
  authorizationPolicyType,
  istioPathOf,
  parseVirtualServiceWeights,
  renderAuthorizationPolicy,
  renderVirtualService,
  virtualServiceType,
} from "./istio-render.ts";
import type { MeshObject } from "./objects.ts";
import { aPolicy, aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const vsType = virtualServiceType("v1");
const apType = authorizationPolicyType("v1");

const keep = (role: string, extra: Record<string, unknown> = {}) => ({
  name: `checkout-keep-${role}`,
  match: [{ headers: { "x-vireo-backend": { exact: role } }, ...extra }],
  route: [{ destination: { host: `checkout-${role}`, port: { number: 8080 } } }],
});

describe("renderVirtualService", () => {
  it("host-level weighted destinations, mesh gateway, root host first; both backends kept named by header routes", () => {
    const vs = renderVirtualService(aSplit({ primary: 80, canary: 20 }), vsType);
    assert.equal(vs.apiVersion, "networking.istio.io/v1");
    assert.deepEqual(vs.spec, {
      hosts: ["checkout"],
      gateways: ["mesh"],
      http: [
        keep("primary"),
        keep("canary"),
        {
          name: "checkout",
          route: [
            { destination: { host: "checkout-primary", port: { number: 8080 } }, weight: 80 },
            { destination: { host: "checkout-canary", port: { number: 8080 } }, weight: 20 },
          ],
        },
      ],
    });
  });

  it("extra hosts and gateways are de-duplicated and sorted; mesh and the root host are kept once", () => {
    const split = {
      ...aSplit({ primary: 100, canary: 0 }),
      hosts: ["shop.example.com", "checkout", "api.example.com", "shop.example.com"],
      gateways: ["istio-system/public", "mesh", "edge/gw", "edge/gw"],
    };
    const spec = renderVirtualService(split, vsType).spec as { hosts: string[]; gateways: string[] };
    assert.deepEqual(spec.hosts, ["checkout", "api.example.com", "shop.example.com"]);
    assert.deepEqual(spec.gateways, ["mesh", "edge/gw", "istio-system/public"]);
  });

  it("a multi-port Service: the split matches the rollout port, other ports go to primary on their own port", () => {
    const split = { ...aSplit({ primary: 70, canary: 30 }), otherPorts: [9090] };
    const vs = renderVirtualService(split, vsType);
    assert.deepEqual((vs.spec as { http: unknown[] }).http, [
      keep("primary", { port: 8080 }),
      keep("canary", { port: 8080 }),
      {
        name: "checkout",
        match: [{ port: 8080 }],
        route: [
          { destination: { host: "checkout-primary", port: { number: 8080 } }, weight: 70 },
          { destination: { host: "checkout-canary", port: { number: 8080 } }, weight: 30 },
        ],
      },
      { name: "checkout-other-ports", route: [{ destination: { host: "checkout-primary" } }] },
    ]);
    assert.deepEqual(parseVirtualServiceWeights(vs, ref), { primary: 70, canary: 30 });
  });

  it("a multi-port Service behind gateways: gateway traffic is split whatever its port", () => {
    const split = { ...aSplit({ primary: 50, canary: 50 }), otherPorts: [9090], gateways: ["edge/gw"] };
    const http = (renderVirtualService(split, vsType).spec as { http: { match?: unknown }[] }).http;
    assert.deepEqual(http[2]?.match, [{ port: 8080, gateways: ["mesh"] }, { gateways: ["edge/gw"] }]);
    // The keep routes never apply to gateway traffic: outside callers do not pick a backend.
    assert.deepEqual(http[0], keep("primary", { port: 8080, gateways: ["mesh"] }));
  });

  it("otherPorts naming only the rollout port changes nothing", () => {
    const plain = renderVirtualService(aSplit({ primary: 80, canary: 20 }), vsType);
    const same = renderVirtualService({ ...aSplit({ primary: 80, canary: 20 }), otherPorts: [] }, vsType);
    assert.deepEqual(same, plain);
  });

  it("render then parse gives back the weights (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), (canary) => {
        const weights = { primary: 100 - canary, canary };
        assert.deepEqual(
          parseVirtualServiceWeights(renderVirtualService(aSplit(weights), vsType), ref),
          weights,
        );
      }),
    );
  });
});

describe("parseVirtualServiceWeights", () => {
  it("reads the route named after the Rollout, wherever it is; else the first", () => {
    const rendered = renderVirtualService(aSplit({ primary: 60, canary: 40 }), vsType);
    assert.deepEqual(parseVirtualServiceWeights(rendered, ref), { primary: 60, canary: 40 });
    const older: MeshObject = {
      ...rendered,
      spec: { http: (rendered.spec as { http: unknown[] }).http.slice(2) },
    };
    assert.deepEqual(parseVirtualServiceWeights(older, ref), { primary: 60, canary: 40 });
  });

  const vs = (route: unknown[]): MeshObject => ({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "checkout" },
    spec: { hosts: ["checkout"], http: [{ route }] },
  });
  const dest = (host: string, weight?: number) => ({
    destination: { host },
    ...(weight === undefined ? {} : { weight }),
  });

  it("accepts qualified host names in our namespace and ignores other namespaces", () => {
    assert.deepEqual(
      parseVirtualServiceWeights(
        vs([dest("checkout-primary.shop.svc.cluster.local", 30), dest("checkout-canary.shop", 70)]),
        ref,
      ),
      { primary: 30, canary: 70 },
    );
    assert.deepEqual(
      parseVirtualServiceWeights(vs([dest("checkout-primary", 50), dest("checkout-canary.other", 50)]), ref),
      { primary: 100, canary: 0 },
    );
  });

  it("a lone destination without weight gets everything; otherwise a missing weight is 0", () => {
    assert.deepEqual(parseVirtualServiceWeights(vs([dest("checkout-canary")]), ref), {
      primary: 0,
      canary: 100,
    });
    assert.deepEqual(
      parseVirtualServiceWeights(vs([dest("checkout-canary"), dest("checkout-primary", 5)]), ref),
      {
        primary: 100,
        canary: 0,
      },
    );
  });

  it("null when nothing is routed to our backends or the weights are not numbers", () => {
    assert.equal(parseVirtualServiceWeights(vs([dest("elsewhere", 100)]), ref), null);
    assert.equal(
      parseVirtualServiceWeights(
        vs([{ destination: { host: "checkout-primary" }, weight: "50" }, dest("x", 1)]),
        ref,
      ),
      null,
    );
    assert.equal(parseVirtualServiceWeights({ ...vs([]), spec: {} }, ref), null);
  });
});

describe("istioPathOf", () => {
  const table: [string, string | undefined][] = [
    [".*", undefined],
    ["^.*", undefined],
    ["/api/.*", "/api/*"],
    ["^/api/.*", "/api/*"],
    ["/api", "/api*"], // SMI regexes are anchored at the start only: a prefix
    ["/healthz$", "/healthz"],
    ["^/v1\\.2/items$", "/v1.2/items"],
    ["/a\\-b/.*", "/a-b/*"],
    ["/price\\$$", "/price$"],
  ];
  for (const [re, want] of table)
    it(`${re} → ${want ?? "(any path)"}`, () => assert.equal(istioPathOf(re), want));

  for (const re of ["/items/[0-9]+", "/a|/b", "/v\\d/x", "/(a)", "/a?", "/x.*/y", "/a\\*b"]) {
    it(`refuses ${re}`, () =>
      assert.throws(
        () => istioPathOf(re),
        (e: unknown) => e instanceof MeshError && e.kind === "Unsupported",
      ));
  }
});

describe("renderAuthorizationPolicy", () => {
  it("ALLOW for the given pods: principals per source, one operation per route", () => {
    const ap = renderAuthorizationPolicy(
      aPolicy({
        sources: [
          { serviceAccount: "frontend", namespace: "web" },
          { serviceAccount: "*", namespace: "ops" },
        ],
        routes: [{ pathRegex: "/api/.*", methods: ["post", "GET"] }, { pathRegex: "/healthz$" }],
      }),
      "primary",
      { pods: { app: "checkout-primary" } },
      apType,
      { trustDomain: "example.org" },
    );
    assert.equal(ap.metadata.name, "checkout-primary");
    assert.deepEqual(ap.spec, {
      selector: { matchLabels: { app: "checkout-primary" } },
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: ["example.org/ns/ops/sa/*", "example.org/ns/web/sa/frontend"] } }],
          to: [
            { operation: { paths: ["/api/*"], methods: ["GET", "POST"] } },
            { operation: { paths: ["/healthz"] } },
          ],
        },
      ],
    });
  });

  it("behind a waypoint: attached to Services (targetRefs), no pod selector", () => {
    const ap = renderAuthorizationPolicy(
      aPolicy({ routes: undefined }),
      "canary",
      { services: ["checkout", "checkout-canary"] },
      apType,
    );
    assert.deepEqual(ap.spec, {
      targetRefs: [
        { group: "", kind: "Service", name: "checkout" },
        { group: "", kind: "Service", name: "checkout-canary" },
      ],
      action: "ALLOW",
      rules: [{ from: [{ source: { principals: ["cluster.local/ns/web/sa/frontend"] } }] }],
    });
  });

  it("omits `to` when any route allows every request (no routes, or a catch-all among them)", () => {
    for (const routes of [undefined, [{ pathRegex: "/a" }, { methods: ["*"] }]]) {
      const spec = renderAuthorizationPolicy(
        aPolicy({ routes }),
        "canary",
        { pods: { app: "checkout" } },
        apType,
      ).spec as {
        rules: Record<string, unknown>[];
      };
      assert.deepEqual(Object.keys(spec.rules[0] ?? {}), ["from"]);
    }
  });

  it("refuses a route regex Istio cannot express", () => {
    assert.throws(
      () =>
        renderAuthorizationPolicy(
          aPolicy({ routes: [{ pathRegex: "/items/[0-9]+" }] }),
          "primary",
          { pods: { a: "b" } },
          apType,
        ),
      MeshError,
    );
  });
});
