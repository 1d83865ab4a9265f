// What one mesh provider is to Vireo: how it is detected, built, watched, measured and authorized, in one value.
import type { MetricsMesh, Reason } from "../api/constants.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import type { ServedGroup } from "../kube/discovery.ts";
import type { ClusterFacts } from "./cluster-facts.ts";
import type { MeshClient, ResourceType } from "./object-store.ts";
import type { MeshAdapter, SplitRef, TrafficSplitModel } from "./types.ts";

/** Served API groups as discovery reports them (absent groups are not in the map). */
export type ServedApis = ReadonlyMap<string, ServedGroup>;

/** What every adapter gets from the composition root, whatever its provider. */
export interface AdapterContext {
  /** The controller's `KubeClients` (or anything with its `request`). */
  client: MeshClient;
  /** Mesh identity trust domain for Istio principals and Linkerd identities (default cluster.local). */
  trustDomain?: string;
  /** Re-reads after a 409 before reporting the Conflict (default 3). */
  conflictRetries?: number;
  /** Namespace labels and Services (cached by the controller); adapters read them with GETs otherwise. */
  facts?: ClusterFacts;
}

/** Something a person should know about how a provider renders a Rollout (a Warning Event, once per generation). */
export interface ProviderWarning {
  reason: Reason;
  message: string;
}

/** A routing kind the provider writes, with every version Vireo may write it at (most preferred first). */
export interface RoutingKind {
  group: string;
  plural: string;
  kind: string;
  versions: readonly string[];
}

/** One ClusterRole rule, as in `deploy/rbac.yaml`. */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/**
 * A mesh provider (`spec.provider`). Adding a provider is one descriptor, its adapter and one conformance row:
 * the schema enum, detection, adapter construction, routing watches, builtin-metrics choice, the RBAC test and
 * the e2e simulator's route watcher all read the list of descriptors (see registry.ts).
 */
export interface MeshProviderDescriptor<Name extends string = string, Apis = unknown> {
  /** The `spec.provider` value. */
  readonly name: Name;
  /** Discovery groups {@link detect} reads. */
  readonly apiGroups: readonly string[];
  /** What to install when {@link detect} finds nothing, for the Unsupported message. */
  readonly requires: string;
  /** The versions to write, from what the cluster serves; undefined when the routing API is not served. */
  detect(served: ServedApis): Apis | undefined;
  /** The adapter for detected APIs (cheap: called per reconcile). */
  create(apis: Apis, context: AdapterContext): MeshAdapter;
  /** The routing objects the controller watches (Vireo's own, by label) at the detected versions. */
  routingTypes(apis: Apis): ResourceType[];
  /** Every routing kind it may write; a mesh emulator (the e2e simulator) reads these. */
  readonly routingKinds: readonly RoutingKind[];
  /** Every other kind it writes (access policy), any version: RBAC does not see versions. */
  readonly policyTypes: readonly ResourceType[];
  /** Verbs beyond the object store's and the routing watches' (e.g. server-side apply), each with its reason. */
  readonly extraRules?: readonly (RbacRule & { why: string })[];
  /**
   * Whose proxy metrics its Rollouts' builtin metrics read (a vocabulary of analysis/builtin-queries.ts);
   * undefined: the mesh underneath, i.e. the controller's `--metrics-mesh`.
   */
  readonly metricsMesh: MetricsMesh | undefined;
  /**
   * Problems only this provider has with a spec the schema accepts (a limit of its API): the engine reports them as
   * phase Invalid before anything is written. Absent: none.
   */
  specIssues?(spec: RolloutSpec): SpecIssue[];
  /** What a person should know about how it renders this split (e.g. ports it cannot tell apart). Absent: none. */
  warnings?(split: SplitRef & Pick<TrafficSplitModel, "otherPorts">): ProviderWarning[];
}

/** What the object store does with every mesh object: GET by name, POST, PUT with resourceVersion, DELETE. */
export const MESH_OBJECT_VERBS = ["create", "delete", "get", "update"] as const;
/** What the controller's routing informers add (controller/manager.ts watchRouting). */
export const ROUTING_WATCH_VERBS = ["list", "watch"] as const;

/** The ClusterRole rules a provider needs: write its objects, and list/watch its routing kinds. */
export function rbacRulesOf(provider: MeshProviderDescriptor): RbacRule[] {
  const routing = provider.routingKinds.map((k) => ({
    apiGroups: [k.group],
    resources: [k.plural],
    verbs: [...MESH_OBJECT_VERBS, ...ROUTING_WATCH_VERBS].sort(),
  }));
  const policy = provider.policyTypes.map((t) => ({
    apiGroups: [t.group],
    resources: [t.plural],
    verbs: [...MESH_OBJECT_VERBS],
  }));
  const extra = (provider.extraRules ?? []).map(({ apiGroups, resources, verbs }) => ({
    apiGroups,
    resources,
    verbs,
  }));
  return [...routing, ...policy, ...extra];
}

/** Declares a descriptor, keeping its name literal and its detected-API type. */
export function defineProvider<const Name extends string, Apis>(
  descriptor: MeshProviderDescriptor<Name, Apis>,
): MeshProviderDescriptor<Name, Apis> {
  return descriptor;
}
