// Pure SMI rendering: TrafficSplit (v1alpha1–v1alpha4), TrafficTarget and HTTPRouteGroup, and reading weights back.

import type { OwnerRef } from "../api/object-meta.ts";
import { semanticEqual } from "../api/semantic-equal.ts";
import type { Weights } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { ResourceType } from "./object-store.ts";
import { type MeshObject, renderMetadata } from "./objects.ts";
import { normaliseRoutes, normaliseSources, type SourceIdentity } from "./policy.ts";
import {
  addRational,
  canonicalQuantity,
  parseQuantity,
  type Rational,
  toPercentages,
  ZERO,
} from "./quantity.ts";
import type { AccessPolicyModel, SplitRef, TrafficSplitModel } from "./types.ts";
import { weightedBackends } from "./weights.ts";

/** Served TrafficSplit versions Vireo can write. v1alpha1 has quantity weights, v1alpha2+ integers. */
export const SPLIT_VERSIONS = ["v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"] as const;
/** A `split.smi-spec.io` version. */
export type SplitVersion = (typeof SPLIT_VERSIONS)[number];
/** `access.smi-spec.io` versions with the `spec.{destination,sources,rules}` layout, most preferred first. */
export const ACCESS_VERSIONS = ["v1alpha3", "v1alpha2"] as const;
/** An `access.smi-spec.io` version. */
export type AccessVersion = (typeof ACCESS_VERSIONS)[number];
/** `specs.smi-spec.io` versions with `spec.matches[]`, most preferred first. */
export const SPECS_VERSIONS = ["v1alpha4", "v1alpha3"] as const;
/** A `specs.smi-spec.io` version. */
export type SpecsVersion = (typeof SPECS_VERSIONS)[number];

/** The TrafficSplit resource at `version`. */
export const trafficSplitType = (version: SplitVersion): ResourceType => ({
  group: "split.smi-spec.io",
  version,
  plural: "trafficsplits",
  kind: "TrafficSplit",
});
/** The TrafficTarget resource at `version`. */
export const trafficTargetType = (version: AccessVersion): ResourceType => ({
  group: "access.smi-spec.io",
  version,
  plural: "traffictargets",
  kind: "TrafficTarget",
});
/** The HTTPRouteGroup resource at `version`. */
export const httpRouteGroupType = (version: SpecsVersion): ResourceType => ({
  group: "specs.smi-spec.io",
  version,
  plural: "httproutegroups",
  kind: "HTTPRouteGroup",
});

interface Backend {
  service: string;
  weight: number | string;
}

/**
 * The TrafficSplit `<rollout>` splitting `rootService` between primary and canary. Backends are always both
 * present (a 0 weight included) in a fixed order. v1alpha1 weights are decimal integer quantity strings
 * ("90"), exactly what Flagger and Argo Rollouts write through `resource.NewQuantity`; later versions use
 * integers. No `matches`: Vireo splits all traffic, it does not do header-based A/B routing.
 */
export function renderTrafficSplit(model: TrafficSplitModel, version: SplitVersion): MeshObject {
  const backends = weightedBackends<Backend>(model, (service, w) => ({
    service,
    weight: version === "v1alpha1" ? String(w) : w,
  }));
  return {
    apiVersion: `split.smi-spec.io/${version}`,
    kind: "TrafficSplit",
    metadata: renderMetadata(model.rolloutName, model.namespace, model.rolloutName, model.owner),
    spec: { service: model.rootService, backends },
  };
}

/**
 * The warning for a multi-port root Service under SMI: a TrafficSplit names a Service, not a port, so every port
 * moves to the canary with the same weights. Undefined when the Service has no other port.
 */
export function smiPortsWarning(
  model: Pick<TrafficSplitModel, "rootService" | "port" | "otherPorts">,
): string | undefined {
  const others = [...new Set(model.otherPorts ?? [])].filter((p) => p !== model.port).sort((a, b) => a - b);
  if (others.length === 0) return undefined;
  return (
    `Service ${model.rootService} has ports ${[model.port, ...others].join(", ")}, but an SMI TrafficSplit cannot ` +
    `split one port: port${others.length > 1 ? "s" : ""} ${others.join(", ")} move${others.length > 1 ? "" : "s"} to the canary with port ${model.port}; ` +
    "use provider istio, linkerd or gateway-api to split only spec.service.port"
  );
}

