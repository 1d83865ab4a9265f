// The "gateway-api" provider: a Gateway API HTTPRoute with weighted backendRefs; no access-policy API.
import { pickVersion } from "./api-versions.ts";
import { gatewayHttpRouteType } from "./gamma-render.ts";
import { GATEWAY_ROUTE_VERSIONS, GatewayApiAdapter, type GatewayRouteVersion } from "./gateway-api.ts";
import { defineProvider } from "./provider.ts";

/** The HTTPRoute version to write. */
export interface GatewayApis {
  httpRoute: GatewayRouteVersion;
}

/** Gateway API (GAMMA). Builtin metrics come from the mesh underneath (`--metrics-mesh`). */
export const gatewayApiProvider = defineProvider({
  name: "gateway-api",
  apiGroups: ["gateway.networking.k8s.io"],
  requires: "the Gateway API HTTPRoute CRD (gateway.networking.k8s.io ≥ v1.1)",
  detect: (served): GatewayApis | undefined => {
    const httpRoute = pickVersion(served.get("gateway.networking.k8s.io"), GATEWAY_ROUTE_VERSIONS);
    return httpRoute ? { httpRoute } : undefined;
  },
  create: (apis, { client, conflictRetries }) =>
    new GatewayApiAdapter({ client, conflictRetries, routeVersion: apis.httpRoute }),
  routingTypes: (apis) => [gatewayHttpRouteType(apis.httpRoute)],
  routingKinds: [
    {
      group: "gateway.networking.k8s.io",
      plural: "httproutes",
      kind: "HTTPRoute",
      versions: GATEWAY_ROUTE_VERSIONS,
    },
  ],
  policyTypes: [],
  extraRules: [
    {
      apiGroups: ["gateway.networking.k8s.io"],
      resources: ["httproutes"],
      verbs: ["patch"],
      why: "server-side apply of a user-owned HTTPRoute's weights (gateway-api.ts)",
    },
    {
      apiGroups: ["gateway.networking.k8s.io"],
      resources: ["gateways", "gatewayclasses"],
      verbs: ["get"],
      why: "the supportedFeatures of a parent Gateway's class, before a mirror is written (gateway-class-features.ts)",
    },
  ],
  metricsMesh: undefined,
});
