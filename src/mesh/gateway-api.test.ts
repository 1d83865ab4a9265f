// Tests of the Gateway API adapter: GAMMA and Gateway-parent routes, user-owned routes, and status.parents.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { MANAGED_ROUTES_ANNOTATION } from "../api/constants.ts";
import type { GatewayApiSpec } from "../api/gateway-route-schema.ts";
import { validateRolloutSpec } from "../api/validate.ts";
import type { RawRequest } from "../kube/clients.ts";
import { MeshError } from "./errors.ts";
import { gatewayHttpRouteType } from "./gamma-render.ts";
import { GatewayApiAdapter } from "./gateway-api.ts";
import { gatewayParents, parentsVerdict, renderGatewayHttpRoute } from "./gateway-api-render.ts";
import {
  reweightedRules,
  ruleIndexOf,
  userRouteApplyBody,
  userRouteWeights,
} from "./gateway-api-user-route.ts";
import { resourcePath } from "./object-store.ts";
import type { MeshObject } from "./objects.ts";
import { FakeApi } from "./testing/fake-api.ts";
import { aSplit, aSplitRef } from "./testing/models.ts";

const routeType = gatewayHttpRouteType("v1");
const ingress: GatewayApiSpec = {
  parentRefs: [{ name: "public", namespace: "infra", sectionName: "web" }],
  hostnames: ["shop.example.com"],
  matches: [{ path: { type: "PathPrefix", value: "/checkout" } }],
};
const ref = { ...aSplitRef(), gatewayApi: ingress };

const accepted = (sectionName = "web", extra: object[] = []) => ({
  parents: [
    {
      parentRef: {
        group: "gateway.networking.k8s.io",
        kind: "Gateway",
        name: "public",
        namespace: "infra",
        sectionName,
      },
      controllerName: "traefik.io/gateway-controller",
      conditions: [{ type: "Accepted", status: "True", reason: "Accepted" }, ...extra],
    },
  ],
});

describe("Gateway-parent HTTPRoute", () => {
  it("renders Gateway parents, hostnames, path matches and weighted backends, defaults explicit", () => {
    const route = renderGatewayHttpRoute(aSplit({ primary: 70, canary: 30 }, ref), ingress, routeType);
    assert.deepEqual(route.spec, {
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "public",
          namespace: "infra",
          sectionName: "web",
        },
      ],
      hostnames: ["shop.example.com"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/checkout" } }],
          backendRefs: [
            { group: "", kind: "Service", name: "checkout-primary", port: 8080, weight: 70 },
            { group: "", kind: "Service", name: "checkout-canary", port: 8080, weight: 30 },
          ],
        },
      ],
    });
    assert.deepEqual(route.metadata.labels?.["vireo.dev/rollout"], "checkout");
  });

  it("matches everything under / when no path is given", () => {
    const route = renderGatewayHttpRoute(
      aSplit({ primary: 100, canary: 0 }, ref),
      { parentRefs: [{ name: "gw" }] },
      routeType,
    );
    const spec = route.spec as { rules: { matches: unknown }[]; hostnames?: unknown };
    assert.deepEqual(spec.rules[0]?.matches, [{ path: { type: "PathPrefix", value: "/" } }]);
    assert.equal(spec.hostnames, undefined);
    assert.deepEqual(gatewayParents({ parentRefs: [{ name: "gw", port: 8000 }] }), [
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw", port: 8000 },
    ]);
  });
});

