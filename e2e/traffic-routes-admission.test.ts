// Managed routes at admission on a real API server: the CRD (with its cross-step CEL) installs within the API
// server's cost budget, the specs the controller accepts are accepted, and the nonsense CEL can see is refused
// with the controller's own message; sticky sessions rendered as GEP-1619 sessionPersistence are stored as written
// by the upstream experimental HTTPRoute CRD.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { INVALID_ROUTE_SPECS, VALID_ROUTE_SPECS } from "../src/api/testing/route-specs.ts";
import { gatewayHttpRouteType } from "../src/mesh/gamma-render.ts";
import { renderGatewayHttpRoute } from "../src/mesh/gateway-api-render.ts";
import { GATEWAY_API_STYLE } from "../src/mesh/http-route-managed.ts";
import { aSplit, aSplitRef } from "../src/mesh/testing/models.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { upstreamCrds } from "./cluster/upstream-crds.ts";
import { apply, waitFor } from "./support/app.ts";

const NS = "routes";
const ROLLOUTS = `/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts`;

describe("managed routes at admission (real API server)", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let seq = 0;
  const create = (spec: unknown) =>
    kubeRequest(kc, "POST", `${ROLLOUTS}?dryRun=All`, {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: `r${++seq}` },
      spec,
    });

  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    await apply(cluster, JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }));
  });
  after(async () => {
    await cluster?.stop();
  });

  for (const c of VALID_ROUTE_SPECS)
    it(`accepts ${c.name}`, async () => {
      await create(c.spec);
    });

  for (const c of INVALID_ROUTE_SPECS.filter((x) => x.cel))
    it(`refuses ${c.name}, saying why`, async () => {
      const err = await create(c.spec).then(
        () => assert.fail("the API server accepted it"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.status, 422, err.message);
      assert.ok(err.message.includes(c.apiServerSays ?? c.message), err.message);
    });

  it("the order-only cases pass CEL, which cannot see order cheaply (the controller refuses them: phase Invalid)", async () => {
    for (const c of INVALID_ROUTE_SPECS.filter((x) => !x.cel)) await create(c.spec);
  });

  it("sticky sessions rendered as sessionPersistence: the upstream experimental HTTPRoute CRD stores them as written; the standard one has no such field", async () => {
    const sticky = {
      headerRoutes: [],
      mirrors: [],
      sticky: {
        mode: "assign" as const,
        cookie: "vireo-canary",
        session: "rev2.1",
        maxAgeSeconds: 90_061,
        path: "/",
        secure: false,
        httpOnly: true,
      },
    };
    const gatewayApi = {
      parentRefs: [{ name: "public", namespace: "infra" }],
      hostnames: ["shop.example.test"],
    };
    const route = renderGatewayHttpRoute(
      { ...aSplit({ primary: 80, canary: 20 }, { ...aSplitRef(NS, "shop"), gatewayApi }), managed: sticky },
      gatewayApi,
      gatewayHttpRouteType("v1"),
      { ...GATEWAY_API_STYLE, sessionPersistence: true },
    );
    const rendered = (route.spec as { rules: { sessionPersistence?: unknown }[] }).rules.at(
      -1,
    )?.sessionPersistence;
    assert.ok(rendered, "the split rule carries sessionPersistence");
    const ROUTES = `/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes?dryRun=All&fieldValidation=Strict`;
    const standard = await kubeRequest(kc, "POST", ROUTES, route).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(
      standard instanceof KubeApiError && /sessionPersistence/.test(standard.message),
      String(standard),
    );

    // The experimental channel's HTTPRoute CRD of the same pinned module, in place of the standard one.
    const installed = upstreamCrds().find(
      (u) => u.crd.metadata?.name === "httproutes.gateway.networking.k8s.io",
    );
    const file = installed?.file ?? "";
    assert.ok(file.includes("/standard/"), file);
    const experimental = file.replace("/standard/", "/experimental/");
    const r = await cluster.kubectl(["apply", "--server-side", "--force-conflicts", "-f", experimental]);
    assert.equal(r.code, 0, r.stderr);
    const stored = await waitFor(
      "the experimental HTTPRoute schema serving",
      () =>
        kubeRequest<{ spec: { rules: { sessionPersistence?: unknown }[] } }>(kc, "POST", ROUTES, route).catch(
          () => undefined,
        ),
      (x) => x !== undefined,
      60_000,
    );
    assert.deepEqual(stored?.spec.rules.at(-1)?.sessionPersistence, rendered, "stored exactly as rendered");
  });
});
