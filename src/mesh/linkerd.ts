// The Linkerd adapter: a GAMMA HTTPRoute for weights; Server + MeshTLSAuthentication + AuthorizationPolicy for access.

import type { OwnerRef } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { readBackendPods } from "./backend-pods.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import {
  gatewayHttpRouteType,
  linkerdHttpRouteType,
  parseHttpRouteWeights,
  renderHttpRoute,
} from "./gamma-render.ts";
import { generatedRouteManagedRoutes, type HttpRouteStyle, managedHttpRules } from "./http-route-managed.ts";
import {
  authzRouteName,
  type LinkerdServerVersion,
  linkerdAuthorizationPolicyType,
  meshTlsAuthenticationType,
  needsAuthzRoute,
  networkAuthenticationType,
  type ProbeObjects,
  probesName,
  renderAuthzRoute,
  renderLinkerdAuthorizationPolicy,
  renderMeshTlsAuthentication,
  renderProbeObjects,
  renderServer,
  serverType,
} from "./linkerd-render.ts";
import { everyManagedRoute } from "./managed-routes.ts";
import { type MeshClient, ObjectStore, type ResourceType } from "./object-store.ts";
import { type MeshObject, metadataInSync, sameSpec } from "./objects.ts";
import { RouteObject } from "./route-object.ts";
import type { AccessPolicyModel, MeshAdapter, RouteState, SplitRef, TrafficSplitModel } from "./types.ts";

/** Linkerd's policy.linkerd.io HTTPRoute prunes rule names and holds 8 matches a rule. */
const LINKERD_STYLE: HttpRouteStyle = { named: false, maxMatches: 8 };

/** Constructor options of {@link LinkerdAdapter}. */
export interface LinkerdAdapterOptions {
  client: MeshClient;
  /**
   * Which HTTPRoute carries the split (default `policy.linkerd.io`, always installed by linkerd-crds ≥ 2.14;
   * `gateway.networking.k8s.io` when the Gateway API CRDs are installed and preferred).
   */
  routeGroup?: "policy.linkerd.io" | "gateway.networking.k8s.io";
  /** Server version (default v1beta3, Linkerd ≥ 2.16; v1beta1 has no accessPolicy field). */
  serverVersion?: LinkerdServerVersion;
  /** Identity trust domain (default cluster.local). */
  trustDomain?: string;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

/** The policy objects, in the order they are created (the Server last: it denies until authorized). */
interface PolicyObjects {
  authn: MeshObject;
  /** Present exactly when `route` is and HTTP probes target the Server's port. */
  probes: ProbeObjects | null;
  route: MeshObject | null;
  authz: MeshObject;
  server: MeshObject;
}

/**
 * Linkerd adapter. Routes: HTTPRoute `<rollout>` with the root Service as parent. Access policy: Server,
 * MeshTLSAuthentication and AuthorizationPolicy `<rollout>`, plus HTTPRoute `<rollout>-authz` when the policy
 * restricts routes (the AuthorizationPolicy then targets that route instead of the whole Server); with that route,
 * HTTPRoute, NetworkAuthentication and AuthorizationPolicy `<rollout>-probes` keep the kubelet's HTTP probes on the
 * port authorized (see renderProbeObjects). Inbound, Server-parented routes are always Linkerd's own HTTPRoute
 * kind, whatever carries the split.
 */
export class LinkerdAdapter implements MeshAdapter {
  readonly name = "linkerd";
  readonly #store: ObjectStore;
  readonly #routes: RouteObject;
  readonly #server: ResourceType;
  readonly #serverVersion: LinkerdServerVersion;
  readonly #trustDomain: string;

