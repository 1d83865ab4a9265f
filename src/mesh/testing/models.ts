// Fixture factories for mesh-model values in unit and e2e tests.

import type { OwnerRef } from "../../api/object-meta.ts";
import type { Weights } from "../../rollout/types.ts";
import type { AccessPolicyModel, SplitRef, TrafficSplitModel } from "../types.ts";

/** A SplitRef for Rollout `name` in `namespace`, following the `<root>-primary` / `<root>-canary` convention. */
export function aSplitRef(namespace = "shop", name = "checkout"): SplitRef {
  return {
    namespace,
    rolloutName: name,
    rootService: name,
    primaryService: `${name}-primary`,
    canaryService: `${name}-canary`,
    port: 8080,
  };
}

/** An owner reference to a Rollout. */
export function anOwner(name = "checkout", uid = "11111111-2222-3333-4444-555555555555"): OwnerRef {
  return { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name, uid };
}

/** A split model with the given weights. */
export function aSplit(
  weights: Weights,
  ref: SplitRef = aSplitRef(),
  owner: OwnerRef = anOwner(),
): TrafficSplitModel {
  return { ...ref, weights, owner };
}

/** A policy allowing `frontend` from `web` on `/api/.*` GET/POST. */
export function aPolicy(
  overrides: Partial<AccessPolicyModel> = {},
  ref: SplitRef = aSplitRef(),
  owner: OwnerRef = anOwner(),
): AccessPolicyModel {
  return {
    ...ref,
    owner,
    destinationServiceAccount: "checkout",
    sources: [{ serviceAccount: "frontend", namespace: "web" }],
    routes: [{ pathRegex: "/api/.*", methods: ["GET", "POST"] }],
    ...overrides,
  };
}
