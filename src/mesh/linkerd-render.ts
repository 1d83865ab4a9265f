// Pure Linkerd policy rendering: Server, MeshTLSAuthentication, AuthorizationPolicy and a per-route HTTPRoute.

import type { OwnerRef } from "../api/object-meta.ts";
import { apiVersionOf } from "../api/object-meta.ts";
import { MAX_LINKERD_PATH_REGEX, NAME_LIMITS, type RolloutSpec } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import type { BackendPods } from "./backend-pods.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { linkerdHttpRouteType } from "./gamma-render.ts";
import type { ResourceType } from "./object-store.ts";
import { byKey, type MeshObject, renderMetadata } from "./objects.ts";
import { probePathsOn } from "./pod-probes.ts";
import { normaliseRoutes, normaliseSources } from "./policy.ts";
import type { AccessPolicyModel } from "./types.ts";

/** `policy.linkerd.io` Server versions Vireo writes, most preferred first (v1beta3: Linkerd ≥ 2.16). */
export const LINKERD_SERVER_VERSIONS = ["v1beta3", "v1beta1"] as const;
/** One of {@link LINKERD_SERVER_VERSIONS}. */
export type LinkerdServerVersion = (typeof LINKERD_SERVER_VERSIONS)[number];

const POLICY_GROUP = "policy.linkerd.io";

/** The Server resource at `version`. */
export const serverType = (version: LinkerdServerVersion): ResourceType => ({
  group: POLICY_GROUP,
  version,
  plural: "servers",
  kind: "Server",
});
/** The Linkerd AuthorizationPolicy resource. */
export const linkerdAuthorizationPolicyType: ResourceType = {
  group: POLICY_GROUP,
  version: "v1alpha1",
  plural: "authorizationpolicies",
  kind: "AuthorizationPolicy",
};
/** The MeshTLSAuthentication resource. */
export const meshTlsAuthenticationType: ResourceType = {
  group: POLICY_GROUP,
  version: "v1alpha1",
  plural: "meshtlsauthentications",
  kind: "MeshTLSAuthentication",
};

/** The NetworkAuthentication resource. */
export const networkAuthenticationType: ResourceType = {
  group: POLICY_GROUP,
  version: "v1alpha1",
  plural: "networkauthentications",
  kind: "NetworkAuthentication",
};

/** Name of the HTTPRoute that narrows authorization to the policy's routes. */
export const authzRouteName = (rolloutName: string): string => `${rolloutName}-authz`;
/** Name of the HTTPRoute, NetworkAuthentication and AuthorizationPolicy that keep kubelet probes authorized. */
export const probesName = (rolloutName: string): string => `${rolloutName}-probes`;

/** A Kubernetes LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In"; values: string[] }[];
}

/**
 * One selector for both backends' pods. Vireo's primary renames the values of the user's selector keys, so the
 * key sets are equal: keys with equal values stay in `matchLabels`, the others become `In [canary, primary]`.
 * Throws {@link MeshError} `Unsupported` when the key sets differ (no single selector would be exact).
 */
export function unionSelector(
  primary: Record<string, string>,
  canary: Record<string, string>,
): LabelSelector {
  const keys = Object.keys(primary).sort(byKey((k) => k));
  const canaryKeys = Object.keys(canary).sort(byKey((k) => k));
  if (keys.join("\u0000") !== canaryKeys.join("\u0000")) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `primary and canary Services select different label keys (${keys.join(",")} vs ${canaryKeys.join(",")}); ` +
        "a Linkerd Server needs one selector for both",
    );
  }
  const matchLabels: Record<string, string> = {};
  const matchExpressions: NonNullable<LabelSelector["matchExpressions"]> = [];
  for (const key of keys) {
    const p = primary[key] as string;
    const c = canary[key] as string;
    if (p === c) matchLabels[key] = p;
    else matchExpressions.push({ key, operator: "In", values: [c, p].sort(byKey((v) => v)) });
  }
  const selector: LabelSelector = {};
  if (Object.keys(matchLabels).length > 0) selector.matchLabels = matchLabels;
  if (matchExpressions.length > 0) selector.matchExpressions = matchExpressions;
  return selector;
}

/**
 * The Server `<rollout>`: the backends' pods on the Service's target port, default-deny (v1beta3 spells it
 * out; defaulted fields are written explicitly so an unchanged Server is never rewritten).
 */
export function renderServer(
  policy: AccessPolicyModel,
  pods: BackendPods,
  version: LinkerdServerVersion,
  owner?: OwnerRef,
): MeshObject {
  const spec: Record<string, unknown> = {
    podSelector: unionSelector(pods.primary, pods.canary),
    port: pods.targetPort,
    proxyProtocol: "unknown",
  };
  if (version === "v1beta3") spec.accessPolicy = "deny";
  return objectOf(serverType(version), policy.rolloutName, policy, owner, spec);
}

