import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MANAGED_ROUTES_ANNOTATION } from "../api/constants.ts";
import { validateRolloutSpec } from "../api/validate.ts";
import type { ManagedRoutes } from "../rollout/types.ts";
import { gatewayHttpRouteType, parseHttpRouteWeights, renderHttpRoute } from "./gamma-render.ts";
import { GatewayApiAdapter } from "./gateway-api.ts";
import { generatedRouteManagedRoutes } from "./http-route-managed.ts";
import {
  parseVirtualServiceWeights,
  renderVirtualService,
  virtualServiceManagedRoutes,
  virtualServiceType,
} from "./istio-render.ts";
import { LinkerdAdapter } from "./linkerd.ts";
import { cookieCondition } from "./managed-routes.ts";
import { type MeshClient, resourcePath } from "./object-store.ts";
import type { MeshObject } from "./objects.ts";
import { SmiAdapter } from "./smi.ts";
import { FakeApi } from "./testing/fake-api.ts";
import { aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const routeType = gatewayHttpRouteType("v1");
const vsType = virtualServiceType("v1");

const testers: ManagedRoutes = {
  headerRoutes: [
    {
      name: "testers",
      matches: [
        { headers: [{ name: "x-canary", type: "Exact", value: "1" }] },
        { headers: [{ name: "x-user", type: "Prefix", value: "qa-" }] },
        { cookie: { name: "canary", value: "always" } },
      ],
    },
  ],
  mirrors: [],
};
const sticky: ManagedRoutes = {
  headerRoutes: [],
  mirrors: [],
  sticky: {
    mode: "assign",
    cookie: "c",
    primaryCookie: "c-primary",
    session: "abc.1",
    maxAgeSeconds: 60,
    path: "/",
    secure: false,
    httpOnly: true,
  },
};
const mirror: ManagedRoutes = {
  headerRoutes: [],
  mirrors: [{ name: "reads", percent: 20, matches: [{ methods: ["GET", "HEAD"] }] }],
};

const withManaged = (managed: ManagedRoutes, weights = { primary: 80, canary: 20 }) => ({
  ...aSplit(weights),
  managed,
});
type Rules = { name?: string; matches?: unknown[]; filters?: unknown[]; backendRefs: { name: string }[] }[];
const rulesOf = (o: MeshObject) => (o.spec as { rules: Rules }).rules;

describe("managed routes in a generated HTTPRoute (Gateway API)", () => {
  it("a header route is a named rule before the split, to the canary; the split rule keeps the weights", () => {
    const route = renderHttpRoute(withManaged(testers), routeType);
    const rules = rulesOf(route);
    assert.equal(rules.length, 2);
    assert.equal(rules[0]?.name, "vireo.checkout.header.testers");
    assert.deepEqual(
      rules[0]?.backendRefs.map((b) => b.name),
      ["checkout-canary"],
    );
    // One match per condition set, each crossed with the split's PathPrefix "/": the route never widens the split.
    assert.deepEqual(rules[0]?.matches, [
      {
        path: { type: "PathPrefix", value: "/" },
        headers: [{ type: "Exact", name: "x-canary", value: "1" }],
      },
      {
        path: { type: "PathPrefix", value: "/" },
        headers: [{ type: "RegularExpression", name: "x-user", value: "^qa-.*$" }],
      },
      {
        path: { type: "PathPrefix", value: "/" },
        headers: [{ ...cookieCondition("canary", "always") }],
      },
    ]);
    assert.deepEqual(parseHttpRouteWeights(route, ref), { primary: 80, canary: 20 });
    assert.deepEqual(generatedRouteManagedRoutes(route), testers);
  });

  it("reads back none without managed routes, and null once someone edits a managed rule", () => {
    assert.equal(
      generatedRouteManagedRoutes(renderHttpRoute(aSplit({ primary: 100, canary: 0 }), routeType)),
      undefined,
    );
    const route = renderHttpRoute(withManaged(testers), routeType);
    const edited = structuredClone(route);
    rulesOf(edited)[0]!.backendRefs[0]!.name = "checkout-primary";
    assert.equal(generatedRouteManagedRoutes(edited), null);
    const unannotated = structuredClone(route);
    delete unannotated.metadata.annotations?.[MANAGED_ROUTES_ANNOTATION];
    assert.equal(generatedRouteManagedRoutes(unannotated), null);
  });

  it("sticky cookies: a rule per cookie, and each backend of the split sets its own", () => {
    const route = renderHttpRoute(withManaged(sticky), routeType);
    const rules = rulesOf(route);
    assert.deepEqual(
      rules.map((r) => [r.name, r.backendRefs.map((b) => b.name)]),
      [
        ["vireo.checkout.sticky.canary", ["checkout-canary"]],
        ["vireo.checkout.sticky.primary", ["checkout-primary"]],
        [undefined, ["checkout-primary", "checkout-canary"]],
      ],
    );
    const split = rules[2]!.backendRefs as {
      filters?: { responseHeaderModifier: { add: { value: string }[] } }[];
    }[];
    assert.match(
      split[0]?.filters?.[0]?.responseHeaderModifier.add[0]?.value ?? "",
      /^c-primary=abc\.1; Max-Age=60/,
    );
    assert.match(split[1]?.filters?.[0]?.responseHeaderModifier.add[0]?.value ?? "", /^c=abc\.1; Max-Age=60/);
    assert.deepEqual(generatedRouteManagedRoutes(route), sticky);
  });

  it("a mirror copies the selected methods to the canary with its percent; the answer is the primary's", () => {
    const route = renderHttpRoute(withManaged(mirror, { primary: 100, canary: 0 }), routeType);
    const [m] = rulesOf(route);
    assert.equal(m?.name, "vireo.checkout.mirror.reads");
    assert.deepEqual(
      m?.backendRefs.map((b) => b.name),
      ["checkout-primary"],
    );
    assert.deepEqual(m?.filters, [
      {
        type: "RequestMirror",
        requestMirror: {
          backendRef: { group: "", kind: "Service", name: "checkout-canary", port: 8080 },
          percent: 20,
        },
      },
    ]);
    assert.equal(m?.matches?.length, 2, "one match per method");
  });
});

describe("managed routes in a VirtualService (Istio)", () => {
  it("header routes, sticky rules and mirrors come after the keep routes and before the split route; weights and routes read back", () => {
    const all: ManagedRoutes = { headerRoutes: testers.headerRoutes, mirrors: [], sticky: sticky.sticky! };
    const vs = renderVirtualService(withManaged(all), vsType);
    const http = (vs.spec as { http: { name: string; match?: { headers?: Record<string, unknown> }[] }[] })
      .http;
    assert.deepEqual(
      http.map((r) => r.name),
      [
        "checkout-keep-primary",
        "checkout-keep-canary",
        "vireo.checkout.header.testers",
        "vireo.checkout.sticky.canary",
        "vireo.checkout.sticky.primary",
        "checkout",
      ],
    );
    assert.deepEqual(http[2]?.match?.[1]?.headers, { "x-user": { prefix: "qa-" } });
    assert.deepEqual(parseVirtualServiceWeights(vs, ref), { primary: 80, canary: 20 });
    assert.deepEqual(virtualServiceManagedRoutes(vs, ref), all);
    const mirrored = renderVirtualService(withManaged(mirror, { primary: 100, canary: 0 }), vsType);
    const first = (mirrored.spec as { http: Record<string, unknown>[] }).http[2];
    assert.deepEqual(first?.mirrorPercentage, { value: 20 });
    // Without managed routes the keep routes alone are no managed route.
    const plain = renderVirtualService(aSplit({ primary: 80, canary: 20 }), vsType);
    assert.equal(virtualServiceManagedRoutes(plain, ref), undefined);
  });
});

describe("routeSupport: what a provider cannot render is named before the rollout starts", () => {
  const client = {} as MeshClient;
  const parsed = validateRolloutSpec({
    targetRef: { name: "checkout" },
    service: { port: 8080 },
    provider: "linkerd",
    strategy: {
      canary: {
        sessionAffinity: { cookieName: "c" },
        steps: [
          { setHeaderRoute: { name: "testers", matches: [{ headers: [{ name: "x-canary", value: "1" }] }] } },
          { setMirror: { name: "reads", percent: 10 } },
          { pause: {} },
        ],
      },
    },
  });
  assert.ok(parsed.ok);
  const spec = parsed.spec;

  it("Linkerd: header routes yes; mirrors and sticky sessions refused, each with its reason", async () => {
    const issues = await new LinkerdAdapter({ client }).routeSupport(spec, ref);
    assert.equal(issues.length, 2, issues.join("\n"));
    assert.match(issues[0] ?? "", /cannot mirror/);
    assert.match(issues[1] ?? "", /cannot keep sticky sessions/);
  });

  it("SMI refuses all; Gateway API renders all on a generated route and refuses a user-owned one", async () => {
    assert.equal(
      (await new SmiAdapter({ client, splitVersion: "v1alpha4" }).routeSupport(spec, ref)).length,
      1,
    );
    assert.deepEqual(await new GatewayApiAdapter({ client }).routeSupport(spec, ref), []);
  });

  it("Gateway API, user-owned route: header routes and mirrors checked on the live route, sticky sessions refused", async () => {
    const api = new FakeApi();
    api.store(resourcePath(gatewayHttpRouteType("v1"), ref.namespace, "shop"), {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "shop", namespace: ref.namespace },
      spec: {
        rules: [
          {
            name: "app",
            backendRefs: [
              { name: ref.primaryService, port: 8080, weight: 100 },
              { name: ref.canaryService, port: 8080, weight: 0 },
            ],
          },
        ],
      },
    });
    const gateway = new GatewayApiAdapter({ client: api });
    const user = { ...ref, gatewayApi: { httpRoute: { name: "shop", ruleName: "app" } } };
    const issues = await gateway.routeSupport(spec, user as typeof ref);
    assert.equal(issues.length, 1, issues.join("\n"));
    assert.match(issues[0] ?? "", /sticky sessions are not rendered into a user-owned HTTPRoute/);
    const { sessionAffinity: _, ...canary } = spec.strategy.canary ?? {};
    const unsticky = { ...spec, strategy: { canary } } as typeof spec;
    // The route has no Gateway parents (GAMMA): no class to ask, so mirrors are trusted there.
    assert.deepEqual(await gateway.routeSupport(unsticky, user as typeof ref), []);
    const missing = { ...ref, gatewayApi: { httpRoute: { name: "gone" } } };
    assert.deepEqual(
      await gateway.routeSupport(unsticky, missing as typeof ref),
      [],
      "getRoutes names a missing route",
    );
  });
});
