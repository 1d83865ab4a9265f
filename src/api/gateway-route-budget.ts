// The matches a generated Gateway API HTTPRoute's managed rules need, refused by the schema (zod) when one rule would
// hold more than the HTTPRoute CRD's 64, or the route more than its 128: a header route crosses its matches with the
// split rule's path matches and with every mirrored method, a mirror its methods with the path matches, each sticky
// cookie rule the path matches.
import { GATEWAY_LIMITS } from "./gateway-route-schema.ts";
import { DEFAULT_MIRROR_METHODS } from "./traffic-route-schema.ts";

/** The refusals' messages, shared by the schema and the tests; each names the HTTPRoute's limit. */
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

/**
 * An issue at each step whose generated rule would exceed the HTTPRoute's limit. Checked by the schema (the
 * controller marks the Rollout Invalid before anything is written; `kubectl vireo lint` says it offline), not by CEL:
 * the same count over steps × matches × methods exceeds the API server's CEL cost budget a hundredfold.
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