/** Linkerd identity of a ServiceAccount; "*" becomes a prefix wildcard over the namespace. */
export function linkerdIdentity(serviceAccount: string, namespace: string, trustDomain: string): string {
  return `${serviceAccount}.${namespace}.serviceaccount.identity.linkerd.${trustDomain}`;
}

/** The MeshTLSAuthentication `<rollout>` listing the callers' identities. */
export function renderMeshTlsAuthentication(
  policy: AccessPolicyModel,
  trustDomain = "cluster.local",
  owner?: OwnerRef,
): MeshObject {
  const identities = normaliseSources(policy).map((s) =>
    linkerdIdentity(s.serviceAccount, s.namespace, trustDomain),
  );
  return objectOf(meshTlsAuthenticationType, policy.rolloutName, policy, owner, { identities });
}

/** True when the policy restricts routes (otherwise authorizing the whole Server is exact). */
export function needsAuthzRoute(policy: AccessPolicyModel): boolean {
  return normaliseRoutes(policy.routes).some((r) => r.pathRegex !== ".*" || !r.methods.includes("*"));
}

const MATCHES_PER_RULE = 8; // upstream HTTPRoute CRDs have capped rules[].matches at 8
const MAX_RULES = 16;
const MAX_PATH = 1024; // upstream Linkerd HTTPRoute path match value limit
/** Most matches one authz HTTPRoute holds (rules × matches per rule of the upstream CRD). */
export const MAX_AUTHZ_MATCHES = MATCHES_PER_RULE * MAX_RULES;

/**
 * The HTTPRoute path match for an SMI path regex. The regex is anchored at the start only, so it is written as
 * `^(?:re).*`, correct whether the proxy anchors both ends or neither; ".*" is the PathPrefix "/" the CRDs
 * would default.
 */
export function authzPathMatch(pathRegex: string): { type: string; value: string } {
  return pathRegex === ".*"
    ? { type: "PathPrefix", value: "/" }
    : { type: "RegularExpression", value: `^(?:${pathRegex}).*` };
}

/** How many HTTPRoute matches the policy's routes expand to: one per route and method. */
export function authzMatchCount(policy: Pick<AccessPolicyModel, "routes">): number {
  return normaliseRoutes(policy.routes).reduce(
    (n, r) => n + (r.methods.includes("*") ? 1 : r.methods.length),
    0,
  );
}

/**
 * What the API server would refuse of the authz HTTPRoute this spec's access policy renders to: path values over
 * 1024 characters once wrapped, more matches than the route holds. Checked before anything is written.
 */
export function linkerdSpecIssues(spec: RolloutSpec): SpecIssue[] {
  if (!spec.accessPolicy) return [];
  const issues: SpecIssue[] = [];
  const routes = spec.accessPolicy.routes ?? [];
  for (const [i, r] of routes.entries()) {
    if (r.pathRegex === undefined) continue;
    const value = authzPathMatch(r.pathRegex).value;
    if (value.length > NAME_LIMITS.httpRoutePath) {
      issues.push({
        path: `spec.accessPolicy.routes[${i}].pathRegex`,
        message: `rendered as a ${value.length}-character Linkerd HTTPRoute path (at most ${NAME_LIMITS.httpRoutePath}); at most ${MAX_LINKERD_PATH_REGEX} characters with provider linkerd`,
      });
    }
  }
  const matches = authzMatchCount({ routes });
  if (matches > MAX_AUTHZ_MATCHES) {
    issues.push({
      path: "spec.accessPolicy.routes",
      message: `expands to ${matches} Linkerd HTTPRoute matches (one per route and method); at most ${MAX_AUTHZ_MATCHES}`,
    });
  }
  return issues;
}

/**
 * The inbound HTTPRoute `<rollout>-authz` (parent: the Server) with one match per route and method, paths as
 * {@link authzPathMatch} writes them.
 */
