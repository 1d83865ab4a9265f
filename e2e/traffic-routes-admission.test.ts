// Managed routes at admission on a real API server: the CRD (with its cross-step CEL) installs within the API
// server's cost budget, the specs the controller accepts are accepted, and the nonsense CEL can see is refused
// with the controller's own message; the Gateway API match budget's CEL, at the API server's own cost estimate,
// refuses exactly the generated specs the schema refuses; sticky sessions rendered as GEP-1619 sessionPersistence are stored as written
// by the upstream experimental HTTPRoute CRD.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import fc from "fast-check";
import { buildRolloutCrd } from "../src/api/crd.ts";
import {
  GATEWAY_MATCH_CEL,
  GATEWAY_MATCH_MESSAGES,
  gatewayMatchIssues,
} from "../src/api/gateway-route-budget.ts";
import { gatewayBudgetSpecs } from "../src/api/testing/gateway-budget-specs.ts";
import { INVALID_ROUTE_SPECS, VALID_ROUTE_SPECS } from "../src/api/testing/route-specs.ts";
import { gatewayHttpRouteType } from "../src/mesh/gamma-render.ts";
import { renderGatewayHttpRoute } from "../src/mesh/gateway-api-render.ts";
import { GATEWAY_API_STYLE } from "../src/mesh/http-route-managed.ts";
import { aSplit, aSplitRef } from "../src/mesh/testing/models.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { upstreamCrds } from "./cluster/upstream-crds.ts";
import { apply, waitFor } from "./support/app.ts";
import {
  estimatedRuleCost,
  estimatedSchemaCost,
  RULE_COST_LIMIT,
  SCHEMA_COST_LIMIT,
} from "./support/cel-cost.ts";

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

  it("the Gateway API match budget's CEL rules cost under 1 % of the API server's per-rule limit, by its own estimate", async () => {
    const crd = buildRolloutCrd() as {
      spec: {
        versions: { schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }[];
      };
    };
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema;
    assert.ok(schema);
    let ours = 0;
    for (const [i, r] of GATEWAY_MATCH_CEL.entries()) {
      const cost = await estimatedRuleCost(kc, schema.properties.spec, r.rule);
      console.log(`match budget rule ${i}: estimated cost ${Math.round(cost)} of ${RULE_COST_LIMIT}`);
      assert.ok(cost < RULE_COST_LIMIT / 100, `rule ${i}: ${cost}`);
      ours += 2 * cost; // the spec, and its copy in status.lastValidSpec
    }
    const total = await estimatedSchemaCost(kc, schema);
    console.log(
      `match budget: Rollout CRD estimated total ${Math.round(total)} of ${SCHEMA_COST_LIMIT}, the match rules ${Math.round(ours)} of it`,
    );
    assert.ok(total < SCHEMA_COST_LIMIT, `${total}`);
  });

  it("the API server refuses a generated gateway-api spec exactly when the schema's match count does", async () => {
    const messages = Object.values(GATEWAY_MATCH_MESSAGES);
    let refused = 0;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(gatewayBudgetSpecs, async (spec) => {
        runs++;
        const zodRefuses = gatewayMatchIssues(spec).length > 0;
        const err = await create(spec).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err === undefined) {
          assert.ok(!zodRefuses, "the schema refuses it, the API server let it through");
          return;
        }
        assert.ok(err instanceof KubeApiError && err.status === 422, String(err));
        assert.ok(zodRefuses, `refused by the API server only: ${err.message}`);
        assert.ok(
          messages.some((m) => err.message.includes(m)),
          err.message,
        );
        refused++;
      }),
      { numRuns: 150 },
    );
    console.log(`match budget: ${refused} of ${runs} generated specs refused by both, 0 by one side only`);
    assert.ok(refused > 0 && refused < runs, `${refused} of ${runs}`);
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
