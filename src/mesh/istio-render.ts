// Pure Istio rendering: a host-level weighted VirtualService, and ALLOW AuthorizationPolicies for the backend pods.

import type { OwnerRef } from "../api/object-meta.ts";
import { apiVersionOf } from "../api/object-meta.ts";
import type { Weights } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import {
  conditionsOf,
  type HeaderCondition,
  managedAnnotations,
  managedRuleName,
  readManagedRoutes,
  type StickyRule,
  stickyRendering,
} from "./managed-routes.ts";
import type { ResourceType } from "./object-store.ts";
import { byKey, type MeshObject, renderMetadata } from "./objects.ts";
import { normaliseRoutes, normaliseSources } from "./policy.ts";
import type { AccessPolicyModel, SplitRef, TrafficSplitModel } from "./types.ts";
import { percentagesOf, weightedBackends } from "./weights.ts";

/** Served `networking.istio.io` versions Vireo writes, most preferred first (v1 since Istio 1.22). */
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1"] as const;
/** One of {@link ISTIO_NETWORKING_VERSIONS}. */
export type IstioNetworkingVersion = (typeof ISTIO_NETWORKING_VERSIONS)[number];
/** Served `security.istio.io` versions Vireo writes, most preferred first (v1 since Istio 1.22). */
export const ISTIO_SECURITY_VERSIONS = ["v1", "v1beta1"] as const;
/** One of {@link ISTIO_SECURITY_VERSIONS}. */
export type IstioSecurityVersion = (typeof ISTIO_SECURITY_VERSIONS)[number];

/** The VirtualService resource at `version`. */
export const virtualServiceType = (version: IstioNetworkingVersion): ResourceType => ({
  group: "networking.istio.io",
  version,
  plural: "virtualservices",
  kind: "VirtualService",
});
/** The AuthorizationPolicy resource at `version`. */
export const authorizationPolicyType = (version: IstioSecurityVersion): ResourceType => ({
  group: "security.istio.io",
  version,
  plural: "authorizationpolicies",
  kind: "AuthorizationPolicy",
});

/**
 * The VirtualService `<rollout>`: hosts = root Service + extra hosts, gateways = "mesh" + extra gateways, one
 * http route `<rollout>` sending `weights` to the primary and canary Services. When the root Service has other
 * ports, that route matches the rollout port only (mesh traffic; gateway traffic arrives on the gateway's port and
 * is split whatever it is) and a route `<rollout>-other-ports` sends the rest to the primary Service on the port it
 * was addressed to. Destinations are host-level (Flagger's approach), not subsets: the two Services already select
 * disjoint pods, so no DestinationRule is needed — subsets would require mirroring pod labels into a DestinationRule
 * kept in sync with every template change, and a Vireo-owned DestinationRule on the user's host would collide with
 * their own (TLS, outlier detection).
 *
 * Before the split come two routes only the mesh's requests carrying header {@link KEEP_BACKEND_HEADER} reach, one
 * per backend: they keep both backends named in every route configuration, whatever the weights. A proxyless gRPC
 * client (grpc-go, up to at least v1.82) fails the RPCs a route update sends to a cluster its previous routes did
 * not name — its route selector switches before its load balancer knows the cluster ("unknown cluster selected for
 * RPC") — so without them each weight change that brings a backend back from 0 % fails requests (seen in
 * e2e/istio-grpc.test.ts). Envoy sidecars need none of this and ignore them.
 *
 * Between the keep routes and the split come the managed routes (Istio takes the first http route that matches):
 * header routes, sticky cookies and mirrors, each narrowed to what the split route matches; the sticky cookies a
 * backend sets ride on its destination of the split route.
 */
