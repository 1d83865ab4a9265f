// The matches a generated Gateway API HTTPRoute's managed rules need, refused at apply (CEL) and by the schema (zod)
// when one rule would hold more than the HTTPRoute CRD's 64, or the route more than its 128: a header route crosses
// its matches with the split rule's path matches and with every mirrored method, a mirror its methods with the path
// matches, each sticky cookie rule the path matches.
import { GATEWAY_LIMITS } from "./gateway-route-schema.ts";
import { cel } from "./schema-fields.ts";
import { DEFAULT_MIRROR_METHODS, MIRROR_METHODS } from "./traffic-route-schema.ts";

/** The refusals' messages, shared by CEL, zod and the tests; each names the HTTPRoute's limit. */
export const GATEWAY_MATCH_MESSAGES = {
  headerRoute: `provider gateway-api writes a header route as one HTTPRoute rule of (its matches) × (spec.gatewayApi.matches, default 1) × (1 + the methods the setMirror steps select, when there are any) matches, and an HTTPRoute rule holds at most ${GATEWAY_LIMITS.matches}: use fewer matches or path matches`,
  route: `provider gateway-api writes the split rule and every managed rule into one HTTPRoute: (1 + the sticky cookie rules + each header route's matches × (1 + the mirrored methods) + each mirror's matches, one per method) × (spec.gatewayApi.matches, default 1) matches, and an HTTPRoute holds at most ${GATEWAY_LIMITS.routeMatches} in all its rules: use fewer routes, matches or path matches`,
  mirror: `provider gateway-api writes a mirror as one HTTPRoute rule of (its matches, one per method, default GET and HEAD) × (spec.gatewayApi.matches, default 1) matches, and an HTTPRoute rule holds at most ${GATEWAY_LIMITS.matches}: use fewer methods or path matches`,
} as const;

/** The parts of a spec the budget reads. */
interface SpecLike {
  provider: string;
  gatewayApi?:
    | { parentRefs?: unknown[] | undefined; matches?: unknown[] | undefined; httpRoute?: unknown }
    | undefined;
  strategy: {
    canary?:
      | {
          sessionAffinity?: { pinPrimary?: boolean | undefined } | undefined;
          steps?:
            | {
                setHeaderRoute?: { matches?: unknown[] | undefined } | undefined;
                setMirror?:
                  | {
                      percent?: number | undefined;
                      matches?: { methods?: string[] | undefined }[] | undefined;
                    }
                  | undefined;
              }[]
            | undefined;
        }
      | undefined;
  };
}

// CEL over the whole spec, the same count as gatewayMatchIssues: every install counts, as if all were in place at
// once (what the controller's check renders too). `[x].all(v, …)` binds a value once, so a rule does not recount it.
// Sums are `steps.map(s, cond ? n : 0).sum()`, never `steps.filter(…).map(…)`: the API server's cost estimator loses
// the list's bound through filter-then-map, and the route rule written that way was estimated at over 100× its
// limit (the CRD did not install); mapped, it is well below 1 % (e2e/traffic-routes-admission.test.ts measures it).
const STEPS = "self.strategy.canary.steps";
const APPLIES = `self.provider != 'gateway-api' || !has(self.strategy.canary) || !has(${STEPS}) || (has(self.gatewayApi) && has(self.gatewayApi.httpRoute))`;
const BASE =
  "[has(self.gatewayApi) && has(self.gatewayApi.parentRefs) && has(self.gatewayApi.matches) ? self.gatewayApi.matches.size() : 1]";
const list = (xs: readonly string[]) => `[${xs.map((x) => `'${x}'`).join(", ")}]`;
// One mirror step's matches (step `t`): one per method, GET and HEAD by default.
const MIRROR_MATCHES_OF_T = `(has(t.setMirror.matches) ? t.setMirror.matches.map(x, has(x.methods) ? x.methods.size() : 1).sum() : ${DEFAULT_MIRROR_METHODS.length})`;
const HEADER_MATCHES = `${STEPS}.map(s, has(s.setHeaderRoute) && has(s.setHeaderRoute.matches) ? s.setHeaderRoute.matches.size() : 0).sum()`;
const MIRROR_MATCHES = `${STEPS}.map(t, has(t.setMirror) && has(t.setMirror.percent) ? ${MIRROR_MATCHES_OF_T} : 0).sum()`;
// The cookie rules: the canary's, and the primary's when pinned (pinPrimary defaults to true before CEL runs).
const STICKY_RULES =
  "(has(self.strategy.canary.sessionAffinity) ? (has(self.strategy.canary.sessionAffinity.pinPrimary) && !self.strategy.canary.sessionAffinity.pinPrimary ? 1 : 2) : 0)";
