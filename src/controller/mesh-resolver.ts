// Picks (and caches) the mesh adapter for a Rollout's provider, detecting served API versions on first use.
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import type { ApiDiscovery } from "../kube/discovery.ts";
import { createMeshAdapter, type MeshProvider } from "../mesh/registry.ts";
import { detectSmiVersions } from "../mesh/smi.ts";
import type { MeshAdapter } from "../mesh/types.ts";

/**
 * Resolves adapters lazily: a mesh's CRDs may be installed after Vireo starts, so a provider whose API is missing
 * is retried on the next reconcile (after discovery's cache expires) instead of being remembered as broken.
 */
export class MeshResolver {
  readonly #clients: KubeClients;
  readonly #discovery: ApiDiscovery;
  readonly #adapters = new Map<MeshProvider, MeshAdapter>();

  constructor(clients: KubeClients, discovery: ApiDiscovery) {
    this.#clients = clients;
    this.#discovery = discovery;
  }

  /** Prepares the adapters the cluster can serve; call once before reconciling. */
  async warm(): Promise<void> {
    for (const provider of ["smi", "istio", "linkerd", "gateway-api"] as const) {
      try {
        await this.#build(provider);
      } catch {
        // Not served or not implemented: reported on the Rollouts that ask for it.
      }
    }
  }

  /** The adapter for a spec, or a thrown error naming what the cluster lacks. */
  resolve(spec: RolloutSpec): MeshAdapter {
    const adapter = this.#adapters.get(spec.provider);
    if (adapter) return adapter;
    // Kick off detection for next time; this reconcile fails with a clear message and is retried.
    void this.#build(spec.provider).catch(() => {});
    return createMeshAdapter(spec.provider, { client: this.#clients });
  }

  async #build(provider: MeshProvider): Promise<MeshAdapter> {
    const cached = this.#adapters.get(provider);
    if (cached) return cached;
    const smi = provider === "smi" ? await detectSmiVersions(this.#discovery) : undefined;
    const adapter = createMeshAdapter(provider, { client: this.#clients, ...(smi ? { smi } : {}) });
    this.#adapters.set(provider, adapter);
    return adapter;
  }
}
