// Reading what istiod pushed (Envoy xDS resources as protojson, from xdsprobe ads): routes, weights, clusters, RBAC.

/** A header an Envoy route adds (HeaderValueOption). */
export interface HeaderToAdd {
  header?: { key?: string; value?: string };
}

/** One weighted cluster of a route. */
export interface WeightedCluster {
  name: string;
  weight?: number;
  /** Headers added to the responses this cluster answers (Istio's per-destination `headers.response.add`). */
  responseHeadersToAdd?: HeaderToAdd[];
}

/** A route's request mirror: the cluster the copies go to and the share copied. */
export interface MirrorPolicy {
  cluster?: string;
  runtimeFraction?: { defaultValue?: { numerator?: number; denominator?: string } };
}

/** An Envoy route (envoy.config.route.v3.Route), the fields the tests read. */
export interface EnvoyRoute {
  name?: string;
  match?: Record<string, unknown>;
  route?: {
    cluster?: string;
    weightedClusters?: { clusters?: WeightedCluster[] };
    requestMirrorPolicies?: MirrorPolicy[];
  };
  directResponse?: { status?: number };
}

/** An Envoy virtual host. */
export interface VirtualHost {
  name?: string;
  domains?: string[];
  routes?: EnvoyRoute[];
}

/** An Envoy RouteConfiguration. */
export interface RouteConfiguration {
  name?: string;
  virtualHosts?: VirtualHost[];
}

interface TypedConfig {
  "@type"?: string;
  [field: string]: unknown;
}

/** An Envoy listener, as far as filters go. */
export interface EnvoyListener {
  name?: string;
  filterChains?: { filters?: { name?: string; typedConfig?: TypedConfig }[] }[];
}

/** Everything the ADS client holds (its /state). */
export interface AdsState {
  nodeId: string;
  listeners: Record<string, EnvoyListener> | null;
  routes: Record<string, RouteConfiguration> | null;
  clusters: Record<string, { name?: string; transportSocket?: unknown }> | null;
  endpoints: Record<string, ClusterLoadAssignment> | null;
  pushes: { type: string; atMs: number; version: string; names: string[] }[];
  errors: string[];
}

/** An Envoy ClusterLoadAssignment. */
export interface ClusterLoadAssignment {
  clusterName?: string;
  endpoints?: {
    lbEndpoints?: { endpoint?: { address?: { socketAddress?: { address?: string; portValue?: number } } } }[];
  }[];
}

/** Istio's outbound cluster name for a Service port. */
export const outboundCluster = (host: string, port: number) => `outbound|${port}||${host}`;

/** The virtual host of RDS `routeName` serving `domain` (or `domain:<port>`; Istio adds short forms too). */
export function virtualHostFor(state: AdsState, routeName: string, domain: string): VirtualHost | undefined {
  return state.routes?.[routeName]?.virtualHosts?.find((v) =>
    v.domains?.some((d) => d === domain || d.startsWith(`${domain}:`)),
  );
}

/**
 * Where an Envoy route sends traffic, as cluster → weight: a single cluster counts 100; weighted clusters their
 * weights (Istio writes integer percentages). Empty for a direct response or no route.
 */
export function routeTargets(route: EnvoyRoute | undefined): Record<string, number> {
  if (!route?.route) return {};
  if (route.route.cluster) return { [route.route.cluster]: 100 };
  const out: Record<string, number> = {};
  for (const c of route.route.weightedClusters?.clusters ?? [])
    out[c.name] = (out[c.name] ?? 0) + (c.weight ?? 0);
  return out;
}

/**
 * The traffic split istiod pushed for `domain` on RDS `routeName`: the targets of its first route that matches
 * without a header (Vireo's header-only routes, which keep both backends named, come first).
 */
export function pushedSplit(state: AdsState, routeName: string, domain: string): Record<string, number> {
  const routes = virtualHostFor(state, routeName, domain)?.routes ?? [];
  return routeTargets(routes.find((r) => !(r.match as { headers?: unknown[] } | undefined)?.headers?.length));
}

/** The header conditions of a route's match (name → the matcher as pushed). */
export function headerMatchers(route: EnvoyRoute | undefined): Record<string, Record<string, unknown>> {
  const headers = (route?.match as { headers?: { name?: string; stringMatch?: Record<string, unknown> }[] })
    ?.headers;
  return Object.fromEntries((headers ?? []).map((h) => [h.name ?? "", h.stringMatch ?? {}]));
}

/** A FractionalPercent (numerator over HUNDRED, TEN_THOUSAND or MILLION; HUNDRED by default) in percent. */
export function percentOf(f: { numerator?: number; denominator?: string } | undefined): number {
  const of = { TEN_THOUSAND: 1e4, MILLION: 1e6 }[f?.denominator ?? ""] ?? 100;
  return (100 * (f?.numerator ?? 0)) / of;
}

/** Endpoint addresses (ip:port) istiod pushed for `cluster`, sorted. */
export function endpointsOf(state: AdsState, cluster: string): string[] {
  const cla = state.endpoints?.[cluster];
  return (cla?.endpoints ?? [])
    .flatMap((l) => l.lbEndpoints ?? [])
    .map(
      (e) =>
        `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`,
    )
    .sort();
}

/** The RBAC policies (name → policy JSON) of every `envoy.filters.http.rbac` filter on listener `name`. */
export function rbacPolicies(state: AdsState, listener: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const chain of state.listeners?.[listener]?.filterChains ?? []) {
    for (const f of chain.filters ?? []) {
      const httpFilters = (f.typedConfig?.httpFilters ?? []) as {
        name?: string;
        typedConfig?: TypedConfig;
      }[];
      for (const h of httpFilters) {
        if (h.name !== "envoy.filters.http.rbac") continue;
        const rules = h.typedConfig?.rules as { policies?: Record<string, unknown> } | undefined;
        if (rules?.policies) out.push(rules.policies);
      }
    }
  }
  return out;
}