const MIRRORED = `${list(MIRROR_METHODS)}.filter(m, ${STEPS}.exists(t, has(t.setMirror) && has(t.setMirror.percent) && (has(t.setMirror.matches) ? t.setMirror.matches.exists(x, has(x.methods) && m in x.methods) : m in ${list(DEFAULT_MIRROR_METHODS)}))).size()`;

/** CEL rules of the Rollout spec: the managed rules of a generated HTTPRoute fit its 64 matches a rule, 128 in all. */
export const GATEWAY_MATCH_CEL = [
  cel(
    `${APPLIES} || ${BASE}.all(b, [${MIRRORED}].all(n, ${STEPS}.all(s, !has(s.setHeaderRoute) || !has(s.setHeaderRoute.matches) || s.setHeaderRoute.matches.size() * (n == 0 ? 1 : n + 1) * b <= ${GATEWAY_LIMITS.matches})))`,
    GATEWAY_MATCH_MESSAGES.headerRoute,
    ".strategy.canary.steps",
  ),
  cel(
    `${APPLIES} || ${BASE}.all(b, ${STEPS}.all(t, !has(t.setMirror) || !has(t.setMirror.percent) || ${MIRROR_MATCHES_OF_T} * b <= ${GATEWAY_LIMITS.matches}))`,
    GATEWAY_MATCH_MESSAGES.mirror,
    ".strategy.canary.steps",
  ),
  cel(
    `${APPLIES} || ${BASE}.all(b, [${MIRRORED}].all(n, b * (1 + ${STICKY_RULES} + (n == 0 ? 1 : n + 1) * ${HEADER_MATCHES} + ${MIRROR_MATCHES}) <= ${GATEWAY_LIMITS.routeMatches}))`,
    GATEWAY_MATCH_MESSAGES.route,
    ".strategy.canary.steps",
  ),
];

/**
 * The zod side of {@link GATEWAY_MATCH_CEL}: an issue at each step whose generated rule would exceed the
 * HTTPRoute's limit. The controller runs it too, so objects stored before the CEL rules existed are `Invalid`
 * before anything is written, and `kubectl vireo lint` says it offline.
 */
export function gatewayMatchIssues(s: SpecLike): { path: (string | number)[]; message: string }[] {
  const steps = s.strategy.canary?.steps;
  if (s.provider !== "gateway-api" || !steps || s.gatewayApi?.httpRoute) return [];
  const base = s.gatewayApi?.parentRefs && s.gatewayApi.matches ? s.gatewayApi.matches.length : 1;
  const mirrored = new Set(
    steps.flatMap(({ setMirror: m }) =>
      m?.percent === undefined
        ? []
        : m.matches
          ? m.matches.flatMap((x) => x.methods ?? [])
          : [...DEFAULT_MIRROR_METHODS],
    ),
  );
  const methods = mirrored.size === 0 ? 1 : mirrored.size + 1;
  const issues: { path: (string | number)[]; message: string }[] = [];
  const affinity = s.strategy.canary?.sessionAffinity;
  let total = 1 + (affinity ? (affinity.pinPrimary === false ? 1 : 2) : 0);
  for (const [i, step] of steps.entries()) {
    const h = step.setHeaderRoute?.matches;
    total += (h?.length ?? 0) * methods;
    if (h && h.length * methods * base > GATEWAY_LIMITS.matches)
      issues.push({
        path: ["strategy", "canary", "steps", i, "setHeaderRoute", "matches"],
        message: GATEWAY_MATCH_MESSAGES.headerRoute,
      });
    const m = step.setMirror;
    if (m?.percent === undefined) continue;
    const perMethod = m.matches
      ? m.matches.reduce((n, x) => n + (x.methods?.length ?? 1), 0)
      : DEFAULT_MIRROR_METHODS.length;
    total += perMethod;
    if (perMethod * base > GATEWAY_LIMITS.matches)
      issues.push({
        path: ["strategy", "canary", "steps", i, "setMirror"],
        message: GATEWAY_MATCH_MESSAGES.mirror,
      });
  }
  if (total * base > GATEWAY_LIMITS.routeMatches)
    issues.push({ path: ["strategy", "canary", "steps"], message: GATEWAY_MATCH_MESSAGES.route });
  return issues;
}