  constructor(options: LinkerdAdapterOptions) {
    this.#store = new ObjectStore(options.client, { conflictRetries: options.conflictRetries });
    const route =
      options.routeGroup === "gateway.networking.k8s.io" ? gatewayHttpRouteType("v1") : linkerdHttpRouteType;
    this.#routes = new RouteObject(this.#store, {
      type: route,
      render: (split) => renderHttpRoute(split, route, LINKERD_STYLE),
      parse: parseHttpRouteWeights,
      managed: generatedRouteManagedRoutes,
    });
    this.#serverVersion = options.serverVersion ?? "v1beta3";
    this.#server = serverType(this.#serverVersion);
    this.#trustDomain = options.trustDomain ?? "cluster.local";
  }

  setRoutes(split: TrafficSplitModel): Promise<RouteState | null> {
    return this.#routes.set(split);
  }

  getRoutes(ref: SplitRef): Promise<RouteState | null> {
    return this.#routes.get(ref);
  }

  /**
   * Header routes only: Linkerd's HTTPRoute has no RequestMirror filter and no per-backend response filters, so
   * neither mirrors nor sticky cookies can be expressed.
   */
  async routeSupport(spec: RolloutSpec, ref: SplitRef): Promise<string[]> {
    const every = everyManagedRoute(spec);
    const out: string[] = [];
    if (every.mirrors.length > 0)
      out.push('provider "linkerd" cannot mirror requests (its HTTPRoute has no RequestMirror filter)');
    if (every.sticky)
      out.push(
        'provider "linkerd" cannot keep sticky sessions (its HTTPRoute has no per-backend response filters)',
      );
    try {
      const owner = { apiVersion: "", kind: "", name: "", uid: "" };
      const managed = { headerRoutes: every.headerRoutes, mirrors: [] };
      managedHttpRules({ ...ref, weights: { primary: 100, canary: 0 }, owner, managed }, [{}], LINKERD_STYLE);
    } catch (err) {
      if (!(err instanceof MeshError)) throw err;
      out.push(err.message);
    }
    return out;
  }

  async applyAccessPolicy(
    ref: SplitRef & { owner: OwnerRef },
    policy: AccessPolicyModel | null,
  ): Promise<void> {
    if (policy === null) {
      await this.#removePolicy(ref);
      return;
    }
    const want = await this.#render(ref, policy, ref.owner);
    const { rolloutName } = ref;
    // Creation order avoids a deny window: a Server with no authorization denies everything, so it comes last,
    // after the authorization it needs; an AuthorizationPolicy whose target is missing is simply inert.
    await this.#store.ensure(meshTlsAuthenticationType, want.authn, rolloutName, sameSpec);
    // Probes are authorized before the authz route takes Linkerd's default probe routes away (its authentication
    // and policy first: they are inert until the probe route exists).
    if (want.probes) {
      await this.#store.ensure(networkAuthenticationType, want.probes.authn, rolloutName, sameSpec);
      await this.#store.ensure(linkerdAuthorizationPolicyType, want.probes.authz, rolloutName, sameSpec);
      await this.#store.ensure(linkerdHttpRouteType, want.probes.route, rolloutName, sameSpec);
    }
    if (want.route) await this.#store.ensure(linkerdHttpRouteType, want.route, rolloutName, sameSpec);
    await this.#store.ensure(linkerdAuthorizationPolicyType, want.authz, rolloutName, sameSpec);
    await this.#store.ensure(this.#server, want.server, rolloutName, sameSpec);
    // Only once the AuthorizationPolicy targets the Server again may a no-longer-needed route go; the probe
    // objects go once no authz route replaces the default probe routes (or no probe targets the port).
    if (!want.route)
      await this.#store.deleteOwned(
        linkerdHttpRouteType,
        ref.namespace,
        authzRouteName(rolloutName),
        rolloutName,
      );
    if (!want.probes) await this.#removeProbes(ref);
  }

  /** The probe route first: without it the policy and authentication are inert. */
  async #removeProbes(ref: SplitRef): Promise<void> {
    const { namespace, rolloutName } = ref;
    const name = probesName(rolloutName);
    await this.#store.deleteOwned(linkerdHttpRouteType, namespace, name, rolloutName);
    await this.#store.deleteOwned(linkerdAuthorizationPolicyType, namespace, name, rolloutName);
    await this.#store.deleteOwned(networkAuthenticationType, namespace, name, rolloutName);
  }

  async accessPolicyInSync(ref: SplitRef, policy: AccessPolicyModel | null): Promise<boolean> {
    const get = (type: ResourceType, name = ref.rolloutName) =>
      this.#store.getOwned(type, ref.namespace, name, ref.rolloutName);
    const probes = probesName(ref.rolloutName);
    const [authn, route, authz, server, probeRoute, probeAuthn, probeAuthz] = await Promise.all([
      get(meshTlsAuthenticationType),
      get(linkerdHttpRouteType, authzRouteName(ref.rolloutName)),
      get(linkerdAuthorizationPolicyType),
      get(this.#server),
      get(linkerdHttpRouteType, probes),
      get(networkAuthenticationType, probes),
      get(linkerdAuthorizationPolicyType, probes),
    ]);
    if (policy === null)
      return [authn, route, authz, server, probeRoute, probeAuthn, probeAuthz].every((o) => o === null);
    let want: PolicyObjects;
    try {
      want = await this.#render(ref, policy, policy.owner);
    } catch (err) {
      // Not expressible, or the Services don't exist yet: not in sync; applyAccessPolicy says why.
      if (err instanceof MeshError && err.kind !== MeshErrorKind.NotOwned) return false;
      throw err;
    }
    const same = (have: MeshObject | null, expected: MeshObject | null) =>
      expected === null
        ? have === null
        : have !== null && sameSpec(have, expected) && metadataInSync(have.metadata, expected.metadata);
    return (
      same(authn, want.authn) &&
      same(route, want.route) &&
      same(authz, want.authz) &&
      same(server, want.server) &&
      same(probeRoute, want.probes?.route ?? null) &&
      same(probeAuthn, want.probes?.authn ?? null) &&
      same(probeAuthz, want.probes?.authz ?? null)
    );
  }

  async cleanup(ref: SplitRef): Promise<void> {
    await this.#removePolicy(ref);
    await this.#routes.delete(ref);
  }

  /** Server first: without it the namespace's default policy applies again, so nothing is denied meanwhile. */
  async #removePolicy(ref: SplitRef): Promise<void> {
    const { namespace, rolloutName } = ref;
    await this.#store.deleteOwned(this.#server, namespace, rolloutName, rolloutName);
    await this.#store.deleteOwned(linkerdAuthorizationPolicyType, namespace, rolloutName, rolloutName);
    await this.#store.deleteOwned(linkerdHttpRouteType, namespace, authzRouteName(rolloutName), rolloutName);
    await this.#store.deleteOwned(meshTlsAuthenticationType, namespace, rolloutName, rolloutName);
    await this.#removeProbes(ref);
  }

  async #render(ref: SplitRef, policy: AccessPolicyModel, owner: OwnerRef): Promise<PolicyObjects> {
    const { namespace, rolloutName, rootService, primaryService, canaryService, port } = ref;
    const model = { ...policy, namespace, rolloutName, rootService, primaryService, canaryService, port };
    const pods = await readBackendPods(this.#store, ref);
    return {
      authn: renderMeshTlsAuthentication(model, this.#trustDomain, owner),
      probes: renderProbeObjects(model, pods.targetPort, owner),
      route: needsAuthzRoute(model) ? renderAuthzRoute(model, owner) : null,
      authz: renderLinkerdAuthorizationPolicy(model, owner),
      server: renderServer(model, pods, this.#serverVersion, owner),
    };
  }
}
