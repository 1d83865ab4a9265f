// The "linkerd" provider: Linkerd's HTTPRoute for weights; Server, AuthorizationPolicy, MeshTLSAuthentication.
import { pickVersion } from "./api-versions.ts";
import { linkerdHttpRouteType } from "./gamma-render.ts";
import { LinkerdAdapter } from "./linkerd.ts";
import {
  LINKERD_SERVER_VERSIONS,
  type LinkerdServerVersion,
  linkerdAuthorizationPolicyType,
  linkerdSpecIssues,
  meshTlsAuthenticationType,
  networkAuthenticationType,
  serverType,
} from "./linkerd-render.ts";
import { defineProvider } from "./provider.ts";

/** Linkerd's policy API; `server` is undefined when only the route CRDs are installed. */
export interface LinkerdApis {
  server?: LinkerdServerVersion;
}

/** Linkerd (linkerd-crds ≥ 2.14), measured with the Linkerd proxy's metrics. */
export const linkerdProvider = defineProvider({
  name: "linkerd",
  apiGroups: ["policy.linkerd.io"],
  requires: "Linkerd's policy.linkerd.io API (linkerd-crds ≥ 2.14)",
  detect: (served): LinkerdApis | undefined => {
    const group = served.get("policy.linkerd.io");
    if (!group) return undefined;
    const server = pickVersion(group, LINKERD_SERVER_VERSIONS);
    return server ? { server } : {};
  },
  create: (apis, { client, conflictRetries, trustDomain }) =>
    new LinkerdAdapter({ client, conflictRetries, trustDomain, serverVersion: apis.server }),
  routingTypes: () => [linkerdHttpRouteType],
  routingKinds: [
    {
      group: linkerdHttpRouteType.group,
      plural: linkerdHttpRouteType.plural,
      kind: linkerdHttpRouteType.kind,
      versions: [linkerdHttpRouteType.version],
    },
  ],
  policyTypes: [
    linkerdHttpRouteType,
    serverType("v1beta3"),
    linkerdAuthorizationPolicyType,
    meshTlsAuthenticationType,
    networkAuthenticationType,
  ],
  metricsMesh: "linkerd",
  specIssues: linkerdSpecIssues,
});
