// The apply-time match budget (CEL/zod, src/api/gateway-route-budget.ts) against the renderer it stands for: a spec
// is refused by the schema exactly when rendering every route it asks for at once exceeds an HTTPRoute rule's matches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { gatewayMatchIssues } from "../api/gateway-route-budget.ts";
import { gatewayBudgetSpecs as specs } from "../api/testing/gateway-budget-specs.ts";
import { validateRolloutSpec } from "../api/validate.ts";
import { gatewayHttpRouteType } from "./gamma-render.ts";
import { renderGatewayHttpRoute } from "./gateway-api-render.ts";
import { everyManagedRoute } from "./managed-routes.ts";
import { aSplit } from "./testing/models.ts";

/** Whether the generated HTTPRoute renders with every route the spec asks for in place. */
function renders(spec: ReturnType<typeof specs.generate>["value"]): boolean {
  const managed = everyManagedRoute(spec as unknown as Parameters<typeof everyManagedRoute>[0]);
  try {
    renderGatewayHttpRoute(
      { ...aSplit({ primary: 100, canary: 0 }), managed },
      spec.gatewayApi,
      gatewayHttpRouteType("v1"),
    );
    return true;
  } catch {
    return false;
  }
}

describe("the Gateway API match budget is the renderer's", () => {
  it("the schema refuses a spec exactly when its generated HTTPRoute cannot hold its routes", () => {
    let refused = 0;
    fc.assert(
      fc.property(specs, (spec) => {
        const fits = renders(spec);
        assert.equal(gatewayMatchIssues(spec).length === 0, fits);
        assert.equal(validateRolloutSpec(spec).ok, fits);
        if (!fits) refused++;
      }),
      { numRuns: 300 },
    );
    // Not vacuous: both sides of the limit were explored.
    assert.ok(refused > 0 && refused < 300, `${refused} of 300 refused`);
  });

  it("a user-owned route's matches are unknown at apply: only the controller checks them", () => {
    const spec = {
      provider: "gateway-api",
      gatewayApi: { httpRoute: { name: "shop" } },
      strategy: { canary: { steps: [{ setHeaderRoute: { matches: [1, 2, 3, 4] } }] } },
    };
    assert.deepEqual(gatewayMatchIssues(spec), []);
  });
});
