// Pure helpers of the user-owned HTTPRoute mode: find the named rule, re-weight only its two backendRefs, add the
// managed routes as rules of Vireo's own (named vireo.<rollout>.…, after the user's), and build the
// server-side-apply body that carries nothing else Vireo did not read from the live route.
import type { GatewayApiSpec } from "../api/gateway-route-schema.ts";
import type { Weights } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { parseHttpRouteWeights } from "./gamma-render.ts";
import type { GatewayParentRef } from "./gateway-api-render.ts";
import {
  GATEWAY_API_STYLE,
  type HttpRouteMatch,
  isManagedRule,
  managedHttpRules,
  userRouteProjection,
} from "./http-route-managed.ts";
import { managedAnnotations } from "./managed-routes.ts";
import type { MeshObject } from "./objects.ts";
import type { SplitRef, TrafficSplitModel } from "./types.ts";

type UserRoute = NonNullable<GatewayApiSpec["httpRoute"]>;
interface Rule {
  name?: string;
  backendRefs?: { group?: string; kind?: string; name?: string; weight?: number }[];
  [k: string]: unknown;
}

const rulesOf = (route: MeshObject): Rule[] => {
  const rules = (route.spec as { rules?: unknown } | undefined)?.rules;
  return Array.isArray(rules) ? (rules as Rule[]) : [];
};

const where = (route: MeshObject, sel: UserRoute) =>
  `HTTPRoute ${route.metadata.namespace}/${route.metadata.name} ` +
  (sel.ruleName !== undefined ? `rule "${sel.ruleName}"` : `rule #${sel.ruleIndex ?? 0}`);

/** Index of the selected rule; MeshError Unsupported (a person must fix the route or the Rollout) when absent. */
export function ruleIndexOf(route: MeshObject, sel: UserRoute): number {
  const rules = rulesOf(route);
  const i =
    sel.ruleName !== undefined ? rules.findIndex((r) => r?.name === sel.ruleName) : (sel.ruleIndex ?? 0);
  if (i < 0 || i >= rules.length)
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `${where(route, sel)} does not exist (spec.gatewayApi.httpRoute)`,
    );
  return i;
}

const isService = (b: { group?: string; kind?: string }) =>
  (b.group ?? "") === "" && (b.kind ?? "Service") === "Service";

/** Primary/canary percentages of the selected rule (null when it routes nothing to either). */
export function userRouteWeights(route: MeshObject, sel: UserRoute, ref: SplitRef): Weights | null {
  const rule = rulesOf(route)[ruleIndexOf(route, sel)];
  return parseHttpRouteWeights({ ...route, spec: { rules: [rule] } }, ref);
}

/**
 * The live rules with only the selected rule's primary and canary backendRefs' weights set. The rule must already
 * reference both Services exactly once: Vireo does not add backends to a route it does not own.
 */
export function reweightedRules(route: MeshObject, sel: UserRoute, ref: SplitRef, weights: Weights): Rule[] {
  const rules = rulesOf(route);
  const i = ruleIndexOf(route, sel);
  const refs = rules[i]?.backendRefs ?? [];
  for (const svc of [ref.primaryService, ref.canaryService]) {
    const n = refs.filter((b) => isService(b) && b.name === svc).length;
    if (n !== 1)
      throw new MeshError(
        MeshErrorKind.Unsupported,
        `${where(route, sel)} must reference Service ${svc} exactly once in backendRefs (found ${n}); Vireo only sets weights there`,
      );
  }
  const weightOf = (name: string | undefined) =>
    name === ref.primaryService ? weights.primary : name === ref.canaryService ? weights.canary : undefined;
  return rules.map((rule, j) =>
    j !== i
      ? rule
      : {
          ...rule,
          backendRefs: refs.map((b) => {
            const w = isService(b) ? weightOf(b.name) : undefined;
            return w === undefined ? b : { ...b, weight: w };
          }),
        },
  );
}