export function renderVirtualService(model: TrafficSplitModel, type: ResourceType): MeshObject {
  const extraHosts = uniqueSorted(model.hosts ?? []).filter((h) => h !== model.rootService);
  const extraGateways = uniqueSorted(model.gateways ?? []).filter((g) => g !== "mesh");
  const multiPort = (model.otherPorts ?? []).some((p) => p !== model.port);
  const base = multiPort ? splitMatches(model.port, extraGateways) : [{}];
  const sticky = stickyRendering(model.rolloutName, model.managed?.sticky);
  const destination = (host: string, weight: number) => {
    const cookie = sticky.splitCookies[host === model.primaryService ? "primary" : "canary"];
    return {
      destination: { host, port: { number: model.port } },
      weight,
      ...(cookie ? { headers: { response: { add: { "set-cookie": cookie } } } } : {}),
    };
  };
  const spec = {
    hosts: [model.rootService, ...extraHosts],
    gateways: ["mesh", ...extraGateways],
    http: [
      keepRoute(model, "primary", multiPort, extraGateways),
      keepRoute(model, "canary", multiPort, extraGateways),
      ...managedHttpRoutes(model, base, sticky.rules),
      {
        name: model.rolloutName,
        ...(multiPort ? { match: base } : {}),
        route: weightedBackends(model, destination),
      },
      // No port on the destination: Istio keeps the port the request was addressed to.
      ...(multiPort
        ? [
            {
              name: `${model.rolloutName}-other-ports`,
              route: [{ destination: { host: model.primaryService } }],
            },
          ]
        : []),
    ],
  };
  const metadata = renderMetadata(model.rolloutName, model.namespace, model.rolloutName, model.owner);
  const annotations = managedAnnotations(model.managed, istioProjection(spec, model.rolloutName));
  return {
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: { ...metadata, annotations: { ...metadata.annotations, ...annotations } },
    spec,
  };
}

/** Istio's StringMatch for a header condition. */
const istioStringMatch = (c: HeaderCondition) => ({
  [c.type === "Exact" ? "exact" : c.type === "Prefix" ? "prefix" : "regex"]: c.value,
});
const istioHeaders = (conditions: readonly HeaderCondition[]) =>
  Object.fromEntries(conditions.map((c) => [c.name, istioStringMatch(c)]));

/**
 * The http routes of the managed routes, in precedence order; `base` is what the split route matches (its port
 * and gateways), crossed with every condition so a managed route never widens what the split route catches.
 */
function managedHttpRoutes(
  model: TrafficSplitModel,
  base: readonly Record<string, unknown>[],
  stickyRules: readonly StickyRule[],
): Record<string, unknown>[] {
  const m = model.managed;
  if (!m) return [];
  const to = (host: string) => [{ destination: { host, port: { number: model.port } } }];
  const backend = (b: "primary" | "canary") => (b === "primary" ? model.primaryService : model.canaryService);
  const cross = (conditions: Record<string, unknown>[]) =>
    conditions.flatMap((c) => base.map((b) => ({ ...b, ...c })));
  return [
    ...m.headerRoutes.map((r) => ({
      name: managedRuleName(model.rolloutName, "header", r.name),
      match: cross(r.matches.map((x) => ({ headers: istioHeaders(conditionsOf(x)) }))),
      route: to(model.canaryService),
    })),
    ...stickyRules.map((r) => ({
      name: r.name,
      match: cross([{ headers: istioHeaders([r.condition]) }]),
      route: to(backend(r.backend)),
      ...(r.setCookie ? { headers: { response: { add: { "set-cookie": r.setCookie } } } } : {}),
    })),
    ...m.mirrors.map((r) => ({
      name: managedRuleName(model.rolloutName, "mirror", r.name),
      match: cross(
        r.matches.flatMap((x) =>
          (x.methods ?? [undefined]).map((method) => ({
            ...(method ? { method: { exact: method } } : {}),
            ...(x.headers ? { headers: istioHeaders(x.headers) } : {}),
          })),
        ),
      ),
      route: to(model.primaryService),
      mirror: { host: model.canaryService, port: { number: model.port } },
      mirrorPercentage: { value: r.percent },
    })),
  ];
}

/**
 * What renders the managed routes in a VirtualService: the http routes before the split but for the keep routes
 * (they carry no managed route), and the split's destinations' headers.
 */
function istioProjection(spec: unknown, rolloutName: string): { routes: unknown[]; headers: unknown[] } {
  const http = (spec as { http?: { name?: string; route?: { headers?: unknown }[] }[] } | undefined)?.http;
  const list = Array.isArray(http) ? http : [];
  const split = list.findIndex((r) => r?.name === rolloutName);
  if (split < 0) return { routes: list, headers: [] };
  const keep = new Set(KEEP_ROLES.map((role) => keepRouteName(rolloutName, role)));
  return {
    routes: list.slice(0, split).filter((r) => !keep.has(r?.name ?? "")),
    headers: (list[split]?.route ?? []).map((d) => d?.headers ?? null),
  };
}

