// A corpus of Rollout specs with managed routes (header routes, mirrors, sticky canaries), shared by the zod tests
// and the real API server's admission test, so both refuse the same nonsense. Test support only.
import { GATEWAY_MATCH_MESSAGES } from "../gateway-route-budget.ts";
import { ROUTE_LIMITS, ROUTE_STEP_MESSAGES } from "../traffic-route-schema.ts";

/** A valid spec with these canary steps (and extra canary fields). */
export function routeSpec(steps: unknown[], canary: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    targetRef: { name: "podinfo" },
    service: { port: 80 },
    provider: "istio",
    strategy: { canary: { steps, ...canary } },
  };
}

/** A gateway-api spec whose generated HTTPRoute's split rule has `paths` path matches. */
function gatewaySpec(steps: unknown[], paths: number): Record<string, unknown> {
  const matches = Array.from({ length: paths }, (_, i) => ({ path: { value: `/p${i}` } }));
  return {
    ...routeSpec(steps),
    provider: "gateway-api",
    gatewayApi: { parentRefs: [{ name: "public", namespace: "edge" }], matches },
  };
}
/** A header route of `n` matches. */
const headerRoute = (n: number, name = "wide") => ({
  name,
  matches: Array.from({ length: n }, (_, i) => ({ headers: [{ name: "x-canary", value: `${i}` }] })),
});

const testers = { name: "testers", matches: [{ headers: [{ name: "x-canary", value: "1" }] }] };
const reads = { name: "reads", percent: 20 };
const sticky = { cookieName: "vireo-canary" };

/** Specs the schema accepts. */
export const VALID_ROUTE_SPECS: { name: string; spec: Record<string, unknown> }[] = [
  {
    name: "a header route before the first weight, removed later",
    spec: routeSpec([
      { setHeaderRoute: testers },
      { pause: {} },
      { setWeight: 20 },
      { setHeaderRoute: { name: "testers" } },
      { setWeight: 50 },
    ]),
  },
  {
    name: "header exact, prefix, regex and a cookie in one route",
    spec: routeSpec([
      {
        setHeaderRoute: {
          name: "qa",
          matches: [
            {
              headers: [
                { name: "x-user", type: "Prefix", value: "qa-" },
                { name: "x-region", type: "RegularExpression", value: "^eu-(west|north)-[0-9]$" },
              ],
            },
            { cookie: { name: "canary", value: "always" } },
          ],
        },
      },
      { setWeight: 10 },
    ]),
  },
  {
    name: "a mirror at weight 0, removed before the first weight",
    spec: routeSpec([
      { setMirror: reads },
      { pause: { duration: "5m" } },
      { setMirror: { name: "reads" } },
      { setWeight: 10 },
    ]),
  },
  {
    name: "a mirror of POSTs with a header, replaced by a larger one, never removed (no positive weight)",
    spec: routeSpec([
      {
        setMirror: {
          name: "w",
          percent: 5,
          matches: [{ methods: ["POST"], headers: [{ name: "x-idem", value: "y" }] }],
        },
      },
      { setMirror: { name: "w", percent: 50 } },
      { pause: { duration: "1m" } },
    ]),
  },
  {
    name: "sticky canaries with every attribute",
    spec: routeSpec([{ setWeight: 10 }, { setWeight: 50 }], {
      sessionAffinity: {
        ...sticky,
        primaryCookieName: "vireo-primary",
        pinPrimary: false,
        maxAge: "1h",
        path: "/shop",
        domain: "example.test",
        sameSite: "None",
        secure: true,
        httpOnly: false,
      },
    }),
  },
  {
    name: "gateway-api: a header route of 4 matches × 16 path matches (the 64 an HTTPRoute rule holds)",
    spec: gatewaySpec([{ setHeaderRoute: headerRoute(4) }, { setWeight: 10 }], 16),
  },
  {
    name: "gateway-api: 4 header routes of 3 matches × 8 path matches (8 × 13 = 104 in the route)",
    spec: gatewaySpec(
      ["a", "b", "c", "d"].map((n) => ({ setHeaderRoute: headerRoute(3, n) })),
      8,
    ),
  },
  {
    name: "gateway-api: 2 matches × 10 path matches × (1 + GET and HEAD mirrored) = 60",
    spec: gatewaySpec(
      [
        { setMirror: reads },
        { setHeaderRoute: headerRoute(2) },
        { setMirror: { name: "reads" } },
        { setWeight: 10 },
      ],
      10,
    ),
  },
];

