// The list of mesh providers, and what derives from it: detection, adapter construction, routing watches, RBAC.
import { MESH_PROVIDER_NAMES, type MeshProvider, type MetricsMesh } from "../api/constants.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import type { ApiDiscovery } from "../kube/discovery.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { gatewayApiProvider } from "./gateway-api-provider.ts";
import { istioProvider } from "./istio-provider.ts";
import { kubernetesProvider } from "./kubernetes-provider.ts";
import { linkerdProvider } from "./linkerd-provider.ts";
import type { ResourceType } from "./object-store.ts";
import type { AdapterContext, MeshProviderDescriptor, ProviderWarning } from "./provider.ts";
import { smiProvider } from "./smi-provider.ts";
import type { MeshAdapter, SplitRef, TrafficSplitModel } from "./types.ts";

/**
 * One descriptor per `spec.provider` name (src/api/constants.ts). A name without a descriptor, a descriptor without
 * a name, or a descriptor under another's name is a type error. Adding a provider = its name there, one entry here.
 */
const BY_NAME = {
  istio: istioProvider,
  linkerd: linkerdProvider,
  smi: smiProvider,
  "gateway-api": gatewayApiProvider,
  kubernetes: kubernetesProvider,
} as const satisfies { [N in MeshProvider]: MeshProviderDescriptor<N> };

/** Every provider Vireo supports, in the order the schema and docs list them. */
export const MESH_PROVIDERS = MESH_PROVIDER_NAMES.map((name) => BY_NAME[name]);

type ApisOf<P> = P extends MeshProviderDescriptor<string, infer A> ? A : never;
/** The mesh API versions the cluster serves, per provider; a provider is absent when its API is not installed. */
export type MeshApis = { [N in MeshProvider]?: ApisOf<(typeof BY_NAME)[N]> };

/** What adapters need, gathered once at start-up by the composition root. */
export interface MeshAdapterDeps extends MeshApis, AdapterContext {}

/** Every discovery group some provider reads (what ApiDiscovery needs to keep). */
export const MESH_API_GROUPS: readonly string[] = [...new Set(MESH_PROVIDERS.flatMap((p) => p.apiGroups))];

/** The descriptor of `name` with its detected-API type erased (the registry pairs the two by name). */
function descriptorOf(name: MeshProvider): MeshProviderDescriptor<MeshProvider, unknown> {
  const found: MeshProviderDescriptor<MeshProvider, unknown> | undefined = BY_NAME[name];
  if (!found) throw new MeshError(MeshErrorKind.NotImplemented, `unknown mesh provider "${String(name)}"`);
  return found;
}

/** Reads discovery once and reports every mesh API Vireo can use. Never throws for a missing API. */
export async function detectMeshApis(discovery: Pick<ApiDiscovery, "served">): Promise<MeshApis> {
  const served = await discovery.served();
  const apis: Record<string, unknown> = {};
  for (const provider of MESH_PROVIDERS) {
    const detected = provider.detect(served);
    if (detected !== undefined) apis[provider.name] = detected;
  }
  return apis as MeshApis;
}

/**
 * Returns the adapter for `provider` (cheap: call it per reconcile). Throws {@link MeshError} `Unsupported` when
 * the cluster lacks the provider's routing API, naming what to install.
 */
export function createMeshAdapter(provider: MeshProvider, deps: MeshAdapterDeps): MeshAdapter {
  const descriptor = descriptorOf(provider);
  const apis: unknown = deps[provider];
  if (apis === undefined) {
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `provider "${provider}" needs ${descriptor.requires} installed in the cluster`,
    );
  }
  return descriptor.create(apis, deps);
}

/**
 * The routing objects Vireo writes for the APIs the cluster serves. The controller watches Vireo's own (by label),
 * so an out-of-band edit of a split is seen and undone in seconds rather than at the next resync.
 */
export function routingTypes(apis: MeshApis): ResourceType[] {
  const out = new Map<string, ResourceType>();
  for (const provider of MESH_PROVIDERS) {
    const detected: unknown = apis[provider.name];
    if (detected === undefined) continue;
    for (const t of descriptorOf(provider.name).routingTypes(detected))
      out.set(`${t.group}/${t.version}/${t.plural}`, t);
  }
  return [...out.values()];
}

/** Whose builtin metrics a provider's Rollouts read; `fallback` (`--metrics-mesh`) for mesh-neutral APIs. */
export function metricsMeshFor(provider: MeshProvider, fallback: MetricsMesh): MetricsMesh {
  return descriptorOf(provider).metricsMesh ?? fallback;
}

/** What `spec.provider` alone finds wrong with `spec` (see {@link MeshProviderDescriptor.specIssues}). */
export function providerSpecIssues(spec: RolloutSpec): SpecIssue[] {
  return descriptorOf(spec.provider).specIssues?.(spec) ?? [];
}

/** What `provider` warns about how it renders `split` (see {@link MeshProviderDescriptor.warnings}). */
export function providerWarnings(
  provider: MeshProvider,
  split: SplitRef & Pick<TrafficSplitModel, "otherPorts">,
): ProviderWarning[] {
  return descriptorOf(provider).warnings?.(split) ?? [];
}
