// Namespace labels, cached for a while: Istio's ambient-mode check and the Job checks' opt-in read them on every
// reconcile of a Rollout.
import type { KubeClients } from "./clients.ts";
import { isNotFound } from "./errors.ts";
import { LruMap } from "./lru.ts";

/** Reads a namespace's labels; undefined when the namespace does not exist. */
export type NamespaceLabelReader = (name: string) => Promise<Readonly<Record<string, string>> | undefined>;

interface Entry {
  at: number;
  labels: Promise<Readonly<Record<string, string>> | undefined>;
}

/**
 * GETs a namespace's labels at most once per `ttlMs` (concurrent callers share the request). A label change is
 * seen within the TTL — waypoint bindings change rarely, and a GET per reconcile would double an Istio Rollout's
 * reads. A failed read is not cached.
 */
export class NamespaceLabels {
  readonly #clients: Pick<KubeClients, "request">;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new LruMap<string, Entry>(1024);

  constructor(clients: Pick<KubeClients, "request">, ttlMs = 30_000, now: () => number = Date.now) {
    this.#clients = clients;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** The namespace's labels; undefined when it does not exist. */
  get(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    const hit = this.#cache.get(name);
    if (hit && this.#now() - hit.at < this.#ttlMs) return hit.labels;
    const labels = this.#clients
      .request<{ metadata?: { labels?: Record<string, string> } }>({
        path: `/api/v1/namespaces/${encodeURIComponent(name)}`,
      })
      .then(
        (ns) => ns.metadata?.labels ?? {},
        (err: unknown) => {
          if (isNotFound(err)) return undefined;
          this.#cache.delete(name);
          throw err;
        },
      );
    this.#cache.set(name, { at: this.#now(), labels });
    return labels;
  }
}
