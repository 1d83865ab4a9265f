import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshError } from "./errors.ts";
import { IstioAdapter } from "./istio.ts";
import { LinkerdAdapter } from "./linkerd.ts";
import { FakeApi, withBackendServices } from "./testing/fake-api.ts";
import { anOwner, aPolicy, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const owned = { ...ref, owner: anOwner() };

describe("policy adapters that select pods", () => {
  for (const make of [
    (api: FakeApi) => new IstioAdapter({ client: api }),
    (api: FakeApi) => new LinkerdAdapter({ client: api }),
  ]) {
    const name = make(new FakeApi()).name;

    it(`${name}: while the backend Services are missing, out of sync and Pending without writing`, async () => {
      const api = new FakeApi();
      const adapter = make(api);
      assert.equal(await adapter.accessPolicyInSync(ref, aPolicy()), false);
      await assert.rejects(
        adapter.applyAccessPolicy(owned, aPolicy()),
        (e: unknown) => e instanceof MeshError && e.kind === "Pending",
      );
      assert.deepEqual(api.writes(), []);
    });

    it(`${name}: a selector-less backend Service is refused (it would select the whole namespace)`, async () => {
      const api = withBackendServices(new FakeApi());
      const svc = api.objects.get("/api/v1/namespaces/shop/services/checkout-canary")!;
      svc.spec = { ports: [{ port: 8080 }] };
      const adapter = make(api);
      await assert.rejects(
        adapter.applyAccessPolicy(owned, aPolicy()),
        (e: unknown) => e instanceof MeshError && e.kind === "Unsupported",
      );
    });
  }

  it("istio: one AuthorizationPolicy per backend, each with its Service's selector", async () => {
    const api = withBackendServices(new FakeApi());
    await new IstioAdapter({ client: api }).applyAccessPolicy(owned, aPolicy());
    const selectorOf = (n: string) =>
      (
        api.objects.get(`/apis/security.istio.io/v1/namespaces/shop/authorizationpolicies/${n}`)?.spec as {
          selector: unknown;
        }
      )?.selector;
    assert.deepEqual(selectorOf("checkout-primary"), { matchLabels: { app: "checkout-primary" } });
    assert.deepEqual(selectorOf("checkout-canary"), { matchLabels: { app: "checkout" } });
  });

  it("linkerd: the Server is created last and removed first (never a deny-all window)", async () => {
    const api = withBackendServices(new FakeApi());
    const adapter = new LinkerdAdapter({ client: api });
    await adapter.applyAccessPolicy(owned, aPolicy());
    // Creates POST to the collection, so the path ends with the plural.
    const created = api.writes().map((c) => c.path.split("/").at(-1));
    assert.deepEqual(created, ["meshtlsauthentications", "httproutes", "authorizationpolicies", "servers"]);
    const server = api.objects.get("/apis/policy.linkerd.io/v1beta3/namespaces/shop/servers/checkout");
    assert.equal((server?.spec as { port?: unknown } | undefined)?.port, 9090, "the Service's targetPort");
    api.resetCalls();
    await adapter.applyAccessPolicy(owned, null);
    assert.match(api.writes()[0]?.path ?? "", /\/servers\/checkout$/);
    assert.equal(api.objects.size, 2, "only the two Services remain");
  });

  it("linkerd: dropping route restrictions retargets the AuthorizationPolicy before deleting the authz route", async () => {
    const api = withBackendServices(new FakeApi());
    const adapter = new LinkerdAdapter({ client: api });
    await adapter.applyAccessPolicy(owned, aPolicy());
    api.resetCalls();
    const open = aPolicy({ routes: undefined });
    await adapter.applyAccessPolicy(owned, open);
    const writes = api.writes().map((c) => `${c.method} ${c.path.split("/").slice(-2).join("/")}`);
    assert.deepEqual(writes, ["PUT authorizationpolicies/checkout", "DELETE httproutes/checkout-authz"]);
    assert.equal(await adapter.accessPolicyInSync(ref, open), true);
  });
});

describe("linkerd: the kubelet's probes stay authorized under a per-route policy", () => {
  const probes = [
    { path: "/healthz", port: 9090 },
    { path: "/ready", port: 9090 },
    { path: "/metrics", port: 9100 },
  ];
  const base = "/apis/policy.linkerd.io";
  const get = (api: FakeApi, path: string) => api.objects.get(path);

  it("with route restrictions, a probe route, NetworkAuthentication and AuthorizationPolicy for the port's probe paths", async () => {
    const api = withBackendServices(new FakeApi());
    const adapter = new LinkerdAdapter({ client: api });
    const policy = aPolicy({ probes });
    await adapter.applyAccessPolicy(owned, policy);
    const route = get(api, `${base}/v1beta3/namespaces/shop/httproutes/checkout-probes`);
    assert.deepEqual(route?.spec, {
      parentRefs: [{ group: "policy.linkerd.io", kind: "Server", name: "checkout" }],
      rules: [
        {
          matches: [
            { path: { type: "Exact", value: "/healthz" }, method: "GET" },
            { path: { type: "Exact", value: "/ready" }, method: "GET" },
          ],
        },
      ],
    });
    assert.deepEqual(
      get(api, `${base}/v1alpha1/namespaces/shop/networkauthentications/checkout-probes`)?.spec,
      {
        networks: [{ cidr: "0.0.0.0/0" }, { cidr: "::/0" }],
      },
    );
    assert.deepEqual(
      get(api, `${base}/v1alpha1/namespaces/shop/authorizationpolicies/checkout-probes`)?.spec,
      {
        targetRef: { group: "policy.linkerd.io", kind: "HTTPRoute", name: "checkout-probes" },
        requiredAuthenticationRefs: [
          { group: "policy.linkerd.io", kind: "NetworkAuthentication", name: "checkout-probes" },
        ],
      },
    );
    // The probe objects exist before the authz route takes the default probe routes away.
    const posts = api.writes().map((c) => c.path.split("/").pop());
    assert.ok(posts.indexOf("networkauthentications") < posts.lastIndexOf("httproutes"));
    assert.equal(await adapter.accessPolicyInSync(ref, policy), true);
    api.resetCalls();
    await adapter.applyAccessPolicy(owned, policy);
    assert.deepEqual(api.writes(), [], "idempotent");
  });

  it("a probe path change is out of sync until applied; dropping the route restriction removes the probe objects", async () => {
    const api = withBackendServices(new FakeApi());
    const adapter = new LinkerdAdapter({ client: api });
    await adapter.applyAccessPolicy(owned, aPolicy({ probes }));
    const changed = aPolicy({ probes: [{ path: "/livez", port: 9090 }] });
    assert.equal(await adapter.accessPolicyInSync(ref, changed), false);
    await adapter.applyAccessPolicy(owned, changed);
    assert.equal(await adapter.accessPolicyInSync(ref, changed), true);
    const everyRoute = aPolicy({ probes, routes: undefined });
    assert.equal(await adapter.accessPolicyInSync(ref, everyRoute), false);
    await adapter.applyAccessPolicy(owned, everyRoute);
    for (const kind of ["httproutes", "networkauthentications", "authorizationpolicies"]) {
      const version = kind === "httproutes" ? "v1beta3" : "v1alpha1";
      assert.equal(get(api, `${base}/${version}/namespaces/shop/${kind}/checkout-probes`), undefined, kind);
    }
    assert.equal(await adapter.accessPolicyInSync(ref, everyRoute), true);
  });

  it("no probe objects when no HTTP probe targets the Server's port, and cleanup removes them", async () => {
    const api = withBackendServices(new FakeApi());
    const adapter = new LinkerdAdapter({ client: api });
    await adapter.applyAccessPolicy(owned, aPolicy({ probes: [{ path: "/metrics", port: 9100 }] }));
    assert.equal(get(api, `${base}/v1beta3/namespaces/shop/httproutes/checkout-probes`), undefined);
    await adapter.applyAccessPolicy(owned, aPolicy({ probes }));
    await adapter.cleanup(ref);
    assert.deepEqual(
      [...api.objects.keys()].filter((k) => k.startsWith(base)),
      [],
    );
  });

  it("refuses a probe path longer than an HTTPRoute path holds, writing no probe route", async () => {
    const api = withBackendServices(new FakeApi());
    const long = aPolicy({ probes: [{ path: `/${"a".repeat(1024)}`, port: 9090 }] });
    await assert.rejects(
      new LinkerdAdapter({ client: api }).applyAccessPolicy(owned, long),
      (e: unknown) => e instanceof MeshError && e.kind === "Unsupported" && /1024/.test(e.message),
    );
    assert.deepEqual(api.writes(), []);
  });
});
