// The routing object an adapter keeps for a Rollout's split: rendered from the split, written through the object
// store, and read back as weights — the same for a VirtualService, an HTTPRoute and a TrafficSplit.
import type { ManagedRoutes, Weights } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { ObjectStore, ResourceType } from "./object-store.ts";
import { type MeshObject, sameSpec } from "./objects.ts";
import type { RouteState, SplitRef, TrafficSplitModel } from "./types.ts";

/** How one provider renders and reads its routing object, named `<rollout>`. */
export interface RouteKind {
  type: ResourceType;
  render(split: TrafficSplitModel): MeshObject;
  /** The weights an object holds; null when it cannot be read as a primary/canary split (the engine re-applies). */
  parse(obj: MeshObject, ref: SplitRef): Weights | null;
  /** The managed routes it holds (see RouteState.managed); absent: the kind renders none. */
  managed?(obj: MeshObject, ref: SplitRef): ManagedRoutes | null | undefined;
  /** Whether a live object already holds the desired spec (default: equal specs as data). */
  same?(live: MeshObject, desired: MeshObject): boolean;
  /** Why the mesh does not route by a stored object as written (its own status says so); undefined when it does. */
  verdict?(obj: MeshObject): string | undefined;
}

/** A Rollout's routing object of one {@link RouteKind}, through one object store. */
export class RouteObject {
  readonly #store: ObjectStore;
  readonly #kind: RouteKind;

  constructor(store: ObjectStore, kind: RouteKind) {
    this.#store = store;
    this.#kind = kind;
  }

  /**
   * Makes the object hold `split`; the routes as the API server stored them (see MeshAdapter.setRoutes). Throws
   * MeshError `NotAccepted` when the kind's verdict says the mesh does not route by the stored object.
   */
  async set(split: TrafficSplitModel): Promise<RouteState | null> {
    const { type, same = sameSpec } = this.#kind;
    const stored = await this.#store.ensure(type, this.#kind.render(split), split.rolloutName, same);
    const verdict = this.#kind.verdict?.(stored);
    if (verdict !== undefined) throw new MeshError(MeshErrorKind.NotAccepted, verdict);
    return this.#state(stored, split);
  }

  /**
   * The routes the object holds, ours or not (reading is harmless; {@link set} refuses a foreign object); null
   * also while the kind's verdict says the mesh does not route by it ({@link set} says why).
   */
  async get(ref: SplitRef): Promise<RouteState | null> {
    const live = await this.#store.get(this.#kind.type, ref.namespace, ref.rolloutName);
    if (live === null || this.#kind.verdict?.(live) !== undefined) return null;
    return this.#state(live, ref);
  }

  /** The split and the managed routes an object holds; null when it holds no primary/canary split. */
  #state(obj: MeshObject, ref: SplitRef): RouteState | null {
    const weights = this.#kind.parse(obj, ref);
    if (weights === null) return null;
    const managed = this.#kind.managed?.(obj, ref);
    return managed === undefined ? weights : { ...weights, managed };
  }

  /** Deletes the object if it is ours (the finalizer's cleanup). */
  async delete(ref: SplitRef): Promise<void> {
    await this.#store.deleteOwned(this.#kind.type, ref.namespace, ref.rolloutName, ref.rolloutName);
  }
}
