// What the Gateways a generated HTTPRoute attaches to say they can serve: the supportedFeatures their GatewayClass
// publishes in status (GEP-2162), read before Vireo writes a managed route that a Gateway would answer with errors.
import { getOrUndefined } from "../kube/errors.ts";
import type { GatewayParentRef } from "./gateway-api-render.ts";
import type { MeshClient } from "./object-store.ts";

/** Gateway API feature names (sigs.k8s.io/gateway-api/pkg/features) the managed routes depend on. */
export const GATEWAY_FEATURES = {
  /** A RequestMirror filter at all. */
  requestMirror: "HTTPRouteRequestMirror",
  /** RequestMirror with `percent` or `fraction` below 100 %. */
  percentageMirror: "HTTPRouteRequestPercentageMirror",
  /** A rule's `sessionPersistence` (GEP-1619, experimental channel). */
  sessionPersistence: "HTTPRouteSessionPersistence",
  /** `sessionPersistence` with `cookieConfig.lifetimeType: Permanent` (a cookie with Max-Age/Expires). */
  sessionPersistencePermanent: "HTTPRouteSessionPersistenceCookieLifetimeTypePermanent",
} as const;
/** One of {@link GATEWAY_FEATURES}. */
export type GatewayFeature = (typeof GATEWAY_FEATURES)[keyof typeof GATEWAY_FEATURES];

/** The features the mirrors of a spec need from every Gateway that serves them. */
export function mirrorFeatures(percents: readonly number[]): GatewayFeature[] {
  if (percents.length === 0) return [];
  return percents.some((p) => p < 100)
    ? [GATEWAY_FEATURES.requestMirror, GATEWAY_FEATURES.percentageMirror]
    : [GATEWAY_FEATURES.requestMirror];
}

/**
 * The features native sticky sessions need: Vireo writes `sessionPersistence` with a permanent cookie (the
 * rollout's sessionAffinity.maxAge as its absoluteTimeout).
 */
export const SESSION_PERSISTENCE_FEATURES: readonly GatewayFeature[] = [
  GATEWAY_FEATURES.sessionPersistence,
  GATEWAY_FEATURES.sessionPersistencePermanent,
];

/**
 * The names in a GatewayClass's `status.supportedFeatures`: objects with a name since Gateway API v1.2, plain
 * strings in the experimental field before. Undefined when the class publishes none.
 */
export function supportedFeatureNames(gatewayClass: unknown): Set<string> | undefined {
  const list = (gatewayClass as { status?: { supportedFeatures?: unknown } } | undefined)?.status
    ?.supportedFeatures;
  if (!Array.isArray(list)) return undefined;
  return new Set(
    list.flatMap((f) =>
      typeof f === "string" ? [f] : typeof f?.name === "string" ? [f.name as string] : [],
    ),
  );
}

/**
 * One sentence per Gateway parent that does not advertise every feature in `needed` — a Gateway that cannot be
 * read, a class that publishes no features, or one that lacks some. Unknown counts as unsupported: a proxy that
 * accepts a filter it does not implement may answer the matching requests itself (Traefik v3.6 answers a
 * RequestMirror rule with 500), so Vireo writes such a rule only where the class says it serves it.
 */
export async function missingGatewayFeatures(
  client: MeshClient,
  routeNamespace: string,
  parents: readonly GatewayParentRef[],
  needed: readonly GatewayFeature[],
  what: string,
): Promise<string[]> {
  if (needed.length === 0) return [];
  const issues: string[] = [];
  const seen = new Set<string>();
  for (const p of parents) {
    const namespace = p.namespace ?? routeNamespace;
    const key = `${namespace}/${p.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const gateway = await getOrUndefined<{ spec?: { gatewayClassName?: string } }>(
      client,
      `/apis/gateway.networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/gateways/${encodeURIComponent(p.name)}`,
    );
    const className = gateway?.spec?.gatewayClassName;
    if (!className) {
      issues.push(
        `${what}: Gateway ${key} not found, so whether it serves ${needed.join(" and ")} is unknown`,
      );
      continue;
    }
    const gatewayClass = await getOrUndefined<unknown>(
      client,
      `/apis/gateway.networking.k8s.io/v1/gatewayclasses/${encodeURIComponent(className)}`,
    );
    const supported = supportedFeatureNames(gatewayClass);
    const missing = needed.filter((f) => !supported?.has(f));
    if (missing.length === 0) continue;
    issues.push(
      supported === undefined
        ? `${what}: GatewayClass ${className} (Gateway ${key}) publishes no status.supportedFeatures, so whether it serves ${missing.join(" and ")} is unknown`
        : `${what}: GatewayClass ${className} (Gateway ${key}) does not list ${missing.join(" and ")} in status.supportedFeatures`,
    );
  }
  return issues;
}
