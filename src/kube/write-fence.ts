// Remembers the resourceVersion of our own last write of each object (a Rollout's status, a scaled Deployment), so
// nothing is decided or written again from a cache that has not yet seen it (the informer lags the API server).

/** What the fence knows about one key's last write. */
interface Written {
  /** resourceVersion the API server returned for our write. */
  rv: string;
  /** resourceVersion the write was based on (what the cache showed when we decided). */
  base: string;
}

/** Integer form of a resourceVersion, when it has one (etcd-backed API servers use decimal revisions). */
function revision(rv: string): bigint | undefined {
  return /^\d{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}

/**
 * Per-key record of our own last write. `isStale` answers whether a cached object predates it. resourceVersions
 * are opaque by contract; where both are decimal integers (every etcd-backed server) they are compared as such,
 * otherwise only "still exactly the version we wrote over" counts as stale, which is what a lagging cache shows.
 */
export class WriteFence {
  readonly #written = new Map<string, Written>();

  /** Records that a write based on `base` produced `rv`. */
  wrote(key: string, base: string | undefined, rv: string | undefined): void {
    if (!rv) {
      this.#written.delete(key);
      return;
    }
    this.#written.set(key, { rv, base: base ?? "" });
  }

  /**
   * True when `cachedRv` is older than our last write for `key`. A cache that has caught up (or moved past it)
   * clears the record, so the map holds only keys whose watch event is still on its way.
   */
  isStale(key: string, cachedRv: string | undefined): boolean {
    const w = this.#written.get(key);
    if (!w) return false;
    if (cachedRv === undefined) return true;
    if (cachedRv === w.rv) {
      this.#written.delete(key);
      return false;
    }
    const have = revision(cachedRv);
    const wrote = revision(w.rv);
    const stale = have !== undefined && wrote !== undefined ? have < wrote : cachedRv === w.base;
    if (!stale) this.#written.delete(key);
    return stale;
  }

  /** Drops the record (the object was deleted). */
  forget(key: string): void {
    this.#written.delete(key);
  }

  /** Keys with a write the cache has not shown yet (for tests and metrics). */
  get size(): number {
    return this.#written.size;
  }
}
