// The Istio adapter: VirtualService for weights (an HTTPRoute behind a waypoint); ALLOW AuthorizationPolicies.

import type { OwnerRef } from "../api/object-meta.ts";
import { readBackendPods } from "./backend-pods.ts";
import { type ClusterFacts, readClusterFacts, type ServiceFacts } from "./cluster-facts.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { gatewayHttpRouteType, parseHttpRouteWeights, renderHttpRoute } from "./gamma-render.ts";
import { generatedRouteManagedRoutes } from "./http-route-managed.ts";
import {
  assertSplitPortRoutable,
  assertWaypointExpressible,
  WAYPOINT_LABEL,
  waypointOf,
} from "./istio-ambient.ts";
import { analysisVerdict } from "./istio-analysis.ts";
import {
  authorizationPolicyType,
  type IstioNetworkingVersion,
  type IstioSecurityVersion,
  parseVirtualServiceWeights,
  renderAuthorizationPolicy,
  renderVirtualService,
  virtualServiceManagedRoutes,
  virtualServiceType,
} from "./istio-render.ts";
import { type MeshClient, ObjectStore, type ResourceType } from "./object-store.ts";
import { type MeshObject, metadataInSync, sameSpec } from "./objects.ts";
import { RouteObject } from "./route-object.ts";
import type { AccessPolicyModel, MeshAdapter, RouteState, SplitRef, TrafficSplitModel } from "./types.ts";

/** Constructor options of {@link IstioAdapter}. */
export interface IstioAdapterOptions {
  client: MeshClient;
  /** `networking.istio.io` version (default v1; v1beta1 before Istio 1.22). */
  networkingVersion?: IstioNetworkingVersion;
  /** `security.istio.io` version (default v1; v1beta1 before Istio 1.22). */
  securityVersion?: IstioSecurityVersion;
  /** Gateway API HTTPRoute version, for Services behind a waypoint; undefined when HTTPRoute is not served. */
  httpRouteVersion?: "v1" | "v1beta1";
  /** Namespace and Service labels and the root Service's ports (default: one GET each). */
  facts?: ClusterFacts;
  /** Mesh trust domain for principals (default cluster.local). */
  trustDomain?: string;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

const ROLES = ["primary", "canary"] as const;

/**
 * Istio adapter, in the mode of the root Service:
 * - sidecars (no waypoint): VirtualService `<rollout>` with the weights, refused (MeshError `Unsupported`) when
 *   the root Service's clients could never reach it (no such port, or a port Istio routes as TCP). When istiod runs
 *   its analyzers, their
 *   ERROR and WARNING messages on it (another VirtualService for the host, a Gateway that does not serve a host, a
 *   missing host) mean istiod does not route as written: getRoutes is then null and setRoutes throws MeshError
 *   `NotAccepted` quoting them, which the reconciler puts in the Rollout's Degraded condition.
 * - ambient, behind a waypoint (label `istio.io/use-waypoint` on the Service or its namespace): HTTPRoute
 *   `<rollout>` whose parent is the root Service, as Istio's ambient guides split traffic. Never both forms for one
 *   host: writing one removes Vireo's other.
 *
 * Access policy: AuthorizationPolicies `<rollout>-primary` and `<rollout>-canary` — two, because Vireo's primary
 * pods carry renamed selector values, so no single `matchLabels` selects both; each copies its backend Service's
 * selector. Behind a waypoint they attach to the Services instead (`targetRefs`: the root Service and the role's
 * backend Service), since only the waypoint, not ztunnel, can enforce their HTTP rules.
 */
export class IstioAdapter implements MeshAdapter {
  readonly name = "istio";
  readonly #store: ObjectStore;
  /** The VirtualService (sidecar mode). */
  readonly #virtualService: RouteObject;
  /** The HTTPRoute (ambient mode); undefined when the cluster does not serve Gateway API's HTTPRoute. */
  readonly #httpRoute: RouteObject | undefined;
  readonly #ap: ResourceType;
  readonly #facts: ClusterFacts;
  readonly #trustDomain: string;
  /** Each root Service this adapter looked at, and its waypoint (an adapter lives one reconcile). */
  readonly #roots = new Map<string, Promise<{ service?: ServiceFacts; waypoint?: string }>>();

