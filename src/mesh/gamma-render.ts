// Pure rendering of a GAMMA HTTPRoute (Service parentRef, weighted backendRefs) and reading its weights back.

import { apiVersionOf } from "../api/object-meta.ts";
import type { Weights } from "../rollout/types.ts";
import {
  GATEWAY_API_STYLE,
  generatedRouteProjection,
  type HttpRouteStyle,
  managedHttpRules,
  stickySplitRule,
} from "./http-route-managed.ts";
import { managedAnnotations } from "./managed-routes.ts";
import type { ResourceType } from "./object-store.ts";
import { type MeshObject, renderMetadata } from "./objects.ts";
import type { SplitRef, TrafficSplitModel } from "./types.ts";
import { percentagesOf, weightedBackends } from "./weights.ts";

/** `gateway.networking.k8s.io` HTTPRoute at `version` (v1 from Gateway API v1.0, else v1beta1). */
export const gatewayHttpRouteType = (version: "v1" | "v1beta1"): ResourceType => ({
  group: "gateway.networking.k8s.io",
  version,
  plural: "httproutes",
  kind: "HTTPRoute",
});

/** Linkerd's own HTTPRoute (`policy.linkerd.io/v1beta3`, Linkerd ≥ 2.14; same shape as Gateway API's). */
export const linkerdHttpRouteType: ResourceType = {
  group: "policy.linkerd.io",
  version: "v1beta3",
  plural: "httproutes",
  kind: "HTTPRoute",
};

interface BackendRef {
  group?: string;
  kind?: string;
  name?: string;
  port?: number;
  weight?: number;
}

/**
 * The HTTPRoute `<rollout>` attached to the root Service (a producer route: it applies to every meshed client).
 * Every field the upstream CRDs default is written explicitly (parentRef group "" and kind Service, which must
 * be explicit or the parent means a Gateway; backendRef group/kind; the catch-all PathPrefix "/" match), so the
 * stored object equals the rendered one and an unchanged split is never rewritten. Managed routes come first, the
 * split rule last.
 */
export function renderHttpRoute(
  model: TrafficSplitModel,
  type: ResourceType,
  style: HttpRouteStyle = GATEWAY_API_STYLE,
): MeshObject {
  const matches = [{ path: { type: "PathPrefix", value: "/" } }];
  return routeObject(model, type, {
    parentRefs: [{ group: "", kind: "Service", name: model.rootService, port: model.port }],
    rules: [
      ...managedHttpRules(model, matches, style),
      { matches, ...stickySplitRule(model, serviceBackendRefs(model), style) },
    ],
  });
}

/** A generated HTTPRoute `<rollout>` with `spec`, annotated with the managed routes it renders. */
export function routeObject(model: TrafficSplitModel, type: ResourceType, spec: unknown): MeshObject {
  const metadata = renderMetadata(model.rolloutName, model.namespace, model.rolloutName, model.owner);
  const annotations = managedAnnotations(model.managed, generatedRouteProjection(spec));
  return {
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: { ...metadata, annotations: { ...metadata.annotations, ...annotations } },
    spec,
  };
}

/** Gateway API backendRefs to the primary and canary Services at the split port, every defaulted field written. */
export function serviceBackendRefs(model: TrafficSplitModel) {
  return weightedBackends(model, (name, weight) => ({
    group: "",
    kind: "Service",
    name,
    port: model.port,
    weight,
  }));
}

/**
 * Primary/canary percentages from an HTTPRoute's last rule (the split Vireo writes after any managed rule). A
 * backendRef without a weight has the API default 1; Services are matched by name. Null when the rule routes
 * nothing to either.
 */
export function parseHttpRouteWeights(
  obj: MeshObject,
  ref: Pick<SplitRef, "primaryService" | "canaryService">,
): Weights | null {
  const rules = (obj.spec as { rules?: { backendRefs?: BackendRef[] }[] } | undefined)?.rules;
  const split = Array.isArray(rules) ? rules.at(-1) : undefined;
  const refs = Array.isArray(split?.backendRefs) ? split.backendRefs : [];
  const sum = (name: string) =>
    refs
      .filter((b) => b?.name === name && (b.kind ?? "Service") === "Service")
      .reduce(
        (acc, b) => acc + (b.weight === undefined ? 1 : typeof b.weight === "number" ? b.weight : Number.NaN),
        0,
      );
  return percentagesOf(sum(ref.primaryService), sum(ref.canaryService));
}
