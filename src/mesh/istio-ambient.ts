// How Istio will treat a root Service: behind a waypoint (ambient) or not, and whether its split port carries HTTP.
import type { ServiceFacts } from "./cluster-facts.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { TrafficSplitModel } from "./types.ts";

/**
 * The label binding a namespace's or a Service's traffic to a waypoint proxy (its value names the waypoint); on a
 * Service, `none` opts out of the namespace's waypoint.
 */
export const WAYPOINT_LABEL = "istio.io/use-waypoint";
const NO_WAYPOINT = "none";

/** Labels of the objects ambient mode is decided by. */
export interface WaypointLabels {
  namespace?: Readonly<Record<string, string>>;
  service?: Readonly<Record<string, string>>;
}

/**
 * The waypoint serving the root Service, or undefined when its traffic is not bound to one (sidecar mode, or
 * ambient without L7). The Service's label wins over its namespace's, as in Istio.
 */
export function waypointOf(labels: WaypointLabels): string | undefined {
  const own = labels.service?.[WAYPOINT_LABEL];
  const value = own ?? labels.namespace?.[WAYPOINT_LABEL];
  return value && value !== NO_WAYPOINT ? value : undefined;
}

/**
 * Refuses what the waypoint form cannot express. Behind a waypoint Istio's L7 routing is an HTTPRoute whose parent
 * is the Service (a VirtualService there is alpha, and mixing both for one host is undefined), so Istio Gateway
 * bindings and extra hosts (VirtualService-only) have no rendering there.
 *
 * @throws MeshError `Unsupported` naming the field and what to use instead.
 */
export function assertWaypointExpressible(split: TrafficSplitModel, waypoint: string): void {
  const refuse = (what: string, instead: string) => {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `Service ${split.namespace}/${split.rootService} is behind waypoint "${waypoint}" (label ${WAYPOINT_LABEL}), ` +
        `where Istio splits with an HTTPRoute whose parent is the Service: ${what}; ${instead}`,
    );
  };
  const gateways = (split.gateways ?? []).filter((g) => g !== "mesh");
  if (gateways.length > 0)
    refuse(
      `spec.service.gateways (${gateways.join(", ")}) binds Istio Gateways, which that route cannot`,
      'route ingress with a Rollout of provider "gateway-api" (spec.gatewayApi.parentRefs), or remove the label',
    );
  const hosts = (split.hosts ?? []).filter((h) => h !== split.rootService);
  if (hosts.length > 0)
    refuse(
      `spec.service.hosts (${hosts.join(", ")}) are VirtualService hosts, which that route has no place for`,
      "remove them, or remove the label",
    );
}

/** Protocols Istio never applies a VirtualService's `http` routes to (TLS passthrough and opaque TCP ones). */
const NOT_HTTP = new Set(["tcp", "tls", "https", "mongo", "mysql", "redis", "udp"]);

/**
 * Refuses a root Service whose clients would never reach the VirtualService's split: it has no port
 * `split.port` (the split route matches that port), or Istio sees that port as a non-HTTP protocol — from
 * `appProtocol`, else the port name's prefix (`tcp-db`), Istio's own rule — and routes it as TCP.
 * A Service Vireo has not seen yet (it creates the root Service itself) passes.
 *
 * @throws MeshError `Unsupported` naming the port and the fix.
 */
export function assertSplitPortRoutable(
  root: ServiceFacts | undefined,
  split: Pick<TrafficSplitModel, "namespace" | "rootService" | "port">,
): void {
  if (!root || root.ports.length === 0) return;
  const svc = `Service ${split.namespace}/${split.rootService}`;
  const port = root.ports.find((p) => p.port === split.port);
  if (!port) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `${svc} has no port ${split.port} (its ports: ${root.ports.map((p) => p.port).join(", ")}), so its clients ` +
        `never reach the VirtualService's split, which matches port ${split.port}; set spec.service.port to the ` +
        "port clients call",
    );
  }
  const protocol = (port.appProtocol ?? port.name?.split("-")[0])?.toLowerCase();
  if (protocol !== undefined && NOT_HTTP.has(protocol)) {
    const by = port.appProtocol ? `appProtocol ${port.appProtocol}` : `name "${port.name}"`;
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `Istio treats port ${split.port} of ${svc} (${by}) as ${protocol.toUpperCase()}, so a VirtualService's http ` +
        "routes never apply to it; name the port http-… or grpc-… (spec.service.portName for a Service Vireo " +
        "creates), or set its appProtocol to http, http2 or grpc",
    );
  }
}