describe("status.parents verdict", () => {
  const parents = gatewayParents(ingress);
  const route = (status: unknown): MeshObject => ({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "checkout", namespace: "shop" },
    spec: {},
    status,
  });

  it("accepted when the parent's controller says Accepted=True", () => {
    assert.deepEqual(parentsVerdict(route(accepted()), parents), { state: "accepted" });
  });

  it("pending without an entry, or with an entry for another listener only", () => {
    assert.equal(parentsVerdict(route(undefined), parents).state, "pending");
    assert.equal(parentsVerdict(route(accepted("admin")), parents).state, "pending");
  });

  it("rejected on Accepted=False, quoting the Gateway's reason and message", () => {
    const status = {
      parents: [
        {
          parentRef: { name: "public", namespace: "infra", sectionName: "web" },
          controllerName: "traefik.io/gateway-controller",
          conditions: [
            { type: "Accepted", status: "False", reason: "NoMatchingParent", message: "no listener web" },
          ],
        },
      ],
    };
    const v = parentsVerdict(route(status), parents);
    assert.equal(v.state, "rejected");
    assert.ok(v.state === "rejected" && v.reason === "NoMatchingParent");
    assert.match(
      v.state === "rejected" ? v.message : "",
      /Gateway infra\/public listener web \(traefik\.io\/gateway-controller\): Accepted=False NoMatchingParent: no listener web/,
    );
  });

  it("rejected on ResolvedRefs=False even when accepted", () => {
    const v = parentsVerdict(
      route(accepted("web", [{ type: "ResolvedRefs", status: "False", reason: "BackendNotFound" }])),
      parents,
    );
    assert.equal(v.state === "rejected" && v.reason, "BackendNotFound");
  });

  it("a parentRef without namespace means the route's own namespace", () => {
    const own = gatewayParents({ parentRefs: [{ name: "public", sectionName: "web" }] });
    const status = {
      parents: [
        {
          parentRef: { name: "public", namespace: "shop", sectionName: "web" },
          conditions: [{ type: "Accepted", status: "True" }],
        },
      ],
    };
    assert.equal(parentsVerdict(route(status), own).state, "accepted");
  });
});

const userRoute = (): MeshObject => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name: "shop", namespace: "shop", resourceVersion: "7" },
  spec: {
    parentRefs: [{ name: "public", namespace: "infra", sectionName: "web" }],
    hostnames: ["shop.example.com"],
    rules: [
      { name: "static", backendRefs: [{ name: "static", port: 80 }] },
      {
        name: "checkout",
        matches: [{ path: { type: "PathPrefix", value: "/checkout" } }],
        filters: [
          { type: "RequestHeaderModifier", requestHeaderModifier: { add: [{ name: "x-a", value: "1" }] } },
        ],
        backendRefs: [
          { name: "checkout-primary", port: 8080, weight: 100 },
          { name: "checkout-canary", port: 8080, weight: 0 },
          { name: "mirror-sink", port: 8080, weight: 0 },
        ],
      },
    ],
  },
});

describe("user-owned route", () => {
  const byName = { name: "shop", ruleName: "checkout" };

  it("finds the rule by name or index, and refuses a missing one", () => {
    assert.equal(ruleIndexOf(userRoute(), byName), 1);
    assert.equal(ruleIndexOf(userRoute(), { name: "shop", ruleIndex: 0 }), 0);
    assert.throws(() => ruleIndexOf(userRoute(), { name: "shop", ruleName: "nope" }), MeshError);
    assert.throws(() => ruleIndexOf(userRoute(), { name: "shop", ruleIndex: 5 }), /rule #5 does not exist/);
  });

  it("changes only the two backendRefs' weights of the selected rule", () => {
    const before = userRoute();
    const rules = reweightedRules(before, byName, aSplitRef(), { primary: 80, canary: 20 });
    const expected = structuredClone((before.spec as { rules: unknown[] }).rules) as {
      backendRefs: { weight?: number }[];
    }[];
    expected[1]!.backendRefs[0]!.weight = 80;
    expected[1]!.backendRefs[1]!.weight = 20;
    assert.deepEqual(rules, expected);
    assert.deepEqual(userRouteWeights({ ...before, spec: { rules } }, byName, aSplitRef()), {
      primary: 80,
      canary: 20,
    });
  });

  it("refuses a rule that does not reference both Services exactly once", () => {
    assert.throws(
      () =>
        reweightedRules(userRoute(), { name: "shop", ruleIndex: 0 }, aSplitRef(), {
          primary: 90,
          canary: 10,
        }),
      /must reference Service checkout-primary exactly once/,
    );
  });

  it("the apply body carries only identity, the resourceVersion precondition and the rules", () => {
    const body = userRouteApplyBody(userRoute(), []);
    assert.deepEqual(body, {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "shop", namespace: "shop", resourceVersion: "7" },
      spec: { rules: [] },
    });
  });
});

