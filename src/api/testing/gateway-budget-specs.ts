// Generated gateway-api Rollout specs around the HTTPRoute match budget (path matches × header-route matches ×
// mirrored methods, sticky cookie rules), valid in every other respect: the unit property checks the schema against
// the renderer with them, the admission e2e the API server's CEL against the schema.
import fc from "fast-check";
import { MIRROR_METHODS } from "../traffic-route-schema.ts";

const mirrorMatch = fc.oneof(
  fc.record({ methods: fc.subarray([...MIRROR_METHODS], { minLength: 1 }) }),
  fc.constant({ headers: [{ name: "x-mirror", value: "1" }] }),
  fc.record({
    methods: fc.subarray([...MIRROR_METHODS], { minLength: 1 }),
    headers: fc.constant([{ name: "x-mirror", value: "1" }]),
  }),
);

/** Specs on both sides of the budget: up to 64 path matches, two header routes, a mirror, sticky cookies. */
export const gatewayBudgetSpecs = fc
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
    const route = (name: string, header: string, n: number) => ({
      setHeaderRoute: {
        name,
        matches: Array.from({ length: n }, (_, i) => ({ headers: [{ name: header, value: `${i}` }] })),
      },
    });
    if (routeMatches > 0) steps.push(route("testers", "x-t", routeMatches));
    if (extraRoute > 0) steps.push(route("more", "x-m", extraRoute));
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