  constructor(options: IstioAdapterOptions) {
    this.#store = new ObjectStore(options.client, { conflictRetries: options.conflictRetries });
    const vs = virtualServiceType(options.networkingVersion ?? "v1");
    this.#virtualService = new RouteObject(this.#store, {
      type: vs,
      render: (split) => renderVirtualService(split, vs),
      parse: parseVirtualServiceWeights,
      managed: virtualServiceManagedRoutes,
      verdict: analysisVerdict,
    });
    if (options.httpRouteVersion) {
      const route = gatewayHttpRouteType(options.httpRouteVersion);
      this.#httpRoute = new RouteObject(this.#store, {
        type: route,
        render: (split) => renderHttpRoute(split, route),
        parse: parseHttpRouteWeights,
        managed: generatedRouteManagedRoutes,
      });
    }
    this.#ap = authorizationPolicyType(options.securityVersion ?? "v1");
    this.#facts = options.facts ?? readClusterFacts(options.client);
    this.#trustDomain = options.trustDomain ?? "cluster.local";
  }

  async setRoutes(split: TrafficSplitModel): Promise<RouteState | null> {
    const { service, waypoint } = await this.#root(split);
    if (waypoint !== undefined) {
      assertWaypointExpressible(split, waypoint);
      const routes = await this.#routeFor(split, waypoint).set(split);
      await this.#virtualService.delete(split);
      return routes;
    }
    assertSplitPortRoutable(service, split);
    // Vireo's HTTPRoute goes only once the VirtualService holds the split: no moment without routes.
    const routes = await this.#virtualService.set(split);
    await this.#httpRoute?.delete(split);
    return routes;
  }

  /** Null also while istiod's analysis says the VirtualService is not applied as written (setRoutes says why). */
  async getRoutes(ref: SplitRef): Promise<RouteState | null> {
    const { waypoint } = await this.#root(ref);
    return waypoint !== undefined ? this.#routeFor(ref, waypoint).get(ref) : this.#virtualService.get(ref);
  }

  /**
   * Everything: HTTPMatchRequest headers (exact, prefix, regex), per-destination headers, mirrorPercentage; behind
   * a waypoint the same routes as Gateway API HTTPRoute rules (header matches, backendRef filters, RequestMirror).
   */
  async routeSupport(): Promise<string[]> {
    return [];
  }

  async applyAccessPolicy(
    ref: SplitRef & { owner: OwnerRef },
    policy: AccessPolicyModel | null,
  ): Promise<void> {
    if (policy === null) {
      for (const role of ROLES)
        await this.#store.deleteOwned(this.#ap, ref.namespace, name(ref, role), ref.rolloutName);
      return;
    }
    const desired = await this.#render(ref, policy, ref.owner);
    for (const obj of desired) await this.#store.ensure(this.#ap, obj, ref.rolloutName, sameSpec);
  }

  async accessPolicyInSync(ref: SplitRef, policy: AccessPolicyModel | null): Promise<boolean> {
    const live = await Promise.all(
      ROLES.map((role) => this.#store.getOwned(this.#ap, ref.namespace, name(ref, role), ref.rolloutName)),
    );
    if (policy === null) return live.every((o) => o === null);
    let desired: MeshObject[];
    try {
      desired = await this.#render(ref, policy, policy.owner);
    } catch (err) {
      // Not expressible, or the Services don't exist yet: not in sync; applyAccessPolicy says why.
      if (err instanceof MeshError && err.kind !== MeshErrorKind.NotOwned) return false;
      throw err;
    }
    return desired.every((want, i) => {
      const have = live[i];
      return have != null && sameSpec(have, want) && metadataInSync(have.metadata, want.metadata);
    });
  }

  async cleanup(ref: SplitRef): Promise<void> {
    for (const role of ROLES)
      await this.#store.deleteOwned(this.#ap, ref.namespace, name(ref, role), ref.rolloutName);
    await this.#virtualService.delete(ref);
    await this.#httpRoute?.delete(ref);
  }

  async #render(ref: SplitRef, policy: AccessPolicyModel, owner: OwnerRef): Promise<MeshObject[]> {
    const { namespace, rolloutName, rootService, primaryService, canaryService, port } = ref;
    const model = { ...policy, namespace, rolloutName, rootService, primaryService, canaryService, port };
    const options = { trustDomain: this.#trustDomain, owner };
    if ((await this.#root(ref)).waypoint !== undefined) {
      const services = { primary: primaryService, canary: canaryService };
      return ROLES.map((role) =>
        renderAuthorizationPolicy(
          model,
          role,
          { services: [rootService, services[role]] },
          this.#ap,
          options,
        ),
      );
    }
    const pods = await readBackendPods(this.#store, ref);
    return ROLES.map((role) =>
      renderAuthorizationPolicy(model, role, { pods: pods[role] }, this.#ap, options),
    );
  }

  /** The root Service and the waypoint it is bound to, read once per adapter. */
  #root(ref: SplitRef): Promise<{ service?: ServiceFacts; waypoint?: string }> {
    const key = `${ref.namespace}/${ref.rootService}`;
    let found = this.#roots.get(key);
    if (!found) {
      found = (async () => {
        const service = await this.#facts.service(ref.namespace, ref.rootService);
        // The Service's own label decides when it has one; its namespace is read only otherwise.
        const waypoint =
          service?.labels[WAYPOINT_LABEL] !== undefined
            ? waypointOf({ service: service.labels })
            : waypointOf({ namespace: await this.#facts.namespaceLabels(ref.namespace) });
        return { ...(service ? { service } : {}), ...(waypoint ? { waypoint } : {}) };
      })();
      this.#roots.set(key, found);
    }
    return found;
  }

  /** The HTTPRoute ambient mode writes; throws when the cluster does not serve Gateway API's HTTPRoute. */
  #routeFor(ref: SplitRef, waypoint: string): RouteObject {
    if (this.#httpRoute) return this.#httpRoute;
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `Service ${ref.namespace}/${ref.rootService} is behind waypoint "${waypoint}", where Istio splits traffic ` +
        "with a Gateway API HTTPRoute, but the cluster does not serve gateway.networking.k8s.io HTTPRoute; " +
        "install the Gateway API CRDs (standard channel ≥ v1.1)",
    );
  }
}

const name = (ref: SplitRef, role: "primary" | "canary") => `${ref.rolloutName}-${role}`;
