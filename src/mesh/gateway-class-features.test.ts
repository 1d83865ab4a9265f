// Mirrors on Gateway parents: written only where every Gateway's class lists the mirror features in its status.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateRolloutSpec } from "../api/validate.ts";
import { GatewayApiAdapter } from "./gateway-api.ts";
import { GATEWAY_FEATURES, mirrorFeatures, supportedFeatureNames } from "./gateway-class-features.ts";
import type { MeshObject } from "./objects.ts";
import { FakeApi } from "./testing/fake-api.ts";
import { aSplit, aSplitRef } from "./testing/models.ts";

const GATEWAYS = "/apis/gateway.networking.k8s.io/v1";

/** A Gateway `web` in `infra` of class `cls`, whose status lists `features` (undefined: no list at all). */
function cluster(features: unknown[] | undefined): FakeApi {
  const api = new FakeApi();
  const meta = (name: string, namespace?: string) => ({ name, ...(namespace ? { namespace } : {}) });
  api.objects.set(`${GATEWAYS}/namespaces/infra/gateways/web`, {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: meta("web", "infra"),
    spec: { gatewayClassName: "cls" },
  } as MeshObject);
  api.objects.set(`${GATEWAYS}/gatewayclasses/cls`, {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GatewayClass",
    metadata: meta("cls"),
    spec: { controllerName: "example.test/gateway" },
    ...(features ? { status: { supportedFeatures: features } } : {}),
  } as unknown as MeshObject);
  return api;
}

function specWith(steps: unknown[]) {
  const v = validateRolloutSpec({
    targetRef: { name: "checkout" },
    service: { port: 8080 },
    provider: "gateway-api",
    gatewayApi: { parentRefs: [{ name: "web", namespace: "infra" }], hostnames: ["shop.example.test"] },
    strategy: { canary: { steps } },
  });
  assert.ok(v.ok);
  return v.spec;
}

const ref = {
  ...aSplitRef(),
  gatewayApi: { parentRefs: [{ name: "web", namespace: "infra" }], hostnames: ["shop.example.test"] },
} as ReturnType<typeof aSplitRef>;
const mirror20 = specWith([{ setMirror: { name: "reads", percent: 20 } }, { pause: {} }]);
const mirror100 = specWith([{ setMirror: { name: "reads", percent: 100 } }, { pause: {} }]);
const headerOnly = specWith([
  { setHeaderRoute: { name: "qa", matches: [{ headers: [{ name: "x-qa", value: "1" }] }] } },
  { pause: {} },
]);

describe("Gateway features for managed routes", () => {
  it("reads feature names as objects (v1.2+) and as strings; none when the class publishes no list", () => {
    assert.deepEqual(
      supportedFeatureNames({ status: { supportedFeatures: [{ name: "A" }, "B", { other: 1 }] } }),
      new Set(["A", "B"]),
    );
    assert.equal(supportedFeatureNames({ status: {} }), undefined);
    assert.deepEqual(mirrorFeatures([]), []);
    assert.deepEqual(mirrorFeatures([100]), [GATEWAY_FEATURES.requestMirror]);
    assert.deepEqual(mirrorFeatures([100, 20]), [
      GATEWAY_FEATURES.requestMirror,
      GATEWAY_FEATURES.percentageMirror,
    ]);
  });

  it("refuses a mirror where the class does not list the features (Traefik v3.6's list), naming what is missing", async () => {
    const traefikLike = [
      { name: "HTTPRouteMethodMatching" },
      { name: "HTTPRouteResponseHeaderModification" },
    ];
    const issues = await new GatewayApiAdapter({ client: cluster(traefikLike) }).routeSupport(mirror20, ref);
    assert.equal(issues.length, 1, issues.join("\n"));
    assert.match(
      issues[0]!,
      /GatewayClass cls \(Gateway infra\/web\) does not list HTTPRouteRequestMirror and HTTPRouteRequestPercentageMirror/,
    );
  });

  it("refuses a mirror when the class publishes no features or the Gateway is missing: unknown is unsupported", async () => {
    const none = await new GatewayApiAdapter({ client: cluster(undefined) }).routeSupport(mirror100, ref);
    assert.match(none[0] ?? "", /publishes no status.supportedFeatures/);
    const missing = await new GatewayApiAdapter({ client: new FakeApi() }).routeSupport(mirror100, ref);
    assert.match(missing[0] ?? "", /Gateway infra\/web not found/);
  });

  it("accepts a mirror the class lists (a percentage only with the percentage feature), and header routes anywhere", async () => {
    const full = [{ name: GATEWAY_FEATURES.requestMirror }, { name: GATEWAY_FEATURES.percentageMirror }];
    assert.deepEqual(await new GatewayApiAdapter({ client: cluster(full) }).routeSupport(mirror20, ref), []);
    const whole = [{ name: GATEWAY_FEATURES.requestMirror }];
    assert.deepEqual(
      await new GatewayApiAdapter({ client: cluster(whole) }).routeSupport(mirror100, ref),
      [],
    );
    assert.match(
      (await new GatewayApiAdapter({ client: cluster(whole) }).routeSupport(mirror20, ref))[0] ?? "",
      /does not list HTTPRouteRequestPercentageMirror/,
    );
    assert.deepEqual(await new GatewayApiAdapter({ client: cluster([]) }).routeSupport(headerOnly, ref), []);
  });
});