/** What the upstream CRD defaults a rule without matches to: every path. */
const EVERY_PATH: HttpRouteMatch[] = [{ path: { type: "PathPrefix", value: "/" } }];
/** Upstream bound on a route's rules. */
const MAX_RULES = 16;

/**
 * The user's rules (as re-weighted) with `split.managed` rendered beside them: Vireo's earlier rules for this Rollout
 * dropped, its current ones appended — after the user's, so a `ruleIndex` keeps pointing at the same rule — each
 * crossed with the selected rule's matches, so none catches a request the user's rule does not. The user's rules and
 * matches are never changed. Sticky sessions are refused: they would add filters to the user's backendRefs.
 */
export function withManagedRules(
  route: MeshObject,
  sel: UserRoute,
  split: TrafficSplitModel,
  reweighted: Rule[],
): Rule[] {
  const own = reweighted.filter((r) => !isManagedRule(r, split.rolloutName));
  const m = split.managed;
  if (!m || (m.headerRoutes.length === 0 && m.mirrors.length === 0 && !m.sticky)) return own;
  if (m.sticky)
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `sticky sessions are not rendered into a user-owned HTTPRoute (${where(route, sel)}): the cookies would change its backendRefs; use spec.gatewayApi.parentRefs so Vireo generates the route`,
    );
  const selected = own[ruleIndexOf({ ...route, spec: { rules: own } }, sel)];
  const base = (selected?.matches as HttpRouteMatch[] | undefined) ?? EVERY_PATH;
  const others = own.reduce((n, r) => n + ((r.matches as unknown[] | undefined)?.length ?? 1), 0);
  const managed = managedHttpRules(split, base, GATEWAY_API_STYLE, others) as Rule[];
  if (own.length + managed.length > MAX_RULES)
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `${where(route, sel)}: its ${own.length} rules and the ${managed.length} managed ones exceed the ${MAX_RULES} an HTTPRoute holds`,
    );
  return [...own, ...managed];
}

/** The managed-routes annotation of a user-owned route holding `rules` for `split` (none when nothing is managed). */
export const userRouteAnnotations = (split: TrafficSplitModel, rules: Rule[]): Record<string, string> =>
  managedAnnotations(split.managed, userRouteProjection({ rules }, split.rolloutName));

/**
 * Server-side-apply body for the re-weighted route. `spec.rules` is an atomic list in the upstream CRD, so the
 * apply carries the whole list as read, weights changed and Vireo's rules in place; the resourceVersion makes the API server refuse it (409)
 * when anyone changed the route since that read, so a concurrent GitOps sync is never overwritten with old rules.
 */
export function userRouteApplyBody(
  route: MeshObject,
  rules: Rule[],
  annotations: Record<string, string> = {},
): MeshObject {
  return {
    apiVersion: route.apiVersion,
    kind: route.kind,
    metadata: {
      name: route.metadata.name,
      namespace: route.metadata.namespace,
      ...(route.metadata.resourceVersion ? { resourceVersion: route.metadata.resourceVersion } : {}),
      // Vireo's own annotation: an apply without it removes it (no other manager owns it).
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: { rules },
  };
}

/** The Gateway parents of a user-owned route (Service parents are GAMMA: meshes need not write status for them). */
export function userRouteGatewayParents(route: MeshObject): GatewayParentRef[] {
  const refs = (route.spec as { parentRefs?: Partial<GatewayParentRef>[] } | undefined)?.parentRefs ?? [];
  return refs
    .filter(
      (p) =>
        (p.group ?? "gateway.networking.k8s.io") === "gateway.networking.k8s.io" &&
        (p.kind ?? "Gateway") === "Gateway",
    )
    .map((p) => ({
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: p.name ?? "",
      ...(p.namespace !== undefined ? { namespace: p.namespace } : {}),
      ...(p.sectionName !== undefined ? { sectionName: p.sectionName } : {}),
      ...(p.port !== undefined ? { port: p.port } : {}),
    }));
}