/** The managed routes a VirtualService holds (see readManagedRoutes). */
export function virtualServiceManagedRoutes(obj: MeshObject, ref: Pick<SplitRef, "rolloutName">) {
  const projection = istioProjection(obj.spec, ref.rolloutName);
  return readManagedRoutes(
    obj,
    projection,
    projection.routes.length === 0 && projection.headers.every((h) => h === null),
  );
}

const uniqueSorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort(byKey((x) => x));

/** The request header (value: `primary` or `canary`) of the routes that keep both backends named. */
export const KEEP_BACKEND_HEADER = "x-vireo-backend";

const KEEP_ROLES = ["primary", "canary"] as const;
const keepRouteName = (rolloutName: string, role: (typeof KEEP_ROLES)[number]) =>
  `${rolloutName}-keep-${role}`;

/** The route reached only by mesh requests with {@link KEEP_BACKEND_HEADER} = `role`, to that backend. */
function keepRoute(
  model: TrafficSplitModel,
  role: "primary" | "canary",
  multiPort: boolean,
  extraGateways: readonly string[],
): Record<string, unknown> {
  const host = role === "primary" ? model.primaryService : model.canaryService;
  return {
    name: keepRouteName(model.rolloutName, role),
    match: [
      {
        headers: { [KEEP_BACKEND_HEADER]: { exact: role } },
        ...(multiPort ? { port: model.port } : {}),
        // Never through an ingress Gateway: outside callers must not pick a backend.
        ...(extraGateways.length > 0 ? { gateways: ["mesh"] } : {}),
      },
    ],
    route: [{ destination: { host, port: { number: model.port } } }],
  };
}

/** Mesh traffic to the rollout port, and all traffic through the extra gateways (matches are ORed). */
function splitMatches(port: number, extraGateways: readonly string[]): Record<string, unknown>[] {
  if (extraGateways.length === 0) return [{ port }];
  return [{ port, gateways: ["mesh"] }, ...extraGateways.map((g) => ({ gateways: [g] }))];
}

interface RouteDestination {
  destination?: { host?: string };
  weight?: number;
}

/**
 * Primary/canary percentages from the split route: the http route named after the Rollout (the first route in
 * VirtualServices written before the keep routes existed). Hosts match by short name or namespace-qualified name
 * in the VirtualService's namespace. A lone destination without weight gets 100 (Istio's default); otherwise a
 * missing weight is 0. Null when nothing is routed to either backend.
 */
export function parseVirtualServiceWeights(
  obj: MeshObject,
  ref: Pick<SplitRef, "primaryService" | "canaryService" | "namespace" | "rolloutName">,
): Weights | null {
  const http = (obj.spec as { http?: { name?: string; route?: RouteDestination[] }[] } | undefined)?.http;
  const split = Array.isArray(http) ? (http.find((h) => h?.name === ref.rolloutName) ?? http[0]) : undefined;
  const route = Array.isArray(split?.route) ? split.route : [];
  const weightOf = (r: RouteDestination) =>
    r?.weight === undefined
      ? route.length === 1
        ? 100
        : 0
      : typeof r.weight === "number"
        ? r.weight
        : Number.NaN;
  const sum = (service: string) =>
    route
      .filter((r) => shortHost(r?.destination?.host, ref.namespace) === service)
      .reduce((a, r) => a + weightOf(r), 0);
  return percentagesOf(sum(ref.primaryService), sum(ref.canaryService));
}

/** "svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local" → "svc" when `ns` is ours; else undefined. */
function shortHost(host: string | undefined, namespace: string): string | undefined {
  if (!host) return undefined;
  const [name, ns, ...rest] = host.split(".");
  if (ns === undefined) return name;
  if (ns !== namespace || (rest.length > 0 && rest[0] !== "svc")) return undefined;
  return name;
}

