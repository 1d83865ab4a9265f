// Mesh-neutral normalisation of an access policy, so equal policies render byte-identical objects in every mesh.
import { byKey } from "./objects.ts";
import type { AccessPolicyModel, PolicyRoute } from "./types.ts";

/** One normalised route: a named path regex (anchored at the start, SMI semantics) and its methods. */
export interface RouteMatch {
  name: string;
  pathRegex: string;
  /** Upper-case, sorted, de-duplicated; `["*"]` means every method. */
  methods: string[];
}

/** Matches every request: the rendering of "no routes given". */
const ALL_ROUTES: Omit<RouteMatch, "name"> = { pathRegex: ".*", methods: ["*"] };

/**
 * Normalises routes into named, de-duplicated, sorted matches. Semantically equal inputs (methods in another
 * order or case, duplicates, routes reordered, "*" beside verbs) give identical output, so a policy that did
 * not change never causes a write. A missing pathRegex means every path, missing methods every method.
 */
export function normaliseRoutes(routes: readonly PolicyRoute[] | undefined): RouteMatch[] {
  const given = routes ?? [];
  const unnamed = given.length === 0 ? [ALL_ROUTES] : given.map(normaliseRoute);
  const unique = new Map<string, Omit<RouteMatch, "name">>();
  for (const r of unnamed) unique.set(`${r.pathRegex}\u0000${r.methods.join(",")}`, r);
  return [...unique.entries()]
    .sort(byKey(([k]) => k))
    .map(([, r], i) => ({ name: `route-${i}`, pathRegex: r.pathRegex, methods: r.methods }));
}

function normaliseRoute(route: PolicyRoute): Omit<RouteMatch, "name"> {
  const methods = [...new Set((route.methods ?? []).map((m) => m.trim().toUpperCase()).filter(Boolean))];
  return {
    pathRegex: route.pathRegex ? route.pathRegex : ".*",
    methods: methods.length === 0 || methods.includes("*") ? ["*"] : methods.sort(),
  };
}

/** A normalised caller identity; `serviceAccount` "*" means every ServiceAccount of `namespace`. */
export interface SourceIdentity {
  serviceAccount: string;
  namespace: string;
}

/**
 * De-duplicated sources sorted by namespace then name; an empty namespace means the Rollout's. A "*" source
 * absorbs the named ServiceAccounts of its namespace.
 */
export function normaliseSources(policy: AccessPolicyModel): SourceIdentity[] {
  const unique = new Map<string, SourceIdentity>();
  for (const s of policy.sources) {
    const namespace = s.namespace || policy.namespace;
    unique.set(`${namespace}/${s.serviceAccount}`, { serviceAccount: s.serviceAccount, namespace });
  }
  const wildcards = new Set(
    [...unique.values()].filter((s) => s.serviceAccount === "*").map((s) => s.namespace),
  );
  return [...unique.values()]
    .filter((s) => s.serviceAccount === "*" || !wildcards.has(s.namespace))
    .sort(byKey((s) => `${s.namespace}/${s.serviceAccount}`));
}