export function renderAuthzRoute(policy: AccessPolicyModel, owner?: OwnerRef): MeshObject {
  const matches: Record<string, unknown>[] = [];
  for (const route of normaliseRoutes(policy.routes)) {
    const path = authzPathMatch(route.pathRegex);
    if (route.methods.includes("*")) matches.push({ path });
    else for (const method of route.methods) matches.push({ path, method });
  }
  const rules: { matches: Record<string, unknown>[] }[] = [];
  for (let i = 0; i < matches.length; i += MATCHES_PER_RULE)
    rules.push({ matches: matches.slice(i, i + MATCHES_PER_RULE) });
  if (rules.length > MAX_RULES) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `the access policy expands to ${matches.length} route matches; Linkerd HTTPRoutes hold at most ` +
        `${MAX_RULES * MATCHES_PER_RULE} (fewer routes, or fewer methods per route)`,
    );
  }
  return objectOf(linkerdHttpRouteType, authzRouteName(policy.rolloutName), policy, owner, {
    parentRefs: [{ group: POLICY_GROUP, kind: "Server", name: policy.rolloutName }],
    rules,
  });
}

/** The objects that keep the kubelet's probes authorized once `<rollout>-authz` selects the Server. */
export interface ProbeObjects {
  route: MeshObject;
  authn: MeshObject;
  authz: MeshObject;
}

/**
 * Linkerd's policy controller authorizes the kubelet's HTTP probes with default inbound routes, but only while no
 * HTTPRoute selects the Server; the per-route `<rollout>-authz` does, so without these the probes on the Server's
 * port would be denied and the pods would never become (or stay) Ready. Mirrors the defaults it replaces: HTTPRoute
 * `<rollout>-probes` with an Exact GET match per probe path on `targetPort`, authorized for unauthenticated clients
 * from every network (NetworkAuthentication 0.0.0.0/0 and ::/0; the kubelet is not meshed). Null when no route
 * restriction is in force or no HTTP probe targets the port. Throws {@link MeshError} `Unsupported` for a probe
 * path an HTTPRoute cannot hold.
 */
export function renderProbeObjects(
  policy: AccessPolicyModel,
  targetPort: number | string,
  owner?: OwnerRef,
): ProbeObjects | null {
  if (!needsAuthzRoute(policy)) return null;
  const paths = probePathsOn(policy.probes ?? [], targetPort);
  if (paths.length === 0) return null;
  const tooLong = paths.find((p) => p.length > MAX_PATH);
  if (tooLong !== undefined || paths.length > MAX_AUTHZ_MATCHES) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      tooLong !== undefined
        ? `probe path ${JSON.stringify(tooLong.slice(0, 64))}… is longer than the ${MAX_PATH} characters a Linkerd HTTPRoute path holds`
        : `the pods have ${paths.length} HTTP probe paths on port ${targetPort}; a Linkerd HTTPRoute holds at most ${MAX_AUTHZ_MATCHES}`,
    );
  }
  const name = probesName(policy.rolloutName);
  const matches = paths.map((value) => ({ path: { type: "Exact", value }, method: "GET" }));
  const rules: { matches: Record<string, unknown>[] }[] = [];
  for (let i = 0; i < matches.length; i += MATCHES_PER_RULE)
    rules.push({ matches: matches.slice(i, i + MATCHES_PER_RULE) });
  return {
    route: objectOf(linkerdHttpRouteType, name, policy, owner, {
      parentRefs: [{ group: POLICY_GROUP, kind: "Server", name: policy.rolloutName }],
      rules,
    }),
    authn: objectOf(networkAuthenticationType, name, policy, owner, {
      networks: [{ cidr: "0.0.0.0/0" }, { cidr: "::/0" }],
    }),
    authz: objectOf(linkerdAuthorizationPolicyType, name, policy, owner, {
      targetRef: { group: POLICY_GROUP, kind: "HTTPRoute", name },
      requiredAuthenticationRefs: [{ group: POLICY_GROUP, kind: "NetworkAuthentication", name }],
    }),
  };
}

/** The AuthorizationPolicy `<rollout>`: callers must present an identity of the MeshTLSAuthentication. */
export function renderLinkerdAuthorizationPolicy(policy: AccessPolicyModel, owner?: OwnerRef): MeshObject {
  const targetRef = needsAuthzRoute(policy)
    ? { group: POLICY_GROUP, kind: "HTTPRoute", name: authzRouteName(policy.rolloutName) }
    : { group: POLICY_GROUP, kind: "Server", name: policy.rolloutName };
  return objectOf(linkerdAuthorizationPolicyType, policy.rolloutName, policy, owner, {
    targetRef,
    requiredAuthenticationRefs: [
      { group: POLICY_GROUP, kind: "MeshTLSAuthentication", name: policy.rolloutName },
    ],
  });
}

function objectOf(
  type: ResourceType,
  name: string,
  policy: AccessPolicyModel,
  owner: OwnerRef | undefined,
  spec: unknown,
): MeshObject {
  return {
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: renderMetadata(name, policy.namespace, policy.rolloutName, owner ?? policy.owner),
    spec,
  };
}