/**
 * Reads primary/canary percentages from a TrafficSplit of any version, whatever form its weights take (90,
 * "90", "900m", "0.9", "1k", "1Ki"). Weights are relative, so they are normalised over the two backends and
 * rounded to integers summing to 100 (see {@link toPercentages}). A missing backend counts as weight 0; other
 * backends are ignored. Returns null when the split cannot be read as a primary/canary split: weights that are
 * not quantities, or both zero — null makes the engine re-apply routes, which repairs the object.
 */
export function parseTrafficSplitWeights(
  obj: MeshObject,
  ref: Pick<SplitRef, "primaryService" | "canaryService">,
): Weights | null {
  const backends = (obj.spec as { backends?: unknown } | undefined)?.backends;
  const list = Array.isArray(backends) ? (backends as Partial<Backend>[]) : [];
  const weightOf = (service: string): Rational | undefined => {
    // Repeated backends add up, as a mesh would send each its own share.
    let sum: Rational = ZERO;
    for (const b of list.filter((x) => x?.service === service)) {
      const q = parseQuantity(b.weight);
      if (!q) return undefined;
      sum = addRational(sum, q);
    }
    return sum;
  };
  const primary = weightOf(ref.primaryService);
  const canary = weightOf(ref.canaryService);
  if (!primary || !canary) return null;
  return toPercentages(primary, canary) ?? null;
}

/**
 * True when two TrafficSplits route identically as written: same service, same backends in order, and weights
 * of equal value however spelled (90, "90" and "90000m" are one quantity). Metadata and status are ignored.
 */
export function sameTrafficSplitSpec(live: MeshObject, desired: MeshObject): boolean {
  return semanticEqual(canonicalSplitSpec(live.spec), canonicalSplitSpec(desired.spec));
}

function canonicalSplitSpec(spec: unknown): unknown {
  if (typeof spec !== "object" || spec === null) return spec;
  const s = spec as { backends?: unknown };
  if (!Array.isArray(s.backends)) return spec;
  return {
    ...s,
    backends: s.backends.map((b: unknown) =>
      typeof b === "object" && b !== null ? { ...b, weight: canonicalQuantity((b as Backend).weight) } : b,
    ),
  };
}

/**
 * The policy's sources for SMI: SMI subjects are single ServiceAccounts, so the model's "*" (every
 * ServiceAccount of a namespace) is rejected with {@link MeshError} `Unsupported` rather than written as a
 * name no SMI mesh would match.
 */
export function smiSources(policy: AccessPolicyModel): SourceIdentity[] {
  const sources = normaliseSources(policy);
  const wildcard = sources.find((s) => s.serviceAccount === "*");
  if (wildcard) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `SMI TrafficTarget sources are individual ServiceAccounts; "*" (every ServiceAccount of namespace ` +
        `${wildcard.namespace}) cannot be expressed — list the ServiceAccounts or use the istio/linkerd provider`,
    );
  }
  return sources;
}

/** The HTTPRouteGroup `<rollout>`: one match per normalised route. */
export function renderHttpRouteGroup(
  policy: AccessPolicyModel,
  version: SpecsVersion,
  owner?: OwnerRef,
): MeshObject {
  return {
    apiVersion: `specs.smi-spec.io/${version}`,
    kind: "HTTPRouteGroup",
    metadata: renderMetadata(policy.rolloutName, policy.namespace, policy.rolloutName, owner ?? policy.owner),
    spec: { matches: normaliseRoutes(policy.routes) },
  };
}

/**
 * The TrafficTarget `<rollout>`: destination is the pods' ServiceAccount, sources the allowed callers, one rule
 * naming every match of the HTTPRouteGroup `<rollout>`. No destination port (v1alpha2 only; the Service port
 * is not the pod port, and omitting it means every port, as v1alpha3 has it).
 */
export function renderTrafficTarget(
  policy: AccessPolicyModel,
  version: AccessVersion,
  owner?: OwnerRef,
): MeshObject {
  return {
    apiVersion: `access.smi-spec.io/${version}`,
    kind: "TrafficTarget",
    metadata: renderMetadata(policy.rolloutName, policy.namespace, policy.rolloutName, owner ?? policy.owner),
    spec: {
      destination: {
        kind: "ServiceAccount",
        name: policy.destinationServiceAccount,
        namespace: policy.namespace,
      },
      sources: smiSources(policy).map((s) => ({
        kind: "ServiceAccount",
        name: s.serviceAccount,
        namespace: s.namespace,
      })),
      rules: [
        {
          kind: "HTTPRouteGroup",
          name: policy.rolloutName,
          matches: normaliseRoutes(policy.routes).map((m) => m.name),
        },
      ],
    },
  };
}
