// The SMI adapter: TrafficSplit for weights; TrafficTarget + HTTPRouteGroup for access policy.

import type { OwnerRef } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { ApiDiscovery } from "../kube/discovery.ts";
import type { Weights } from "../rollout/types.ts";
import { pickVersion } from "./api-versions.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { type MeshClient, ObjectStore } from "./object-store.ts";
import { type MeshObject, metadataInSync, sameSpec } from "./objects.ts";
import type { ServedApis } from "./provider.ts";
import { RouteObject } from "./route-object.ts";
import {
  ACCESS_VERSIONS,
  type AccessVersion,
  httpRouteGroupType,
  parseTrafficSplitWeights,
  renderHttpRouteGroup,
  renderTrafficSplit,
  renderTrafficTarget,
  SPECS_VERSIONS,
  SPLIT_VERSIONS,
  type SpecsVersion,
  type SplitVersion,
  sameTrafficSplitSpec,
  trafficSplitType,
  trafficTargetType,
} from "./smi-render.ts";
import type { AccessPolicyModel, MeshAdapter, SplitRef, TrafficSplitModel } from "./types.ts";

/** The SMI API versions to write, one per group. */
export interface SmiVersions {
  split: SplitVersion;
  /** Default v1alpha3. */
  access?: AccessVersion;
  /** Default v1alpha4. */
  specs?: SpecsVersion;
}

/** Constructor options of {@link SmiAdapter}. */
export interface SmiAdapterOptions {
  /** Usually the controller's `KubeClients` (requests are counted and rate-limited there). */
  client: MeshClient;
  /** TrafficSplit version, from {@link detectSmiVersions}. */
  splitVersion: SplitVersion;
  /** TrafficTarget version (default v1alpha3). */
  accessVersion?: AccessVersion;
  /** HTTPRouteGroup version (default v1alpha4). */
  specsVersion?: SpecsVersion;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
}

/**
 * SMI ("legacy": linkerd-smi, OSM) adapter. Objects are all named after the Rollout: TrafficSplit, TrafficTarget
 * and HTTPRouteGroup `<rollout>`. Every method reads first and writes only when the semantic content differs.
 */
export class SmiAdapter implements MeshAdapter {
  readonly name = "smi";
  readonly #store: ObjectStore;
  readonly #routes: RouteObject;
  readonly #access: AccessVersion;
  readonly #specs: SpecsVersion;

