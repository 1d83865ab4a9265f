// The Gateway API adapter: an HTTPRoute with a Service parent (GAMMA) or Gateway parents, or a user-owned route.
import { FIELD_MANAGER, MANAGED_ROUTES_ANNOTATION } from "../api/constants.ts";
import { type OwnerRef, PATCH_TYPES } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { semanticEqual } from "../api/semantic-equal.ts";
import { classifyError, KubeErrorKind } from "../kube/errors.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { gatewayHttpRouteType, parseHttpRouteWeights, renderHttpRoute } from "./gamma-render.ts";
import {
  type GatewayParentRef,
  gatewayParents,
  type ParentsVerdict,
  parentsVerdict,
  renderGatewayHttpRoute,
} from "./gateway-api-render.ts";
import {
  reweightedRules,
  userRouteAnnotations,
  userRouteApplyBody,
  userRouteGatewayParents,
  userRouteWeights,
  withManagedRules,
} from "./gateway-api-user-route.ts";
import {
  mirrorFeatures,
  missingGatewayFeatures,
  SESSION_PERSISTENCE_FEATURES,
} from "./gateway-class-features.ts";
import {
  GATEWAY_API_STYLE,
  generatedRouteManagedRoutes,
  type HttpRouteStyle,
  userRouteManagedRoutes,
} from "./http-route-managed.ts";
import { everyManagedRoute } from "./managed-routes.ts";
import { type MeshClient, ObjectStore, type ResourceType, resourcePath } from "./object-store.ts";
import { type MeshObject, sameSpec } from "./objects.ts";
import type { AccessPolicyModel, MeshAdapter, RouteState, SplitRef, TrafficSplitModel } from "./types.ts";

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
 * Three ways to attach the split, chosen by `spec.gatewayApi`:
 * - none: HTTPRoute `<rollout>` with the root Service as parent (GAMMA: Istio ≥ 1.22, Linkerd ≥ 2.14, …);
 * - `parentRefs`: HTTPRoute `<rollout>` attached to those Gateways, with the Rollout's hostnames and path matches;
 * - `httpRoute`: an existing route someone else owns; only the weights of one rule's two backendRefs change.
 *
 * With Gateway parents (generated or user-owned) the split counts as routed (getRoutes non-null) only once every
 * Gateway accepted the route. A refusal (`Accepted=False` / `ResolvedRefs=False` in status.parents) makes
 * setRoutes throw MeshError `NotAccepted` quoting the Gateway's reason, which the reconciler puts in the Rollout's
 * Degraded condition.
 * Access policy is not part of Gateway API, so a non-null policy is refused with MeshError `Unsupported`.
 */
export class GatewayApiAdapter implements MeshAdapter {
  readonly name = "gateway-api";
  readonly #client: MeshClient;
  readonly #store: ObjectStore;
  readonly #route: ResourceType;
  readonly #retries: number;

  constructor(options: GatewayApiAdapterOptions) {
    this.#client = options.client;
    this.#retries = options.conflictRetries ?? 3;
    this.#store = new ObjectStore(options.client, { conflictRetries: options.conflictRetries });
    this.#route = gatewayHttpRouteType(options.routeVersion ?? "v1");
  }

  /** Always undefined: whether a Gateway (or the mesh) accepted the route only shows in status later. */
  async setRoutes(split: TrafficSplitModel): Promise<undefined> {
    const g = split.gatewayApi;
    if (g?.httpRoute) await this.#reweightUserRoute(split);
    else {
      const style = await this.#style(split);
      await this.#store.ensure(this.#route, this.#render(split, style), split.rolloutName, sameSpec);
    }
    // Written is not routed: a Gateway that refused the route says why in status.parents, and that reason belongs
    // in the Rollout's condition. Thrown here, after the decision's earlier actions (Services first), so a route
    // refused only because its backends did not exist yet heals once they do.
    if (!g?.httpRoute && !g?.parentRefs) return undefined;
    const live = await this.#store.get(this.#route, split.namespace, g?.httpRoute?.name ?? split.rolloutName);
    const verdict = live === null ? undefined : this.#verdict(live, split);
    if (verdict?.state === "rejected") throw new MeshError(MeshErrorKind.NotAccepted, verdict.message);
    return undefined;
  }

