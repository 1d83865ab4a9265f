// The "istio" provider: a VirtualService for weights; AuthorizationPolicies for access policy.
import { pickVersion } from "./api-versions.ts";
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

/** Istio's API versions to write; `security` is undefined when security.istio.io is not served. */
export interface IstioApis {
  networking: IstioNetworkingVersion;
  security?: IstioSecurityVersion;
}

/** Istio, measured with Istio's standard metrics. */
export const istioProvider = defineProvider({
  name: "istio",
  apiGroups: ["networking.istio.io", "security.istio.io"],
  requires: "Istio's networking.istio.io API",
  detect: (served): IstioApis | undefined => {
    const networking = pickVersion(served.get("networking.istio.io"), ISTIO_NETWORKING_VERSIONS);
    if (!networking) return undefined;
    const security = pickVersion(served.get("security.istio.io"), ISTIO_SECURITY_VERSIONS);
    return security ? { networking, security } : { networking };
  },
  create: (apis, { client, conflictRetries, trustDomain }) =>
    new IstioAdapter({
      client,
      conflictRetries,
      trustDomain,
      networkingVersion: apis.networking,
      securityVersion: apis.security,
    }),
  routingTypes: (apis) => [virtualServiceType(apis.networking)],
  routingKinds: [
    {
      group: "networking.istio.io",
      plural: "virtualservices",
      kind: "VirtualService",
      versions: ISTIO_NETWORKING_VERSIONS,
    },
  ],
  policyTypes: [authorizationPolicyType("v1")],
  metricsMesh: "istio",
});