  constructor(options: SmiAdapterOptions) {
    this.#store = new ObjectStore(options.client, { conflictRetries: options.conflictRetries });
    const version = options.splitVersion;
    this.#routes = new RouteObject(this.#store, {
      type: trafficSplitType(version),
      render: (split) => renderTrafficSplit(split, version),
      parse: parseTrafficSplitWeights,
      same: sameTrafficSplitSpec,
    });
    this.#access = options.accessVersion ?? "v1alpha3";
    this.#specs = options.specsVersion ?? "v1alpha4";
  }

  setRoutes(split: TrafficSplitModel): Promise<Weights | null> {
    return this.#routes.set(split);
  }

  getRoutes(ref: SplitRef): Promise<Weights | null> {
    return this.#routes.get(ref);
  }

  /**
   * None: a TrafficSplit's matches (v1alpha4) restrict the whole split to an HTTPRouteGroup, so no version can send
   * some requests to the canary while the rest follow the weight, nor mirror or set cookies.
   */
  async routeSupport(_spec: RolloutSpec, _ref: SplitRef): Promise<string[]> {
    return [
      'provider "smi" cannot route by header, mirror or keep sticky sessions beside a weight ' +
        "(a TrafficSplit's matches apply to the whole split); use istio, linkerd or gateway-api",
    ];
  }

  async applyAccessPolicy(
    ref: SplitRef & { owner: OwnerRef },
    policy: AccessPolicyModel | null,
  ): Promise<void> {
    if (policy === null) {
      // Target first: a moment with a group but no target changes nothing; the reverse leaves a dangling rule.
      await this.#store.deleteOwned(
        trafficTargetType(this.#access),
        ref.namespace,
        ref.rolloutName,
        ref.rolloutName,
      );
      await this.#store.deleteOwned(
        httpRouteGroupType(this.#specs),
        ref.namespace,
        ref.rolloutName,
        ref.rolloutName,
      );
      return;
    }
    // Render both before writing either, so an unsupported policy writes nothing.
    const { target, group } = this.#renderPolicy(ref, policy, ref.owner);
    // Group first: the target's rule must never name a match the group doesn't have yet.
    await this.#store.ensure(httpRouteGroupType(this.#specs), group, ref.rolloutName, sameSpec);
    await this.#store.ensure(trafficTargetType(this.#access), target, ref.rolloutName, sameSpec);
  }

  async accessPolicyInSync(ref: SplitRef, policy: AccessPolicyModel | null): Promise<boolean> {
    const [target, group] = await Promise.all([
      this.#store.getOwned(trafficTargetType(this.#access), ref.namespace, ref.rolloutName, ref.rolloutName),
      this.#store.getOwned(httpRouteGroupType(this.#specs), ref.namespace, ref.rolloutName, ref.rolloutName),
    ]);
    if (policy === null) return target === null && group === null;
    if (target === null || group === null) return false;
    let want: { target: MeshObject; group: MeshObject };
    try {
      want = this.#renderPolicy(ref, policy, policy.owner);
    } catch (err) {
      // An inexpressible policy is simply not in sync; applyAccessPolicy reports why.
      if (err instanceof MeshError && err.kind === MeshErrorKind.Unsupported) return false;
      throw err;
    }
    return (
      sameSpec(target, want.target) &&
      sameSpec(group, want.group) &&
      metadataInSync(target.metadata, want.target.metadata) &&
      metadataInSync(group.metadata, want.group.metadata)
    );
  }

  async cleanup(ref: SplitRef): Promise<void> {
    const { namespace, rolloutName } = ref;
    await this.#store.deleteOwned(trafficTargetType(this.#access), namespace, rolloutName, rolloutName);
    await this.#store.deleteOwned(httpRouteGroupType(this.#specs), namespace, rolloutName, rolloutName);
    await this.#routes.delete(ref);
  }

  #renderPolicy(ref: SplitRef, policy: AccessPolicyModel, owner: OwnerRef) {
    // The ref names the objects; its identity fields win over the policy's copies.
    const { namespace, rolloutName, rootService, primaryService, canaryService, port } = ref;
    const model = { ...policy, namespace, rolloutName, rootService, primaryService, canaryService, port };
    return {
      target: renderTrafficTarget(model, this.#access, owner),
      group: renderHttpRouteGroup(model, this.#specs, owner),
    };
  }
}

/**
 * Detects the SMI versions to write from discovery: the preferred served TrafficSplit version (any of
 * v1alpha1–v1alpha4), TrafficTarget v1alpha3 else v1alpha2, HTTPRouteGroup v1alpha4 else v1alpha3. `access`
 * and `specs` are undefined when not served (the adapter then defaults them, and applying a policy fails with
 * NotFound naming the missing resource). Throws {@link MeshError} `Unsupported` when no TrafficSplit version
 * Vireo supports is served.
 */
export async function detectSmiVersions(discovery: Pick<ApiDiscovery, "served">): Promise<SmiVersions> {
  const versions = smiVersionsOf(await discovery.served());
  if (!versions) {
    const split = (await discovery.served()).get("split.smi-spec.io");
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `the cluster serves no TrafficSplit version Vireo supports (${SPLIT_VERSIONS.join(", ")}); ` +
        `served: ${split?.versions.join(", ") || "none (split.smi-spec.io CRD missing)"}`,
    );
  }
  return versions;
}

/** {@link detectSmiVersions} on an already-read discovery map; undefined when no supported split is served. */
export function smiVersionsOf(served: ServedApis): SmiVersions | undefined {
  const splitVersion = pickVersion(served.get("split.smi-spec.io"), SPLIT_VERSIONS);
  if (!splitVersion) return undefined;
  const versions: SmiVersions = { split: splitVersion };
  const access = pickVersion(served.get("access.smi-spec.io"), ACCESS_VERSIONS);
  const specs = pickVersion(served.get("specs.smi-spec.io"), SPECS_VERSIONS);
  if (access) versions.access = access;
  if (specs) versions.specs = specs;
  return versions;
}
