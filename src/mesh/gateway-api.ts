// The Gateway API (GAMMA) adapter: one HTTPRoute with a Service parent; Gateway API has no access-policy API.
import type { Weights } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { gatewayHttpRouteType, parseHttpRouteWeights, renderHttpRoute } from "./gamma-render.ts";
import { type MeshClient, ObjectStore, type ResourceType } from "./object-store.ts";
import { sameSpec } from "./objects.ts";
import type { AccessPolicyModel, MeshAdapter, OwnerRef, SplitRef, TrafficSplitModel } from "./types.ts";

/** Served `gateway.networking.k8s.io` HTTPRoute versions Vireo writes, most preferred first. */
export const GATEWAY_ROUTE_VERSIONS = ["v1", "v1beta1"] as const;
/** One of {@link GATEWAY_ROUTE_VERSIONS}. */
export type GatewayRouteVersion = (typeof GATEWAY_ROUTE_VERSIONS)[number];

/** Constructor options of {@link GatewayApiAdapter}. */
export interface GatewayApiAdapterOptions {
  client: MeshClient;
  /** HTTPRoute version (default v1). */
  routeVersion?: GatewayRouteVersion;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

/**
 * Mesh-agnostic GAMMA adapter (Istio ≥ 1.22, Linkerd ≥ 2.14, any conformant mesh): HTTPRoute `<rollout>`
 * attached to the root Service. Access policy is not part of Gateway API, so a non-null policy is refused
 * with {@link MeshError} `Unsupported` (use the istio or linkerd provider for that).
 */
export class GatewayApiAdapter implements MeshAdapter {
  readonly name = "gateway-api";
  readonly #store: ObjectStore;
  readonly #route: ResourceType;

  constructor(options: GatewayApiAdapterOptions) {
    this.#store = new ObjectStore(options.client, { conflictRetries: options.conflictRetries });
    this.#route = gatewayHttpRouteType(options.routeVersion ?? "v1");
  }

  async setRoutes(split: TrafficSplitModel): Promise<void> {
    await this.#store.ensure(this.#route, renderHttpRoute(split, this.#route), split.rolloutName, sameSpec);
  }

  async getRoutes(ref: SplitRef): Promise<Weights | null> {
    const live = await this.#store.get(this.#route, ref.namespace, ref.rolloutName);
    return live === null ? null : parseHttpRouteWeights(live, ref);
  }

  async applyAccessPolicy(
    _ref: SplitRef & { owner: OwnerRef },
    policy: AccessPolicyModel | null,
  ): Promise<void> {
    if (policy !== null) {
      throw new MeshError(
        MeshErrorKind.Unsupported,
        'provider "gateway-api" cannot enforce an access policy (Gateway API has no authorization API); ' +
          'use provider "istio" or "linkerd", or remove spec.accessPolicy',
      );
    }
  }

  async accessPolicyInSync(_ref: SplitRef, policy: AccessPolicyModel | null): Promise<boolean> {
    return policy === null;
  }

  async cleanup(ref: SplitRef): Promise<void> {
    await this.#store.deleteOwned(this.#route, ref.namespace, ref.rolloutName, ref.rolloutName);
  }
}
