// Read-modify-replace of the objects one Rollout owns: create or update only on a real difference, 409 → re-read.
import type { RawRequest } from "../kube/clients.ts";
import { classifyError, KubeErrorKind } from "../kube/errors.ts";
import { LruMap } from "../kube/lru.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import { isManagedBy, type MeshObject, mergeMetadata, metadataInSync } from "./objects.ts";

/** The one call adapters need from the kube layer; `KubeClients` satisfies it (counted, rate-limited). */
export interface MeshClient {
  request<T>(req: RawRequest): Promise<T>;
}

/** A namespaced custom resource type at one served version. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** Options for {@link ObjectStore}. */
export interface ObjectStoreOptions {
  /** Re-reads after a 409 before giving up with the Conflict (default 3). */
  conflictRetries?: number;
}

/**
 * Objects remembered from reads for the next write. The controller makes one adapter (so one store) per reconcile,
 * which reads a handful; the bound only guards a long-lived store.
 */
const REMEMBERED = 64;

/** API path of the collection or, with `name`, of one object. */
export function resourcePath(t: ResourceType, namespace: string, name?: string): string {
  const base = `${t.group ? `/apis/${t.group}` : "/api"}/${t.version}/namespaces/${encodeURIComponent(namespace)}/${t.plural}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/**
 * Writes mesh objects with optimistic concurrency. Every write starts from a read; an update is a PUT of
 * the live object (with its resourceVersion) carrying our spec and ownership metadata, so concurrent edits to
 * anything we don't own survive and a concurrent edit between our read and write makes the server answer 409,
 * on which we re-read and re-decide rather than overwrite blindly. Merge patches are avoided on purpose: they
 * replace whole arrays and carry no precondition.
 *
 * A write that follows a read of the same object (a reconcile reads the routes, then changes them) starts from
 * that read instead of reading again: the resourceVersion still fences it, and a stale one costs a 409 and a
 * re-read. An object that looks in sync, or not ours, is always read afresh, because "nothing to write" and
 * "not ours" must be the server's answer, not a memory's.
 */
export class ObjectStore {
  readonly #client: MeshClient;
  readonly #retries: number;
  /** The last read of each object path (null: it did not exist); consumed by the next write. */
  readonly #read = new LruMap<string, MeshObject | null>(REMEMBERED);

  constructor(client: MeshClient, options: ObjectStoreOptions = {}) {
    this.#client = client;
    this.#retries = options.conflictRetries ?? 3;
  }

  /**
   * The live object, or null when it does not exist. Throws {@link MeshError} `NotServed` when the API server does
   * not serve `type` at all: its 404 then is the generic "404 page not found" with no Status, where a missing
   * object's 404 is a Status with reason NotFound — an unserved version is never read as "no object".
   */
  async get(type: ResourceType, namespace: string, name: string): Promise<MeshObject | null> {
    const path = resourcePath(type, namespace, name);
    const live = await this.#fetch(path, type, namespace, name);
    this.#read.set(path, live);
    return live;
  }

  /** {@link ObjectStore.get} without remembering the read. */
  async #fetch(
    path: string,
    type: ResourceType,
    namespace: string,
    name: string,
  ): Promise<MeshObject | null> {
    try {
      return await this.#client.request<MeshObject>({ path });
    } catch (err) {
      const e = classifyError(err, {
        verb: "get",
        resource: `${type.plural}.${type.group}`,
        namespace,
        name,
      });
      if (e.kind === KubeErrorKind.NotFound && e.reason === undefined) throw notServed(type);
      if (e.kind === KubeErrorKind.NotFound) return null;
      throw e;
    }
  }

  /**
   * Makes the object match `desired` (spec via `sameSpec`, plus our labels and owner reference). Creates it when
   * missing; refuses with {@link MeshError} `NotOwned` when a same-named object is not managed by `rolloutName`.
   * Throws the classified Conflict when other writers keep winning after the configured retries.
   * @returns the object as the API server has it now: the create's or update's response, or the live object
   */
  async ensure(
    type: ResourceType,
    desired: MeshObject,
    rolloutName: string,
    sameSpec: (live: MeshObject, desired: MeshObject) => boolean,
  ): Promise<MeshObject> {
    const namespace = desired.metadata.namespace ?? "";
    const name = desired.metadata.name;
    const context = { resource: `${type.plural}.${type.group}`, namespace, name };
    const path = resourcePath(type, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const remembered =
        attempt === 0 ? this.#takeRemembered(path, desired, rolloutName, sameSpec) : undefined;
      const live = remembered !== undefined ? remembered : await this.#fetch(path, type, namespace, name);
      try {
        if (live === null)
          return await this.#client.request<MeshObject>({
            method: "POST",
            path: resourcePath(type, namespace),
            body: desired,
          });
        if (!isManagedBy(live, rolloutName)) {
          throw new MeshError(
            MeshErrorKind.NotOwned,
            `${type.kind} ${namespace}/${name} exists but is not managed by Rollout ${rolloutName} ` +
              "(labels app.kubernetes.io/managed-by=vireo, vireo.dev/rollout); rename or delete it",
          );
        }
        if (sameSpec(live, desired) && metadataInSync(live.metadata, desired.metadata)) return live;
        const body: MeshObject = {
          ...live,
          apiVersion: desired.apiVersion,
          kind: desired.kind,
          metadata: mergeMetadata(live.metadata, desired.metadata),
          spec: desired.spec,
        };
        return await this.#client.request<MeshObject>({ method: "PUT", path, body });
      } catch (err) {
        if (err instanceof MeshError) throw err;
        const e = classifyError(err, { ...context, verb: live === null ? "create" : "update" });
        // AlreadyExists: someone created it between our read and create. Conflict: it changed under us.
        // NotFound after a remembered read: it was deleted since.
        const raced =
          e.kind === KubeErrorKind.Conflict ||
          e.kind === KubeErrorKind.AlreadyExists ||
          (remembered !== undefined && e.kind === KubeErrorKind.NotFound);
        if (!raced || attempt >= this.#retries) throw e;
      }
    }
  }

  /**
   * Forgets the last read of `path` and returns it when that read leads to a write (missing, or ours with a spec
   * or metadata that differ from `desired`); undefined when nothing was remembered, or it looked in sync or not
   * ours, which needs a fresh read.
   */
  #takeRemembered(
    path: string,
    desired: MeshObject,
    rolloutName: string,
    sameSpec: (live: MeshObject, desired: MeshObject) => boolean,
  ): MeshObject | null | undefined {
    const live = this.#read.get(path);
    this.#read.delete(path);
    if (live === undefined || live === null) return live;
    // "Not ours" is refused loudly, so it too must be the server's answer.
    if (!isManagedBy(live, rolloutName)) return undefined;
    const inSync = sameSpec(live, desired) && metadataInSync(live.metadata, desired.metadata);
    return inSync ? undefined : live;
  }

  /**
   * Deletes the object if it exists and is managed by `rolloutName`; a same-named foreign object is left alone.
   * The delete carries uid and resourceVersion preconditions, so an object replaced or relabelled after our
   * read is re-examined instead of deleted. Returns true when something was deleted.
   */
  async deleteOwned(
    type: ResourceType,
    namespace: string,
    name: string,
    rolloutName: string,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      let live: MeshObject | null;
      try {
        live = await this.get(type, namespace, name);
      } catch (err) {
        // Nothing of ours can be read at an unserved version. What another version of the CRD still holds carries
        // our owner reference, so garbage collection removes it; a finalizer must not wait on discovery.
        if (err instanceof MeshError && err.kind === MeshErrorKind.NotServed) return false;
        throw err;
      }
      if (live === null || !isManagedBy(live, rolloutName)) return false;
      try {
        await this.#client.request({
          method: "DELETE",
          path: resourcePath(type, namespace, name),
          body: {
            apiVersion: "v1",
            kind: "DeleteOptions",
            propagationPolicy: "Background",
            preconditions: { uid: live.metadata.uid, resourceVersion: live.metadata.resourceVersion },
          },
        });
        this.#read.delete(resourcePath(type, namespace, name));
        return true;
      } catch (err) {
        const e = classifyError(err, {
          verb: "delete",
          resource: `${type.plural}.${type.group}`,
          namespace,
          name,
        });
        if (e.kind === KubeErrorKind.NotFound) return false;
        if (e.kind !== KubeErrorKind.Conflict || attempt >= this.#retries) throw e;
      }
    }
  }

  /** The live object when it exists and is managed by `rolloutName`, else null (foreign objects are invisible). */
  async getOwned(
    type: ResourceType,
    namespace: string,
    name: string,
    rolloutName: string,
  ): Promise<MeshObject | null> {
    const live = await this.get(type, namespace, name);
    return live !== null && isManagedBy(live, rolloutName) ? live : null;
  }
}

function notServed(type: ResourceType): MeshError {
  return new MeshError(
    MeshErrorKind.NotServed,
    `the API server does not serve ${type.plural}.${type.group} at ${type.version} (CRD missing, or that version ` +
      "not served): Vireo re-reads API discovery and writes a served version",
  );
}
