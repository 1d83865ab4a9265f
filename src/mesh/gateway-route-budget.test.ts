// The apply-time match budget (CEL/zod, src/api/gateway-route-budget.ts) against the renderer it stands for: a spec
// is refused by the schema exactly when rendering every route it asks for at once exceeds an HTTPRoute rule's matches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { gatewayMatchIssues } from "../api/gateway-route-budget.ts";
import { MIRROR_METHODS } from "../api/traffic-route-schema.ts";
import { validateRolloutSpec } from "../api/validate.ts";
import { gatewayHttpRouteType } from "./gamma-render.ts";
import { renderGatewayHttpRoute } from "./gateway-api-render.ts";
import { everyManagedRoute } from "./managed-routes.ts";
import { aSplit } from "./testing/models.ts";

const mirrorMatch = fc.oneof(
  fc.record({ methods: fc.subarray([...MIRROR_METHODS], { minLength: 1 }) }),
  fc.constant({ headers: [{ name: "x-mirror", value: "1" }] }),
  fc.record({
    methods: fc.subarray([...MIRROR_METHODS], { minLength: 1 }),
    headers: fc.constant([{ name: "x-mirror", value: "1" }]),
  }),
);

const specs = fc
  .record({
    paths: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 64 })),
    routeMatches: fc.integer({ min: 0, max: 4 }),
    mirror: fc.option(fc.option(fc.array(mirrorMatch, { minLength: 1, maxLength: 4 }), { nil: undefined })),
    extraRoute: fc.integer({ min: 0, max: 4 }),
    sticky: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ paths, routeMatches, mirror, extraRoute, sticky }) => {
    const steps: Record<string, unknown>[] = [];
    if (mirror !== null)
      steps.push({ setMirror: { name: "copy", percent: 10, ...(mirror ? { matches: mirror } : {}) } });
    if (routeMatches > 0)
      steps.push({
        setHeaderRoute: {
          name: "testers",
          matches: Array.from({ length: routeMatches }, (_, i) => ({
            headers: [{ name: "x-t", value: `${i}` }],
          })),
        },
      });
    if (extraRoute > 0)
      steps.push({
        setHeaderRoute: {
          name: "more",
          matches: Array.from({ length: extraRoute }, (_, i) => ({
            headers: [{ name: "x-m", value: `${i}` }],
          })),
        },
      });
    steps.push({ pause: {} });
    const gatewayApi = {
      parentRefs: [{ name: "public" }],
      matches: Array.from({ length: paths }, (_, i) => ({
        path: { type: "PathPrefix" as const, value: `/p${i}` },
      })),
    };
    return {
      targetRef: { name: "checkout" },
      service: { port: 8080 },
      provider: "gateway-api",
      gatewayApi,
      strategy: {
        canary: {
          steps,
          ...(sticky === undefined ? {} : { sessionAffinity: { cookieName: "c", pinPrimary: sticky } }),
        },
      },
    };
  });

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
