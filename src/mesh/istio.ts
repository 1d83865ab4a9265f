// The Istio adapter: VirtualService for weights; one ALLOW AuthorizationPolicy per backend (primary, canary).

import type { OwnerRef } from "../api/object-meta.ts";
import type { Weights } from "../rollout/types.ts";
import { readBackendPods } from "./backend-pods.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import {
  authorizationPolicyType,
  type IstioNetworkingVersion,
  type IstioSecurityVersion,
  parseVirtualServiceWeights,
  renderAuthorizationPolicy,
  renderVirtualService,
  virtualServiceType,
} from "./istio-render.ts";
import { type MeshClient, ObjectStore, type ResourceType } from "./object-store.ts";
import { type MeshObject, metadataInSync, sameSpec } from "./objects.ts";
import { RouteObject } from "./route-object.ts";
import type { AccessPolicyModel, MeshAdapter, SplitRef, TrafficSplitModel } from "./types.ts";

/** Constructor options of {@link IstioAdapter}. */
export interface IstioAdapterOptions {
  client: MeshClient;
  /** `networking.istio.io` version (default v1; v1beta1 before Istio 1.22). */
  networkingVersion?: IstioNetworkingVersion;
  /** `security.istio.io` version (default v1; v1beta1 before Istio 1.22). */
  securityVersion?: IstioSecurityVersion;
  /** Mesh trust domain for principals (default cluster.local). */
  trustDomain?: string;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

const ROLES = ["primary", "canary"] as const;

/**
 * Istio adapter. Routes: VirtualService `<rollout>`. Access policy: AuthorizationPolicies `<rollout>-primary` and
 * `<rollout>-canary` — two, because Vireo's primary pods carry renamed selector values, so no single
 * `matchLabels` selects both; each copies its backend Service's selector.
 */
export class IstioAdapter implements MeshAdapter {
  readonly name = "istio";
  readonly #store: ObjectStore;
  readonly #routes: RouteObject;
  readonly #ap: ResourceType;
  readonly #trustDomain: string;

  constructor(options: IstioAdapterOptions) {
    this.#store = new ObjectStore(options.client, { conflictRetries: options.conflictRetries });
    const vs = virtualServiceType(options.networkingVersion ?? "v1");
    this.#routes = new RouteObject(this.#store, {
      type: vs,
      render: (split) => renderVirtualService(split, vs),
      parse: parseVirtualServiceWeights,
    });
    this.#ap = authorizationPolicyType(options.securityVersion ?? "v1");
    this.#trustDomain = options.trustDomain ?? "cluster.local";
  }

  setRoutes(split: TrafficSplitModel): Promise<Weights | null> {
    return this.#routes.set(split);
  }

  getRoutes(ref: SplitRef): Promise<Weights | null> {
    return this.#routes.get(ref);
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
    await this.#routes.delete(ref);
  }

  async #render(ref: SplitRef, policy: AccessPolicyModel, owner: OwnerRef): Promise<MeshObject[]> {
    const { namespace, rolloutName, rootService, primaryService, canaryService, port } = ref;
    const model = { ...policy, namespace, rolloutName, rootService, primaryService, canaryService, port };
    const pods = await readBackendPods(this.#store, ref);
    return ROLES.map((role) =>
      renderAuthorizationPolicy(model, role, pods[role], this.#ap, { trustDomain: this.#trustDomain, owner }),
    );
  }
}

const name = (ref: SplitRef, role: "primary" | "canary") => `${ref.rolloutName}-${role}`;