/** FakeApi plus server-side apply of spec.rules with a resourceVersion precondition. */
class ApplyApi extends FakeApi {
  readonly applies: RawRequest[] = [];
  override async request<T>(req: RawRequest): Promise<T> {
    if (req.method !== "PATCH") return super.request<T>(req);
    this.applies.push(req);
    this.beforeWrite?.({ method: "PATCH", path: req.path });
    const live = this.objects.get(req.path);
    const body = req.body as MeshObject;
    if (!live) throw new ApiException(404, "NotFound", "{}", {});
    if (body.metadata.resourceVersion !== live.metadata.resourceVersion)
      throw new ApiException(409, "Conflict", JSON.stringify({ reason: "Conflict", code: 409 }), {});
    // Server-side apply by one manager: the managed-routes annotation is Vireo's alone, so an apply without it drops it.
    const { [MANAGED_ROUTES_ANNOTATION]: _dropped, ...others } = live.metadata.annotations ?? {};
    const annotations = { ...others, ...body.metadata.annotations };
    return this.store(req.path, {
      ...live,
      metadata: { ...live.metadata, annotations },
      spec: { ...(live.spec as object), ...(body.spec as object) },
    }) as T;
  }
}

describe("GatewayApiAdapter", () => {
  it("Gateway parents: not routed before the Gateway answers, weights once accepted, setRoutes quotes a refusal", async () => {
    const api = new FakeApi();
    const adapter = new GatewayApiAdapter({ client: api });
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref));
    const path = resourcePath(routeType, "shop", "checkout");
    assert.equal(await adapter.getRoutes(ref), null);
    const live = api.objects.get(path)!;
    api.store(path, { ...live, status: accepted() } as MeshObject);
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 90, canary: 10 });
    api.store(path, {
      ...live,
      status: {
        parents: [
          {
            parentRef: { name: "public", namespace: "infra", sectionName: "web" },
            conditions: [{ type: "Accepted", status: "False", reason: "NotAllowedByListeners" }],
          },
        ],
      },
    } as MeshObject);
    assert.equal(await adapter.getRoutes(ref), null, "a refused route is not routed");
    await assert.rejects(
      adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref)),
      (e: unknown) =>
        e instanceof MeshError && e.kind === "NotAccepted" && /NotAllowedByListeners/.test(e.message),
    );
  });

  it("user-owned route: one server-side apply as vireo, none when the weights already hold, nothing deleted", async () => {
    const api = new ApplyApi();
    const path = resourcePath(routeType, "shop", "shop");
    api.store(path, userRoute());
    const userRef = { ...aSplitRef(), gatewayApi: { httpRoute: { name: "shop", ruleName: "checkout" } } };
    const adapter = new GatewayApiAdapter({ client: api });
    await adapter.setRoutes(aSplit({ primary: 75, canary: 25 }, userRef));
    assert.equal(api.applies.length, 1);
    assert.deepEqual(api.applies[0]?.query, { fieldManager: "vireo", force: true });
    assert.equal(api.applies[0]?.contentType, "application/apply-patch+yaml");
    await adapter.setRoutes(aSplit({ primary: 75, canary: 25 }, userRef));
    assert.equal(api.applies.length, 1, "unchanged weights write nothing");
    api.store(path, { ...api.objects.get(path)!, status: accepted() } as MeshObject);
    assert.deepEqual(await adapter.getRoutes(userRef), { primary: 75, canary: 25 });
    const hostnames = (api.objects.get(path)!.spec as { hostnames: string[] }).hostnames;
    assert.deepEqual(hostnames, ["shop.example.com"], "fields Vireo does not own are untouched");
    await adapter.cleanup(userRef);
    assert.ok(api.objects.has(path), "a user-owned route survives the Rollout");
  });

  it("user-owned route: a change between read and apply is re-read, not overwritten", async () => {
    const api = new ApplyApi();
    const path = resourcePath(routeType, "shop", "shop");
    api.store(path, userRoute());
    let raced = false;
    api.beforeWrite = () => {
      if (raced) return;
      raced = true;
      const live = api.objects.get(path)!;
      api.store(path, {
        ...live,
        spec: { ...(live.spec as object), hostnames: ["new.example.com"] },
      } as MeshObject);
    };
    const userRef = { ...aSplitRef(), gatewayApi: { httpRoute: { name: "shop", ruleName: "checkout" } } };
    await new GatewayApiAdapter({ client: api }).setRoutes(aSplit({ primary: 50, canary: 50 }, userRef));
    assert.equal(api.applies.length, 2);
    const spec = api.objects.get(path)!.spec as { hostnames: string[] };
    assert.deepEqual(spec.hostnames, ["new.example.com"]);
    assert.deepEqual(
      (spec as unknown as { rules: { backendRefs: { weight: number }[] }[] }).rules[1]?.backendRefs.map(
        (b) => b.weight,
      ),
      [50, 50, 0],
    );
  });

  it("user-owned route: header routes and mirrors become Vireo's own named rules after the user's, crossed with the selected rule's matches; the user's rules stay as written; removal leaves the route as it was", async () => {
    const api = new ApplyApi();
    const path = resourcePath(routeType, "shop", "shop");
    api.store(path, userRoute());
    const userRef = { ...aSplitRef(), gatewayApi: { httpRoute: { name: "shop", ruleName: "checkout" } } };
    const adapter = new GatewayApiAdapter({ client: api });
    const managed = {
      headerRoutes: [
        {
          name: "testers",
          matches: [{ headers: [{ name: "x-canary", type: "Exact" as const, value: "1" }] }],
        },
      ],
      mirrors: [{ name: "reads", percent: 20, matches: [{ methods: ["GET" as const] }] }],
    };
    await adapter.setRoutes({ ...aSplit({ primary: 100, canary: 0 }, userRef), managed });
    const written = api.objects.get(path)!;
    const rules = (written.spec as { rules: Record<string, unknown>[] }).rules;
    assert.deepEqual(
      rules.map((r) => r.name),
      ["static", "checkout", "vireo.checkout.header.testers", "vireo.checkout.mirror.reads"],
    );
    assert.deepEqual(
      rules.slice(0, 2),
      (userRoute().spec as { rules: unknown[] }).rules,
      "the user's rules as written",
    );
    const header = rules[2] as {
      matches: { path: unknown; method?: string; headers: unknown[] }[];
      backendRefs: { name: string }[];
    };
    assert.deepEqual(
      header.matches.map((m) => [m.path, m.method ?? "any"]),
      [
        [{ type: "PathPrefix", value: "/checkout" }, "any"],
        [{ type: "PathPrefix", value: "/checkout" }, "GET"],
      ],
      "only the selected rule's requests, each mirrored method too",
    );
    assert.deepEqual(
      header.backendRefs.map((b) => b.name),
      ["checkout-canary"],
    );
    api.store(path, { ...written, status: accepted() } as MeshObject);
    assert.deepEqual(await adapter.getRoutes(userRef), { primary: 100, canary: 0, managed });
    const applies = api.applies.length;
    await adapter.setRoutes({ ...aSplit({ primary: 100, canary: 0 }, userRef), managed });
    assert.equal(api.applies.length, applies, "nothing changed: nothing written");

    // Someone's sync drops Vireo's rules: read back as none, so the engine, wanting them, writes them again.
    const synced = api.objects.get(path)!;
    api.store(path, { ...synced, spec: userRoute().spec } as MeshObject);
    assert.equal((await adapter.getRoutes(userRef))?.managed, undefined);
    await adapter.setRoutes({ ...aSplit({ primary: 100, canary: 0 }, userRef), managed });
    assert.equal((api.objects.get(path)!.spec as { rules: unknown[] }).rules.length, 4);

    // Promotion or abort: no managed routes, the route is the user's again (weights aside), annotation gone.
    await adapter.setRoutes(aSplit({ primary: 100, canary: 0 }, userRef));
    const after = api.objects.get(path)!;
    assert.deepEqual(
      (after.spec as { rules: unknown[] }).rules,
      (userRoute().spec as { rules: unknown[] }).rules,
    );
    assert.equal(after.metadata.annotations?.[MANAGED_ROUTES_ANNOTATION], undefined);
    assert.deepEqual(await adapter.getRoutes(userRef), { primary: 100, canary: 0 });
  });

  it("user-owned route: sticky sessions are refused (they would change the user's backendRefs), and so is a route past 16 rules", async () => {
    const api = new ApplyApi();
    const path = resourcePath(routeType, "shop", "shop");
    api.store(path, userRoute());
    const userRef = { ...aSplitRef(), gatewayApi: { httpRoute: { name: "shop", ruleName: "checkout" } } };
    const adapter = new GatewayApiAdapter({ client: api });
    const sticky = {
      headerRoutes: [],
      mirrors: [],
      sticky: {
        mode: "assign" as const,
        cookie: "c",
        session: "s.1",
        maxAgeSeconds: 60,
        path: "/",
        secure: false,
        httpOnly: true,
      },
    };
    await assert.rejects(
      adapter.setRoutes({ ...aSplit({ primary: 100, canary: 0 }, userRef), managed: sticky }),
      /sticky sessions/,
    );
    const many = {
      headerRoutes: Array.from({ length: 15 }, (_, i) => ({
        name: `r${i}`,
        matches: [{ headers: [{ name: "x-r", type: "Exact" as const, value: `${i}` }] }],
      })),
      mirrors: [],
    };
    await assert.rejects(
      adapter.setRoutes({ ...aSplit({ primary: 100, canary: 0 }, userRef), managed: many }),
      /16 an HTTPRoute holds/,
    );
    assert.equal(api.applies.length, 0, "nothing half-written");
  });

  it("user-owned route missing: Pending naming the route", async () => {
    const userRef = { ...aSplitRef(), gatewayApi: { httpRoute: { name: "gone" } } };
    await assert.rejects(
      new GatewayApiAdapter({ client: new FakeApi() }).getRoutes(userRef),
      /HTTPRoute shop\/gone .* does not exist/,
    );
  });
});

