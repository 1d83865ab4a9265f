// Discovers which API groups/versions the cluster serves (via /apis), cached with a TTL.
import type { KubeClients } from "./clients.ts";
import { type Clock, systemClock } from "./clock.ts";

/** What the cluster serves for one group. */
export interface ServedGroup {
  /** Served versions, in the server's order (most preferred first). */
  versions: string[];
  /** The server's preferred version. */
  preferred: string;
}

/** Options for {@link ApiDiscovery}. */
export interface ApiDiscoveryOptions {
  clients: Pick<KubeClients, "request">;
  /** Cache lifetime (default 5 min): CRDs for a mesh can be installed after Vireo starts. */
  ttlMs?: number;
  /** Groups of interest (default: every group; the controller passes the mesh registry's groups). */
  groups?: readonly string[];
  clock?: Clock;
}

interface ApiGroupList {
  groups?: Array<{
    name: string;
    versions?: Array<{ groupVersion: string; version: string }>;
    preferredVersion?: { groupVersion: string; version: string };
  }>;
}

/**
 * Answers "which versions of group X does this cluster serve, and which is preferred" from the legacy
 * `/apis` discovery document. Concurrent callers share one in-flight request.
 */
export class ApiDiscovery {
  readonly #clients: Pick<KubeClients, "request">;
  readonly #ttlMs: number;
  readonly #groups: ReadonlySet<string> | undefined;
  readonly #clock: Clock;
  #cache: { at: number; served: Map<string, ServedGroup> } | undefined;
  #inflight: Promise<Map<string, ServedGroup>> | undefined;

  constructor(options: ApiDiscoveryOptions) {
    this.#clients = options.clients;
    this.#ttlMs = options.ttlMs ?? 5 * 60_000;
    this.#groups = options.groups ? new Set(options.groups) : undefined;
    this.#clock = options.clock ?? systemClock;
  }

  /** Served groups of interest (absent groups are not in the map); cached for the TTL. */
  async served(): Promise<ReadonlyMap<string, ServedGroup>> {
    if (this.#cache && this.#clock.now() - this.#cache.at < this.#ttlMs) return this.#cache.served;
    return this.refresh();
  }

  /** Served versions of `group`, most preferred first; empty when not served. */
  async servedVersions(group: string): Promise<string[]> {
    return (await this.served()).get(group)?.versions ?? [];
  }

  /** The preferred version of `group`, or undefined when not served. */
  async preferredVersion(group: string): Promise<string | undefined> {
    return (await this.served()).get(group)?.preferred;
  }

  /** Whether `group` serves `version`. */
  async serves(group: string, version: string): Promise<boolean> {
    return (await this.servedVersions(group)).includes(version);
  }

  /** Re-reads discovery now, bypassing the cache. */
  refresh(): Promise<Map<string, ServedGroup>> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<Map<string, ServedGroup>> {
    const list = await this.#clients.request<ApiGroupList>({ path: "/apis" });
    const served = new Map<string, ServedGroup>();
    for (const g of list.groups ?? []) {
      if (this.#groups && !this.#groups.has(g.name)) continue;
      const versions = (g.versions ?? []).map((v) => v.version);
      const preferred = g.preferredVersion?.version ?? versions[0];
      if (preferred) served.set(g.name, { versions, preferred });
    }
    this.#cache = { at: this.#clock.now(), served };
    return served;
  }
}
