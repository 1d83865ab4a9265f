// The "istio" provider: a VirtualService (an HTTPRoute behind a waypoint) for weights; AuthorizationPolicies.
import { pickVersion } from "./api-versions.ts";
import { gatewayHttpRouteType } from "./gamma-render.ts";
import { GATEWAY_ROUTE_VERSIONS, type GatewayRouteVersion } from "./gateway-api.ts";
import { IstioAdapter } from "./istio.ts";
import {
  authorizationPolicyType,
  ISTIO_NETWORKING_VERSIONS,
  ISTIO_SECURITY_VERSIONS,
  type IstioNetworkingVersion,
  type IstioSecurityVersion,
  virtualServiceType,
} from "./istio-render.ts";
import { defineProvider } from "./provider.ts";

/**
 * Istio's API versions to write; `security` is undefined when security.istio.io is not served, `httpRoute` when
 * Gateway API's HTTPRoute is not (ambient mode needs it).
 */
export interface IstioApis {
  networking: IstioNetworkingVersion;
  security?: IstioSecurityVersion;
  httpRoute?: GatewayRouteVersion;
}

/** Istio, measured with Istio's standard metrics (sidecars' and waypoints'). */
export const istioProvider = defineProvider({
  name: "istio",
  apiGroups: ["networking.istio.io", "security.istio.io", "gateway.networking.k8s.io"],
  requires: "Istio's networking.istio.io API",
  detect: (served): IstioApis | undefined => {
    const networking = pickVersion(served.get("networking.istio.io"), ISTIO_NETWORKING_VERSIONS);
    if (!networking) return undefined;
    const security = pickVersion(served.get("security.istio.io"), ISTIO_SECURITY_VERSIONS);
    const httpRoute = pickVersion(served.get("gateway.networking.k8s.io"), GATEWAY_ROUTE_VERSIONS);
    return { networking, ...(security ? { security } : {}), ...(httpRoute ? { httpRoute } : {}) };
  },
  create: (apis, { client, conflictRetries, trustDomain, facts }) =>
    new IstioAdapter({
      client,
      conflictRetries,
      trustDomain,
      facts,
      networkingVersion: apis.networking,
      securityVersion: apis.security,
      httpRouteVersion: apis.httpRoute,
    }),
  routingTypes: (apis) => [
    virtualServiceType(apis.networking),
    ...(apis.httpRoute ? [gatewayHttpRouteType(apis.httpRoute)] : []),
  ],
  routingKinds: [
    {
      group: "networking.istio.io",
      plural: "virtualservices",
      kind: "VirtualService",
      versions: ISTIO_NETWORKING_VERSIONS,
    },
    {
      group: "gateway.networking.k8s.io",
      plural: "httproutes",
      kind: "HTTPRoute",
      versions: GATEWAY_ROUTE_VERSIONS,
    },
  ],
  policyTypes: [authorizationPolicyType("v1")],
  extraRules: [
    {
      apiGroups: [""],
      resources: ["namespaces"],
      verbs: ["get"],
      why: "ambient mode: the istio.io/use-waypoint label of a Rollout's namespace (istio-ambient.ts)",
    },
  ],
  metricsMesh: "istio",
});
