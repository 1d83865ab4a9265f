// The mesh-neutral model every adapter renders: a weighted split of a root Service, and an access policy.
import type { GatewayApiSpec } from "../api/gateway-route-schema.ts";
import type { OwnerRef } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { ManagedRoutes, Weights } from "../rollout/types.ts";
import type { HttpProbe } from "./pod-probes.ts";

/** Identifies the routing objects of one Rollout. */
export interface SplitRef {
  namespace: string;
  /** Rollout name; adapters name their objects after it (`<rollout>` or `<rollout>-<suffix>`). */
  rolloutName: string;
  /** Root Service that clients call (SMI TrafficSplit `spec.service`, the HTTPRoute parent, the VirtualService host). */
  rootService: string;
  /** `<root>-primary`. */
  primaryService: string;
  /** `<root>-canary`. */
  canaryService: string;
  port: number;
  /** Gateway API only: Gateway parents, or the user-owned HTTPRoute whose rule Vireo weights. */
  gatewayApi?: GatewayApiSpec;
}

/** The split to render: SMI TrafficSplit semantics. */
export interface TrafficSplitModel extends SplitRef {
  weights: Weights;
  owner: OwnerRef;
  /** Header routes, mirrors and sticky cookies beside the split (undefined: none). */
  managed?: ManagedRoutes;
  /** Istio only. */
  gateways?: readonly string[];
  /** Istio only. */
  hosts?: readonly string[];
  /**
   * The root Service's other ports (not split; they go to the primary). Istio then matches the split route on
   * `port`; HTTPRoutes are per port anyway (parentRef port), and TrafficSplits cannot tell ports apart.
   */
  otherPorts?: readonly number[];
}

/** One allowed caller: SMI TrafficTarget source semantics. */
export interface PolicySource {
  serviceAccount: string; // "*" = any ServiceAccount of the namespace
  namespace: string;
}

/** One allowed route: SMI HTTPRouteGroup match semantics. */
export interface PolicyRoute {
  pathRegex?: string;
  methods?: readonly string[];
}

/** Who may call the service; applied identically to primary and canary. */
export interface AccessPolicyModel extends SplitRef {
  owner: OwnerRef;
  /** ServiceAccount the destination pods run as (the TrafficTarget destination). */
  destinationServiceAccount: string;
  sources: readonly PolicySource[];
  /** Undefined or empty: every route. */
  routes?: readonly PolicyRoute[];
  /**
   * The kubelet's HTTP probes of the primary and canary pod templates. Linkerd: a per-route policy replaces the
   * default routes that authorize them, so the adapter authorizes these paths itself.
   */
  probes?: readonly HttpProbe[];
}

/**
 * The routes a routing object holds as read back: the split, and the managed routes beside it — absent when there
 * are none, null when they are not as Vireo wrote them (the engine writes them again).
 */
export interface RouteState extends Weights {
  managed?: ManagedRoutes | null;
}

/** What every mesh implements. Each method is idempotent and writes only when something differs. */
export interface MeshAdapter {
  /** Short name, e.g. "smi". */
  readonly name: string;
  /**
   * Creates or updates the routing objects so the mesh splits traffic as given.
   * @returns the routes the object holds as the API server stored it (the write's response, or the live object
   *   when it already matched) — what {@link getRoutes} would read back at once, without the extra request; or
   *   undefined when only a later read can tell (a Gateway's acceptance arrives in status afterwards).
   */
  setRoutes(split: TrafficSplitModel): Promise<RouteState | null | undefined>;
  /** Reads the split (and the managed routes) back from the cluster; null when the routing object does not exist. */
  getRoutes(ref: SplitRef): Promise<RouteState | null>;
  /**
   * Why the managed routes `spec` asks for (header routes, mirrors, sticky sessions) cannot be rendered here — by
   * this provider's API, the version the cluster serves, or the features its Gateways' classes advertise — one
   * sentence each; empty when they can. Called only for specs that ask for some; writes nothing.
   */
  routeSupport(spec: RolloutSpec, ref: SplitRef): Promise<string[]>;
  /** Makes the access-policy objects match `policy`; null removes the ones this adapter owns. */
  applyAccessPolicy(ref: SplitRef & { owner: OwnerRef }, policy: AccessPolicyModel | null): Promise<void>;
  /** True when the access-policy objects match `policy` (null: none of ours exist). */
  accessPolicyInSync(ref: SplitRef, policy: AccessPolicyModel | null): Promise<boolean>;
  /** Removes every object this adapter created for the Rollout (called by the finalizer). */
  cleanup(ref: SplitRef): Promise<void>;
}