describe("sticky sessions as Gateway API sessionPersistence (GEP-1619)", () => {
  const sticky = {
    headerRoutes: [],
    mirrors: [],
    sticky: {
      mode: "assign" as const,
      cookie: "vireo-canary",
      primaryCookie: "vireo-canary-primary",
      session: "rev2.1",
      maxAgeSeconds: 86_400,
      path: "/",
      secure: false,
      httpOnly: true,
    },
  };
  const route = `${GATEWAYS}/namespaces/shop/httproutes/checkout`;
  const rulesOf = (api: FakeApi) =>
    (api.objects.get(route)?.spec as { rules?: Record<string, unknown>[] } | undefined)?.rules ?? [];

  it("where every Gateway's class lists it (with permanent cookies): the split rule's sessionPersistence, no cookie rules; read back as written", async () => {
    const api = cluster([
      { name: GATEWAY_FEATURES.sessionPersistence },
      { name: GATEWAY_FEATURES.sessionPersistencePermanent },
    ]);
    const adapter = new GatewayApiAdapter({ client: api });
    await adapter.setRoutes({ ...aSplit({ primary: 80, canary: 20 }, ref), managed: sticky });
    const rules = rulesOf(api);
    assert.equal(rules.length, 1, "only the split rule");
    assert.deepEqual(rules[0]?.sessionPersistence, {
      sessionName: "vireo-canary",
      type: "Cookie",
      absoluteTimeout: "24h",
      cookieConfig: { lifetimeType: "Permanent" },
    });
    const backends = rules[0]?.backendRefs as { filters?: unknown }[];
    assert.ok(
      backends.every((b) => b.filters === undefined),
      "no Set-Cookie filters of Vireo's own",
    );
    const live = api.objects.get(route)!;
    api.objects.set(route, { ...live, status: accepted(live) } as MeshObject);
    assert.deepEqual((await adapter.getRoutes(ref))?.managed, sticky);
  });

  it("otherwise (no list, only part of it): today's cookie rules", async () => {
    for (const features of [undefined, [{ name: GATEWAY_FEATURES.sessionPersistence }]]) {
      const api = cluster(features);
      await new GatewayApiAdapter({ client: api }).setRoutes({
        ...aSplit({ primary: 80, canary: 20 }, ref),
        managed: sticky,
      });
      const rules = rulesOf(api);
      assert.deepEqual(
        rules.map((r) => r.name),
        ["vireo.checkout.sticky.canary", "vireo.checkout.sticky.primary", undefined],
      );
      assert.equal(rules.at(-1)?.sessionPersistence, undefined);
    }
  });
});

/** status.parents accepting the route on the test Gateway. */
function accepted(live: MeshObject) {
  return {
    parents: [
      {
        parentRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "web", namespace: "infra" },
        controllerName: "example.test/gateway",
        conditions: [
          { type: "Accepted", status: "True" },
          { type: "ResolvedRefs", status: "True" },
        ],
      },
    ],
    ...((live as { status?: object }).status ?? {}),
  };
}
