// Maps a Rollout's spec.provider to the mesh adapter that renders it, using API versions found by discovery.
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { ApiDiscovery } from "../kube/discovery.ts";
import { pickVersion } from "./api-versions.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { gatewayHttpRouteType, linkerdHttpRouteType } from "./gamma-render.ts";
import { GATEWAY_ROUTE_VERSIONS, GatewayApiAdapter, type GatewayRouteVersion } from "./gateway-api.ts";
import { IstioAdapter } from "./istio.ts";
import {
  ISTIO_NETWORKING_VERSIONS,
  ISTIO_SECURITY_VERSIONS,
  type IstioNetworkingVersion,
  type IstioSecurityVersion,
  virtualServiceType,
} from "./istio-render.ts";
import { LinkerdAdapter } from "./linkerd.ts";
import { LINKERD_SERVER_VERSIONS, type LinkerdServerVersion } from "./linkerd-render.ts";
import type { MeshClient, ResourceType } from "./object-store.ts";
import { detectSmiVersions, SmiAdapter, type SmiVersions } from "./smi.ts";
import { trafficSplitType } from "./smi-render.ts";
import type { MeshAdapter } from "./types.ts";

/** A Rollout's `spec.provider`. */
export type MeshProvider = RolloutSpec["provider"];

/** The mesh API versions the cluster serves; a field is undefined when that API is not installed. */
export interface MeshApis {
  smi?: SmiVersions;
  istio?: { networking: IstioNetworkingVersion; security?: IstioSecurityVersion };
  gatewayApi?: { httpRoute: GatewayRouteVersion };
  /** `server` is undefined when only the route CRDs are installed. */
  linkerd?: { server?: LinkerdServerVersion };
}

/** What adapters need, gathered once at start-up by the composition root. */
export interface MeshAdapterDeps extends MeshApis {
  /** The controller's `KubeClients` (or anything with its `request`). */
  client: MeshClient;
  /** Mesh identity trust domain for Istio principals and Linkerd identities (default cluster.local). */
  trustDomain?: string;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

/** Reads discovery once and reports every mesh API Vireo can use. Never throws for a missing API. */
export async function detectMeshApis(discovery: Pick<ApiDiscovery, "served">): Promise<MeshApis> {
  const served = await discovery.served();
  const apis: MeshApis = {};
  try {
    apis.smi = await detectSmiVersions(discovery);
  } catch (err) {
    if (!(err instanceof MeshError)) throw err;
  }
  const networking = pickVersion(served.get("networking.istio.io"), ISTIO_NETWORKING_VERSIONS);
  if (networking) {
    apis.istio = { networking };
    const security = pickVersion(served.get("security.istio.io"), ISTIO_SECURITY_VERSIONS);
    if (security) apis.istio.security = security;
  }
  const httpRoute = pickVersion(served.get("gateway.networking.k8s.io"), GATEWAY_ROUTE_VERSIONS);
  if (httpRoute) apis.gatewayApi = { httpRoute };
  if (served.has("policy.linkerd.io")) {
    const server = pickVersion(served.get("policy.linkerd.io"), LINKERD_SERVER_VERSIONS);
    apis.linkerd = server ? { server } : {};
  }
  return apis;
}

/**
 * Returns the adapter for `provider` (cheap: call it per reconcile). Throws {@link MeshError} `Unsupported` when
 * the cluster lacks the provider's routing API, naming what to install.
 */
export function createMeshAdapter(provider: MeshProvider, deps: MeshAdapterDeps): MeshAdapter {
  const { client, conflictRetries, trustDomain } = deps;
  const missing = (what: string) =>
    new MeshError(MeshErrorKind.Unsupported, `provider "${provider}" needs ${what} installed in the cluster`);
  switch (provider) {
    case "smi":
      if (!deps.smi) throw missing("the SMI TrafficSplit API (split.smi-spec.io)");
      return new SmiAdapter({
        client,
        conflictRetries,
        splitVersion: deps.smi.split,
        accessVersion: deps.smi.access,
        specsVersion: deps.smi.specs,
      });
    case "istio":
      if (!deps.istio) throw missing("Istio's networking.istio.io API");
      return new IstioAdapter({
        client,
        conflictRetries,
        trustDomain,
        networkingVersion: deps.istio.networking,
        securityVersion: deps.istio.security,
      });
    case "linkerd":
      if (!deps.linkerd) throw missing("Linkerd's policy.linkerd.io API (linkerd-crds ≥ 2.14)");
      return new LinkerdAdapter({ client, conflictRetries, trustDomain, serverVersion: deps.linkerd.server });
    case "gateway-api":
      if (!deps.gatewayApi) throw missing("the Gateway API HTTPRoute CRD (gateway.networking.k8s.io ≥ v1.1)");
      return new GatewayApiAdapter({ client, conflictRetries, routeVersion: deps.gatewayApi.httpRoute });
    default: {
      const unknown: never = provider;
      throw new MeshError(MeshErrorKind.NotImplemented, `unknown mesh provider "${String(unknown)}"`);
    }
  }
}

/**
 * The routing objects Vireo writes for the APIs the cluster serves. The controller watches Vireo's own (by label),
 * so an out-of-band edit of a split is seen and undone in seconds rather than at the next resync.
 */
export function routingTypes(apis: MeshApis): ResourceType[] {
  const out: ResourceType[] = [];
  if (apis.smi) out.push(trafficSplitType(apis.smi.split));
  if (apis.istio) out.push(virtualServiceType(apis.istio.networking));
  if (apis.gatewayApi) out.push(gatewayHttpRouteType(apis.gatewayApi.httpRoute));
  if (apis.linkerd) out.push(linkerdHttpRouteType);
  return out;
}
