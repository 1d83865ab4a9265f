// Which hosts and gateways a Rollout may route: the names of its own Services always; any other hostname, and any
// gateway outside its namespace, only where the operator allows it for that namespace (--allowed-hosts,
// --allowed-gateways). Pure: the reconciler refuses what this names before any routing object is written.

import type { RolloutSpec } from "../api/rollout-schema.ts";

/** One allow-list entry: `pattern` applies to Rollouts in `namespace` (`*`: every namespace). */
export interface ExposureRule {
  namespace: string;
  pattern: string;
}

/** What the operator allows beyond a Rollout's own Services and namespace. */
export interface ExposurePolicy {
  /** Hostnames (`shop.example.com`, `*.shop.example.com`, `*`) for Istio `hosts` and Gateway API `hostnames`. */
  hosts: readonly ExposureRule[];
  /** Gateways in other namespaces (`istio-system/public`, `infra/*`): Istio `gateways`, Gateway API `parentRefs`. */
  gateways: readonly ExposureRule[];
}

/** Nothing beyond the Rollout's own Services and namespace: the default. */
export const CLOSED_POLICY: ExposurePolicy = { hosts: [], gateways: [] };

/** Stands for the Rollout's namespace in a pattern, so one entry can give every namespace its own subdomain. */
const NAMESPACE_PLACEHOLDER = "{namespace}";
const LABEL = "([a-z0-9]([-a-z0-9]*[a-z0-9])?|\\{namespace\\})";
const HOST_PATTERN = new RegExp(`^(\\*|(\\*\\.)?${LABEL}(\\.${LABEL})*)$`);
const GATEWAY_PATTERN = new RegExp(`^${LABEL}/(\\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`);
const NAMESPACE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)$/;

/**
 * Parses `[namespace=]pattern` (no namespace: every namespace). Host patterns: a hostname, `*.` and a domain, or
 * `*` (any host: no policy); gateway patterns: `namespace/name` or `namespace/*`. Either may use `{namespace}`.
 * @throws Error naming the entry when it has another shape.
 */
export function parseExposureRule(entry: string, kind: "host" | "gateway"): ExposureRule {
  const text = entry.trim().toLowerCase();
  const eq = text.indexOf("=");
  const namespace = eq < 0 ? "*" : text.slice(0, eq);
  const pattern = eq < 0 ? text : text.slice(eq + 1);
  const shape = kind === "host" ? HOST_PATTERN : GATEWAY_PATTERN;
  if (!NAMESPACE.test(namespace) || !shape.test(pattern))
    throw new Error(
      `${JSON.stringify(entry.slice(0, 100))} is not [namespace=]${kind === "host" ? "hostname, *.domain or *" : "namespace/name or namespace/*"}`,
    );
  return { namespace, pattern };
}

/** The patterns that apply to Rollouts in `namespace`, with the placeholder filled in. */
function patternsFor(rules: readonly ExposureRule[], namespace: string): string[] {
  return rules
    .filter((r) => r.namespace === "*" || r.namespace === namespace)
    .map((r) => r.pattern.replaceAll(NAMESPACE_PLACEHOLDER, namespace));
}

/** True when `pattern` covers `host`: equal, `*`, or `*.d` for any host (wildcards too) below `d`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  if (!pattern.startsWith("*.")) return false;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length && host !== "*";
}

/** The names by which Istio knows a Service of the Rollout's namespace (short, `.ns`, `.ns.svc`, FQDN). */
function serviceHostnames(service: string, namespace: string): string[] {
  const svc = `${service}.${namespace}.svc`;
  return [service, `${service}.${namespace}`, svc, `${svc}.cluster.local`];
}

/** The services a Rollout routes: its root, and the backends Vireo makes beside it. */
export interface OwnServices {
  namespace: string;
  rootService: string;
  primaryService: string;
  canaryService: string;
}

/** One refused host or gateway: the field, and why. */
export interface ExposureIssue {
  path: string;
  message: string;
}

/**
 * The spec's hosts and gateways the policy refuses, each with its field and the flag that would allow it (empty:
 * all allowed). Istio `hosts` other than its own Services' names need --allowed-hosts (a VirtualService applies
 * mesh-wide, so a foreign host would be routed to this Rollout's pods everywhere); Istio `gateways` and Gateway API
 * `parentRefs` outside the Rollout's namespace need --allowed-gateways (`mesh` and the namespace's own are always
 * allowed); Gateway API `hostnames` need --allowed-hosts when a parent is outside the namespace. A Gateway's own
 * `allowedRoutes` still applies on top: the Gateway enforces it, and its refusal shows as RouteNotAccepted.
 */
export function exposureIssues(spec: RolloutSpec, own: OwnServices, policy: ExposurePolicy): ExposureIssue[] {
  const ns = own.namespace;
  const hostPatterns = patternsFor(policy.hosts, ns);
  const gatewayPatterns = patternsFor(policy.gateways, ns);
  const ownHosts = new Set(
    [own.rootService, own.primaryService, own.canaryService].flatMap((s) => serviceHostnames(s, ns)),
  );
  const issues: ExposureIssue[] = [];
  const host = (path: string, raw: string) => {
    const h = raw.toLowerCase();
    if (ownHosts.has(h) || hostPatterns.some((p) => hostMatches(p, h))) return;
    issues.push({
      path,
      message: `host ${raw} is not allowed in namespace ${ns}: a Rollout may route its own Services' names, and hostnames the operator allows its namespace (--allowed-hosts)`,
    });
  };
  const gateway = (path: string, gwNamespace: string, name: string) => {
    if (gwNamespace === ns) return;
    const full = `${gwNamespace}/${name}`;
    if (gatewayPatterns.some((p) => p === full || p === `${gwNamespace}/*`)) return;
    issues.push({
      path,
      message: `gateway ${full} is not allowed in namespace ${ns}: a Rollout may use gateways of its own namespace, and those the operator allows its namespace (--allowed-gateways)`,
    });
  };
  for (const [i, h] of (spec.service?.hosts ?? []).entries()) host(`spec.service.hosts[${i}]`, h);
  for (const [i, g] of (spec.service?.gateways ?? []).entries()) {
    if (g === "mesh") continue;
    // The schema admits `name` (this namespace) and `namespace/name` only.
    const [gwNamespace, name] = g.includes("/") ? g.split("/", 2) : [ns, g];
    gateway(`spec.service.gateways[${i}]`, gwNamespace ?? ns, name ?? g);
  }
  const parents = spec.gatewayApi?.parentRefs ?? [];
  for (const [i, p] of parents.entries())
    gateway(`spec.gatewayApi.parentRefs[${i}]`, p.namespace ?? ns, p.name);
  if (parents.some((p) => (p.namespace ?? ns) !== ns))
    for (const [i, h] of (spec.gatewayApi?.hostnames ?? []).entries())
      host(`spec.gatewayApi.hostnames[${i}]`, h);
  return issues;
}