/**
 * Translates an SMI-style path regex (anchored at the start) into an Istio AuthorizationPolicy path, which
 * supports only exact, `prefix*`, `*suffix` and `*`. Returns undefined for "every path". Throws
 * {@link MeshError} `Unsupported` for a regex that is not a literal, optionally followed by `.*` or `$`
 * (allowing more would silently widen or narrow the policy).
 */
export function istioPathOf(pathRegex: string): string | undefined {
  let re = pathRegex.startsWith("^") ? pathRegex.slice(1) : pathRegex;
  const exact = re.endsWith("$") && !re.endsWith("\\$");
  if (exact) re = re.slice(0, -1);
  const prefixed = re.endsWith(".*") && !re.endsWith("\\.*");
  if (prefixed) re = re.slice(0, -2);
  const literal = unescapeLiteral(re);
  if (literal === undefined || literal.includes("*")) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `Istio authorization paths are exact or prefix matches; pathRegex ${JSON.stringify(pathRegex)} is neither ` +
        '(use a literal path, optionally ending in ".*" or "$")',
    );
  }
  if (exact && !prefixed) return literal;
  return literal === "" ? undefined : `${literal}*`;
}

const META = new Set([..."\\^$.|?*+()[]{}"]);

/** The literal a regex denotes when it has no operators (escapes like `\.` allowed), else undefined. */
function unescapeLiteral(re: string): string | undefined {
  let out = "";
  for (let i = 0; i < re.length; i++) {
    const c = re[i] as string;
    if (c === "\\") {
      const next = re[i + 1];
      // \d, \w, \s … are classes, not escapes of a literal character.
      if (next === undefined || /[A-Za-z0-9]/.test(next)) return undefined;
      out += next;
      i++;
    } else if (META.has(c)) {
      return undefined;
    } else {
      out += c;
    }
  }
  return out;
}

/** SPIFFE-style Istio principal of a source; "*" becomes a prefix match on the namespace. */
export function istioPrincipal(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * The ALLOW AuthorizationPolicy `<rollout>-<role>` for one set of backend pods: callers by mTLS principal, and
 * one operation per route (`to` omitted when a route allows everything). Istio's ALLOW semantics: once any ALLOW
 * policy selects a workload, requests matching none are denied. It selects the pods (`selector`, enforced by their
 * sidecars) or, behind a waypoint, attaches to Services (`targetRefs`, enforced by the waypoint for requests to them).
 */
export function renderAuthorizationPolicy(
  policy: AccessPolicyModel,
  role: "primary" | "canary",
  target: { pods: Record<string, string> } | { services: readonly string[] },
  type: ResourceType,
  options: { trustDomain?: string; owner?: OwnerRef } = {},
): MeshObject {
  const trustDomain = options.trustDomain ?? "cluster.local";
  const principals = normaliseSources(policy).map((s) =>
    istioPrincipal(trustDomain, s.namespace, s.serviceAccount),
  );
  const rule: Record<string, unknown> = { from: [{ source: { principals } }] };
  const to = istioOperations(policy);
  if (to !== undefined) rule.to = to;
  return {
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: renderMetadata(
      `${policy.rolloutName}-${role}`,
      policy.namespace,
      policy.rolloutName,
      options.owner ?? policy.owner,
    ),
    spec: {
      ...("pods" in target
        ? { selector: { matchLabels: { ...target.pods } } }
        : { targetRefs: target.services.map((name) => ({ group: "", kind: "Service", name })) }),
      action: "ALLOW",
      rules: [rule],
    },
  };
}

/** Operations for the routes, de-duplicated and sorted; undefined when some route allows every request. */
function istioOperations(policy: AccessPolicyModel): { operation: Record<string, string[]> }[] | undefined {
  const ops = new Map<string, Record<string, string[]>>();
  for (const route of normaliseRoutes(policy.routes)) {
    const path = istioPathOf(route.pathRegex);
    const operation: Record<string, string[]> = {};
    if (path !== undefined) operation.paths = [path];
    if (!route.methods.includes("*")) operation.methods = route.methods;
    if (Object.keys(operation).length === 0) return undefined;
    ops.set(JSON.stringify(operation), operation);
  }
  return [...ops.entries()].sort(byKey(([k]) => k)).map(([, operation]) => ({ operation }));
}
