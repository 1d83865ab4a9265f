// The "smi" provider: TrafficSplit at the served version; TrafficTarget + HTTPRouteGroup for access policy.
import { REASONS } from "../api/constants.ts";
import { defineProvider } from "./provider.ts";
import { SmiAdapter, smiVersionsOf } from "./smi.ts";
import {
  httpRouteGroupType,
  SPLIT_VERSIONS,
  smiPortsWarning,
  trafficSplitType,
  trafficTargetType,
} from "./smi-render.ts";

/** SMI (linkerd-smi, OSM). Builtin metrics come from the mesh underneath (`--metrics-mesh`). */
export const smiProvider = defineProvider({
  name: "smi",
  apiGroups: ["split.smi-spec.io", "access.smi-spec.io", "specs.smi-spec.io"],
  requires: "the SMI TrafficSplit API (split.smi-spec.io)",
  detect: smiVersionsOf,
  create: (apis, { client, conflictRetries }) =>
    new SmiAdapter({
      client,
      conflictRetries,
      splitVersion: apis.split,
      accessVersion: apis.access,
      specsVersion: apis.specs,
    }),
  routingTypes: (apis) => [trafficSplitType(apis.split)],
  routingKinds: [
    { group: "split.smi-spec.io", plural: "trafficsplits", kind: "TrafficSplit", versions: SPLIT_VERSIONS },
  ],
  policyTypes: [trafficTargetType("v1alpha3"), httpRouteGroupType("v1alpha4")],
  metricsMesh: undefined,
  warnings: (split) => {
    const message = smiPortsWarning(split);
    return message ? [{ reason: REASONS.PortsNotSplit, message }] : [];
  },
});
