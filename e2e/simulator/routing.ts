// Reads primary/canary traffic weights out of mesh routing objects (SMI TrafficSplit, Istio VirtualService,
// Gateway API / Linkerd HTTPRoute); pure functions, no I/O.

/** The two workload versions a canary rollout runs. */
export type Version = "primary" | "canary";

/** Where traffic for the root service goes, as percentages. */
export interface RouteDecision {
  /** Share of requests (0–100) per version; always sums to 100. */
  percent: Record<Version, number>;
  /** Service name a request to each version is addressed to (what a mesh reports as destination service). */
  addressedService: Record<Version, string>;
  /** "Kind/name" of the object the weights came from, or "none" (100% primary). */
  source: string;
}

/** Names the simulator maps to versions; see {@link versionOf}. */
export interface RouteNames {
  /** Root (apex) Service that clients call. */
  service: string;
  /** The user's Deployment (canary workload); Vireo creates `<target>-primary`. */
  target: string;
  namespace: string;
}

/** A routing object as read from the API (only the fields we look at). */
export interface RoutingObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
}

/** Everything goes to the primary: the state before any rollout touched routing. */
export function allPrimary(names: RouteNames): RouteDecision {
  return {
    percent: { primary: 100, canary: 0 },
    addressedService: { primary: names.service, canary: names.service },
    source: "none",
  };
}

/**
 * Maps a backend reference (Service name, possibly an FQDN, or an Istio subset) to a version:
 * `<service>-primary`, `<target>-primary`, the apex service itself and subsets "primary"/"stable" are primary;
 * `<service>-canary`, `<target>-canary` and subset "canary" are canary. Anything else is not ours.
 */
export function versionOf(names: RouteNames, host: string | undefined, subset?: string): Version | undefined {
  if (subset) {
    if (subset === "primary" || subset === "stable") return "primary";
    if (subset === "canary") return "canary";
    return undefined;
  }
  const name = shortName(host, names.namespace);
  if (!name) return undefined;
  if (name === `${names.service}-primary` || name === `${names.target}-primary` || name === names.service) {
    return "primary";
  }
  if (name === `${names.service}-canary` || name === `${names.target}-canary`) return "canary";
  return undefined;
}

/**
 * Parses a TrafficSplit weight of any version: v1alpha2+ integers, and v1alpha1 Kubernetes quantities such as
 * 900m, "1" or "100" (only the ratio between backends matters, so the unit scale is irrelevant).
 */
export function parseWeight(raw: unknown): number {
  if (typeof raw === "number") return Number.isFinite(raw) && raw > 0 ? raw : 0;
  if (typeof raw !== "string") return 0;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(m|k|M|G)?\s*$/.exec(raw);
  if (!m) return 0;
  const scale = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9 }[m[2] as "m" | "k" | "M" | "G"] ?? 1;
  return Number(m[1]) * scale;
}

/** SMI TrafficSplit (any version) whose spec.service is the root service. */
export function fromTrafficSplit(obj: RoutingObject, names: RouteNames): RouteDecision | undefined {
  const spec = obj.spec as
    | { service?: string; backends?: { service?: string; weight?: unknown }[] }
    | undefined;
  if (!spec || shortName(spec.service, names.namespace) !== names.service) return undefined;
  return decide(
    names,
    `TrafficSplit/${obj.metadata?.name}`,
    (spec.backends ?? []).map((b) => ({ host: b.service, weight: parseWeight(b.weight) })),
  );
}

/** Istio VirtualService whose hosts include the root service; uses the first http route without a header match. */
export function fromVirtualService(obj: RoutingObject, names: RouteNames): RouteDecision | undefined {
  const spec = obj.spec as
    | {
        hosts?: string[];
        http?: {
          name?: string;
          match?: { headers?: unknown }[];
          route?: { destination?: { host?: string; subset?: string }; weight?: number }[];
        }[];
      }
    | undefined;
  if (!spec?.hosts?.some((h) => shortName(h, names.namespace) === names.service)) return undefined;
  // The first route plain requests reach (Vireo's header-only routes come first).
  const routes = spec.http?.find((h) => !h.match?.some((m) => m.headers !== undefined))?.route ?? [];
  // Istio: a single destination without weight gets 100; with several, unset weights count as 0.
  const single = routes.length === 1;
  return decide(
    names,
    `VirtualService/${obj.metadata?.name}`,
    routes.map((r) => ({
      host: r.destination?.host,
      subset: r.destination?.subset,
      weight: typeof r.weight === "number" ? r.weight : single ? 100 : 0,
    })),
  );
}

/** Gateway API or Linkerd HTTPRoute with the root Service as parentRef; uses the first rule. */
export function fromHttpRoute(obj: RoutingObject, names: RouteNames): RouteDecision | undefined {
  const spec = obj.spec as
    | {
        parentRefs?: { kind?: string; name?: string; namespace?: string }[];
        rules?: { backendRefs?: { name?: string; weight?: number; kind?: string }[] }[];
      }
    | undefined;
  const parent = spec?.parentRefs?.some(
    (p) =>
      p.kind === "Service" &&
      p.name === names.service &&
      (p.namespace ?? names.namespace) === names.namespace,
  );
  if (!parent) return undefined;
  const refs = (spec?.rules?.[0]?.backendRefs ?? []).filter((b) => (b.kind ?? "Service") === "Service");
  return decide(
    names,
    `HTTPRoute/${obj.metadata?.name}`,
    // Gateway API: weight defaults to 1 when omitted.
    refs.map((b) => ({ host: b.name, weight: typeof b.weight === "number" ? b.weight : 1 })),
  );
}

interface WeightedRef {
  host: string | undefined;
  subset?: string | undefined;
  weight: number;
}

/** Sums weights per version; undefined if no backend maps to a version or all weights are zero. */
function decide(names: RouteNames, source: string, refs: WeightedRef[]): RouteDecision | undefined {
  const total: Record<Version, number> = { primary: 0, canary: 0 };
  const addressed = { ...allPrimary(names).addressedService };
  let matched = false;
  for (const ref of refs) {
    const version = versionOf(names, ref.host, ref.subset);
    if (!version) continue;
    matched = true;
    total[version] += Math.max(0, ref.weight);
    const svc = shortName(ref.host, names.namespace);
    if (svc) addressed[version] = svc;
  }
  const sum = total.primary + total.canary;
  if (!matched || sum <= 0) return undefined;
  const canary = (total.canary / sum) * 100;
  return { percent: { primary: 100 - canary, canary }, addressedService: addressed, source };
}

/** "svc", "svc.ns", "svc.ns.svc.cluster.local" → "svc" when in our namespace; other namespaces don't match. */
function shortName(host: string | undefined, namespace: string): string | undefined {
  if (!host) return undefined;
  const [name, ns] = host.split(".");
  if (ns !== undefined && ns !== namespace) return undefined;
  return name;
}