describe("spec.gatewayApi validation", () => {
  const base = {
    targetRef: { name: "podinfo" },
    service: { port: 80 },
    provider: "gateway-api",
    strategy: { canary: { steps: [{ setWeight: 10 }] } },
  };
  const issues = (gatewayApi: unknown, provider = "gateway-api") => {
    const v = validateRolloutSpec({ ...base, provider, gatewayApi });
    return v.ok ? [] : v.issues.map((i) => `${i.path}: ${i.message}`);
  };

  it("accepts Gateway parents with hostnames and paths, and a user-owned route", () => {
    assert.deepEqual(issues(ingress), []);
    assert.deepEqual(issues({ httpRoute: { name: "shop", ruleName: "checkout" } }), []);
  });

  it("refuses what the upstream HTTPRoute CRD would", () => {
    assert.match(
      issues({ parentRefs: [{ name: "gw" }, { name: "gw" }] }).join(),
      /parentRefs must be unique/,
    );
    assert.match(
      issues({ parentRefs: Array.from({ length: 33 }, (_, i) => ({ name: `gw${i}` })) }).join(),
      /parentRefs/,
    );
    assert.match(issues({ parentRefs: [{ name: "gw" }], hostnames: ["10.0.0.1:80"] }).join(), /hostname/);
    assert.match(
      issues({ parentRefs: [{ name: "gw" }], matches: [{ path: { value: "/a//b" } }] }).join(),
      /must not contain/,
    );
    assert.match(
      issues({ parentRefs: [{ name: "gw" }], matches: [{ path: { value: "a" } }] }).join(),
      /absolute path/,
    );
  });

  it("refuses mixing modes, hostnames without Gateways, and other providers", () => {
    assert.match(
      issues({ httpRoute: { name: "r" }, parentRefs: [{ name: "gw" }] }).join(),
      /excludes parentRefs/,
    );
    assert.match(issues({ hostnames: ["a.example.com"] }).join(), /hostnames need Gateway parentRefs/);
    assert.match(
      issues({ httpRoute: { name: "r", ruleName: "a", ruleIndex: 1 } }).join(),
      /ruleName or ruleIndex/,
    );
    assert.match(issues(ingress, "istio").join(), /gatewayApi is for provider gateway-api only/);
  });
});
