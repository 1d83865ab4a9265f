// Picks the mesh adapter for a Rollout's provider from the mesh API versions the cluster serves.
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import type { ApiDiscovery } from "../kube/discovery.ts";
import type { ClusterFacts } from "../mesh/cluster-facts.ts";
import { reportNotServed } from "../mesh/not-served.ts";
import { createMeshAdapter, detectMeshApis, type MeshApis } from "../mesh/registry.ts";
import type { MeshAdapter } from "../mesh/types.ts";

/** How often the served mesh APIs are looked up again (a mesh may be installed after Vireo starts). */
const REDETECT_MS = 60_000;

/**
 * Keeps the latest detection of served mesh APIs. A provider whose API is missing fails its reconcile with a
 * message naming what to install, and works once the CRDs appear (after the next detection).
 */
export class MeshResolver {
  readonly #clients: KubeClients;
  readonly #discovery: ApiDiscovery;
  readonly #trustDomain: string | undefined;
  readonly #facts: ClusterFacts | undefined;
  #apis: MeshApis = {};
  #detectedAt = 0;
  #detecting: Promise<void> | undefined;

  /**
   * @param options.trustDomain the mesh identity trust domain (`--trust-domain`; adapters default to cluster.local)
   * @param options.facts cached namespace labels and Services for the adapters (they GET them otherwise)
   */
  constructor(
    clients: KubeClients,
    discovery: ApiDiscovery,
    options: { trustDomain?: string; facts?: ClusterFacts } = {},
  ) {
    this.#clients = clients;
    this.#discovery = discovery;
    this.#trustDomain = options.trustDomain;
    this.#facts = options.facts;
  }

  /** Detects the served APIs; call once before reconciling. */
  async warm(): Promise<void> {
    this.#apis = await detectMeshApis(this.#discovery);
    this.#detectedAt = Date.now();
  }

  /** The mesh APIs found by the last detection. */
  get apis(): MeshApis {
    return this.#apis;
  }

  /** The adapter for a spec; throws a MeshError naming the missing API when the cluster cannot serve it. */
  resolve(spec: RolloutSpec): MeshAdapter {
    if (Date.now() - this.#detectedAt > REDETECT_MS && !this.#detecting) {
      this.#detecting = this.warm()
        .catch(() => {})
        .finally(() => {
          this.#detecting = undefined;
        });
    }
    const adapter = createMeshAdapter(spec.provider, {
      client: this.#clients,
      ...(this.#trustDomain ? { trustDomain: this.#trustDomain } : {}),
      ...(this.#facts ? { facts: this.#facts } : {}),
      ...this.#apis,
    });
    return reportNotServed(adapter, () => this.#redetectNow());
  }

  /** A version discovery reported is no longer served (a CRD changed): re-read discovery, bypassing its cache. */
  #redetectNow(): void {
    if (this.#detecting) return;
    this.#detecting = this.#discovery
      .refresh()
      .then(() => this.warm())
      .catch(() => {})
      .finally(() => {
        this.#detecting = undefined;
      });
  }
}