/**
 * Specs the schema refuses; `cel` says whether the CRD refuses it too (else only the controller does), and
 * `apiServerSays` what the API server's message contains when it differs (a pattern names the field, not the rule).
 */
export const INVALID_ROUTE_SPECS: {
  name: string;
  spec: Record<string, unknown>;
  message: string;
  cel: boolean;
  apiServerSays?: string;
}[] = [
  {
    name: "a step with setWeight and setHeaderRoute",
    spec: routeSpec([{ setWeight: 10, setHeaderRoute: testers }]),
    message: "a step needs exactly one of setWeight, pause, check, setUpdated, setHeaderRoute, setMirror",
    cel: true,
  },
  {
    name: "removal of a header route never installed",
    spec: routeSpec([{ setWeight: 10 }, { setHeaderRoute: { name: "ghost" } }]),
    message: ROUTE_STEP_MESSAGES.unknownRemoval,
    cel: true,
  },
  {
    name: "removal before the install",
    spec: routeSpec([
      { setHeaderRoute: { name: "testers" } },
      { setHeaderRoute: testers },
      { setWeight: 10 },
    ]),
    message: ROUTE_STEP_MESSAGES.unknownRemoval,
    cel: true,
  },
  {
    name: "removal of a mirror never installed",
    spec: routeSpec([{ setMirror: { name: "ghost" } }, { setWeight: 10 }]),
    message: ROUTE_STEP_MESSAGES.unknownRemoval,
    cel: true,
  },
  {
    name: "one name for a header route and a mirror",
    spec: routeSpec([{ setHeaderRoute: testers }, { setMirror: { name: "testers", percent: 10 } }]),
    message: ROUTE_STEP_MESSAGES.sharedName,
    cel: true,
  },
  {
    name: "a mirror after a positive weight",
    spec: routeSpec([{ setWeight: 10 }, { setMirror: reads }]),
    message: ROUTE_STEP_MESSAGES.mirrorWithWeight,
    cel: true,
  },
  {
    name: "a mirror still active when the weight rises",
    spec: routeSpec([{ setMirror: reads }, { setWeight: 10 }, { setMirror: { name: "reads" } }]),
    message: ROUTE_STEP_MESSAGES.mirrorWithWeight,
    cel: true,
  },
  {
    name: "a removing setMirror with matches",
    spec: routeSpec([
      { setMirror: reads },
      { setMirror: { name: "reads", matches: [{ methods: ["GET"] }] } },
    ]),
    message: "a setMirror without percent removes the mirror: it takes no matches",
    cel: true,
  },
  {
    name: "a mirror of 0 %",
    spec: routeSpec([{ setMirror: { name: "zero", percent: 0 } }]),
    message: "setMirror.percent",
    cel: true,
  },
  {
    name: "an upper-case header name",
    spec: routeSpec([
      { setHeaderRoute: { name: "a", matches: [{ headers: [{ name: "X-Canary", value: "1" }] }] } },
    ]),
    message: "lower-case HTTP header name",
    cel: true,
    apiServerSays: "headers[0].name in body should match",
  },
  {
    name: "a regex with a lookahead (RE2 refuses it)",
    spec: routeSpec([
      {
        setHeaderRoute: {
          name: "a",
          matches: [{ headers: [{ name: "x-user", type: "RegularExpression", value: "^(?!bot).*" }] }],
        },
      },
    ]),
    message: "RE2",
    cel: true,
  },
  {
    name: "a match with neither headers nor a cookie",
    spec: routeSpec([{ setHeaderRoute: { name: "a", matches: [{}] } }]),
    message: "a match needs headers, a cookie or both",
    cel: true,
  },
  {
    name: "a header named twice in a match",
    spec: routeSpec([
      {
        setHeaderRoute: {
          name: "a",
          matches: [
            {
              headers: [
                { name: "x-a", value: "1" },
                { name: "x-a", value: "2" },
              ],
            },
          ],
        },
      },
    ]),
    message: "header names must be unique within a match",
    cel: true,
  },
  {
    name: "a cookie and the cookie header in one match",
    spec: routeSpec([
      {
        setHeaderRoute: {
          name: "a",
          matches: [{ cookie: { name: "c", value: "1" }, headers: [{ name: "cookie", value: "c=1" }] }],
        },
      },
    ]),
    message: "both are conditions on the Cookie header",
    cel: true,
  },
  {
    name: "a cookie value with a semicolon",
    spec: routeSpec([
      { setHeaderRoute: { name: "a", matches: [{ cookie: { name: "c", value: "1;x=2" } }] } },
    ]),
    message: "cookie value",
    cel: true,
    apiServerSays: "cookie.value in body should match",
  },
  {
    name: "SameSite=None without Secure",
    spec: routeSpec([{ setWeight: 10 }], { sessionAffinity: { ...sticky, sameSite: "None" } }),
    message: "sameSite None needs secure: true",
    cel: true,
  },
  {
    name: "the same name for both cookies",
    spec: routeSpec([{ setWeight: 10 }], {
      sessionAffinity: { ...sticky, primaryCookieName: "vireo-canary" },
    }),
    message: "primaryCookieName must differ from cookieName",
    cel: true,
  },
  {
    name: "a cookie path with a semicolon",
    spec: routeSpec([{ setWeight: 10 }], { sessionAffinity: { ...sticky, path: "/a;b" } }),
    message: "absolute path",
    cel: true,
    apiServerSays: "sessionAffinity.path in body should match",
  },
  {
    name: "a header route removed twice",
    spec: routeSpec([
      { setHeaderRoute: testers },
      { setHeaderRoute: { name: "testers" } },
      { setHeaderRoute: { name: "testers" } },
    ]),
    message: ROUTE_STEP_MESSAGES.unknownRemoval,
    cel: false,
  },
  {
    name: `more than ${ROUTE_LIMITS.installs} installing steps`,
    spec: routeSpec(Array.from({ length: ROUTE_LIMITS.installs + 1 }, () => ({ setHeaderRoute: testers }))),
    message: ROUTE_STEP_MESSAGES.tooManyInstalls,
    cel: true,
  },
  {
    name: "gateway-api: a header route of 4 matches × 17 path matches",
    spec: gatewaySpec([{ setHeaderRoute: headerRoute(4) }, { setWeight: 10 }], 17),
    message: GATEWAY_MATCH_MESSAGES.headerRoute,
    cel: true,
  },
  {
    name: "gateway-api: 2 matches × 11 path matches × (1 + GET and HEAD mirrored)",
    spec: gatewaySpec([{ setMirror: reads }, { setHeaderRoute: headerRoute(2) }], 11),
    message: GATEWAY_MATCH_MESSAGES.headerRoute,
    cel: true,
  },
  {
    name: "gateway-api: 4 header routes of 4 matches × 8 path matches (8 × 17 = 136 in the route, over its 128)",
    spec: gatewaySpec(
      ["a", "b", "c", "d"].map((n) => ({ setHeaderRoute: headerRoute(4, n) })),
      8,
    ),
    message: GATEWAY_MATCH_MESSAGES.route,
    cel: true,
  },
  {
    name: "gateway-api: a mirror of 7 methods × 10 path matches",
    spec: gatewaySpec(
      [
        {
          setMirror: {
            name: "all",
            percent: 10,
            matches: [{ methods: ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"] }],
          },
        },
      ],
      10,
    ),
    message: GATEWAY_MATCH_MESSAGES.mirror,
    cel: true,
  },
];