  async getRoutes(ref: SplitRef): Promise<RouteState | null> {
    const user = ref.gatewayApi?.httpRoute;
    const live = await this.#store.get(this.#route, ref.namespace, user?.name ?? ref.rolloutName);
    if (live === null) {
      if (user) throw this.#missingUserRoute(ref);
      return null;
    }
    const weights = user ? userRouteWeights(live, user, ref) : parseHttpRouteWeights(live, ref);
    // Not routed until every Gateway accepted the route: the step waits (and its progress deadline runs).
    if (weights === null || this.#verdict(live, ref).state !== "accepted") return null;
    const managed = user ? userRouteManagedRoutes(live, ref.rolloutName) : generatedRouteManagedRoutes(live);
    return managed === undefined ? weights : { ...weights, managed };
  }

  /**
   * Generated routes carry header routes, sticky cookies (cookie rules) and mirrors (RequestMirror with `percent`,
   * standard since v1.3) — mirrors on Gateway parents only where every Gateway's class lists the mirror features in
   * its status.supportedFeatures. A user-owned route carries header routes and mirrors as rules of Vireo's own beside
   * the user's (sticky cookies would change the user's backendRefs), so its limits are checked on the live route.
   */
  async routeSupport(spec: RolloutSpec, ref: SplitRef): Promise<string[]> {
    const managed = everyManagedRoute(spec);
    const user = ref.gatewayApi?.httpRoute;
    // A missing user-owned route is reported by getRoutes (Pending, naming it); its limits wait for it.
    const live = user ? await this.#store.get(this.#route, ref.namespace, user.name) : null;
    if (user && live === null) return [];
    try {
      // Rendering every route the spec can ask for at once finds the limits (matches per rule) before the rollout.
      const owner = { apiVersion: "", kind: "", name: "", uid: "" };
      const split = { ...ref, weights: { primary: 100, canary: 0 }, owner, managed };
      if (user && live) withManagedRules(live, user, split, reweightedRules(live, user, ref, split.weights));
      else this.#render(split);
    } catch (err) {
      if (err instanceof MeshError) return [err.message];
      throw err;
    }
    // A Gateway's proxy may accept a filter it does not serve: mirrors only where its class advertises them.
    return missingGatewayFeatures(
      this.#client,
      ref.namespace,
      live ? userRouteGatewayParents(live) : gatewayParents(ref.gatewayApi),
      mirrorFeatures(managed.mirrors.map((m) => m.percent)),
      "setMirror",
    );
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

  /**
   * Generated routes are deleted. A user-owned route is left exactly as it is: it is the user's, and the finalizer
   * has already sent all traffic to the primary through it.
   */
  async cleanup(ref: SplitRef): Promise<void> {
    if (ref.gatewayApi?.httpRoute) return;
    await this.#store.deleteOwned(this.#route, ref.namespace, ref.rolloutName, ref.rolloutName);
  }

  /**
   * Server-side apply of the re-weighted rules and the managed rules beside them, as field manager vireo; re-read
   * and retry on a 409.
   */
  async #reweightUserRoute(split: TrafficSplitModel): Promise<void> {
    const ref = split;
    const sel = ref.gatewayApi?.httpRoute;
    if (!sel) return;
    for (let attempt = 0; ; attempt++) {
      const live = await this.#store.get(this.#route, ref.namespace, sel.name);
      if (live === null) throw this.#missingUserRoute(ref);
      const rules = withManagedRules(live, sel, split, reweightedRules(live, sel, ref, split.weights));
      const annotations = userRouteAnnotations(split, rules);
      const liveAnnotation = live.metadata.annotations?.[MANAGED_ROUTES_ANNOTATION];
      if (
        semanticEqual((live.spec as { rules?: unknown }).rules, rules) &&
        liveAnnotation === annotations[MANAGED_ROUTES_ANNOTATION]
      )
        return;
      try {
        await this.#client.request<MeshObject>({
          method: "PATCH",
          path: resourcePath(this.#route, ref.namespace, sel.name),
          query: { fieldManager: FIELD_MANAGER, force: true },
          contentType: PATCH_TYPES.apply,
          body: userRouteApplyBody(live, rules, annotations),
        });
        return;
      } catch (err) {
        const e = classifyError(err, {
          verb: "patch",
          resource: `${this.#route.plural}.${this.#route.group}`,
          namespace: ref.namespace,
          name: sel.name,
        });
        // Conflict: the route changed since our read (our resourceVersion precondition); re-read, never overwrite.
        if (e.kind !== KubeErrorKind.Conflict || attempt >= this.#retries) throw e;
      }
    }
  }

  /** The route Vireo generates for `split` (Gateway parents, else the root Service). */
  #render(split: TrafficSplitModel, style: HttpRouteStyle = GATEWAY_API_STYLE): MeshObject {
    const g = split.gatewayApi;
    return g?.parentRefs
      ? renderGatewayHttpRoute(split, g, this.#route, style)
      : renderHttpRoute(split, this.#route, style);
  }

  /**
   * How sticky sessions are written: as the split rule's `sessionPersistence` (GEP-1619) where every Gateway's class
   * lists it in status.supportedFeatures, else as cookie rules. A Service parent (GAMMA) has no class to ask: cookie
   * rules, which need nothing beyond the standard channel. Asked only while sticky sessions are in place.
   */
  async #style(split: TrafficSplitModel): Promise<HttpRouteStyle> {
    const g = split.gatewayApi;
    if (!split.managed?.sticky || !g?.parentRefs) return GATEWAY_API_STYLE;
    const parents = gatewayParents(g);
    const missing = await missingGatewayFeatures(
      this.#client,
      split.namespace,
      parents,
      SESSION_PERSISTENCE_FEATURES,
      "sessionAffinity",
    );
    return missing.length === 0 ? { ...GATEWAY_API_STYLE, sessionPersistence: true } : GATEWAY_API_STYLE;
  }

  /** status.parents of the route's Gateway parents; a Service parent (GAMMA) has nobody bound to answer. */
  #verdict(live: MeshObject, ref: SplitRef): ParentsVerdict {
    const parents: GatewayParentRef[] = ref.gatewayApi?.httpRoute
      ? userRouteGatewayParents(live)
      : gatewayParents(ref.gatewayApi);
    return parents.length === 0 ? { state: "accepted" } : parentsVerdict(live, parents);
  }

  #missingUserRoute(ref: SplitRef): MeshError {
    return new MeshError(
      MeshErrorKind.Pending,
      `HTTPRoute ${ref.namespace}/${ref.gatewayApi?.httpRoute?.name} (spec.gatewayApi.httpRoute) does not exist`,
    );
  }
}
