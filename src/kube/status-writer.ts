// Writes custom-resource status via JSON merge patch to /status, fenced on the resourceVersion the decision was
// made from, and skipping the request when nothing changed.
import { PATCH_TYPES } from "../api/object-meta.ts";
import type { KubeClients } from "./clients.ts";
import type { Clock } from "./clock.ts";
import { collectionPath } from "./resource.ts";
import { withRetry } from "./retry.ts";
import { type Json, statusMergePatch } from "./status-diff.ts";

/** Identifies one namespaced custom object. */
export interface ObjectRef {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
}

/** Metadata changes for {@link StatusWriter.patchMetadata}; `null` removes an annotation/label. */
export interface MetadataPatch {
  finalizers?: string[];
  annotations?: Record<string, string | null>;
  labels?: Record<string, string | null>;
  /**
   * Optimistic-concurrency precondition: the patch fails with Conflict if the object changed since this
   * resourceVersion. Use it for finalizers, where a merge patch replaces the whole list.
   */
  resourceVersion?: string;
}

/** Options for {@link StatusWriter}. */
export interface StatusWriterOptions {
  clients: Pick<KubeClients, "request">;
  /** Recorded in managedFields (default `vireo`). */
  fieldManager?: string;
  /** Attempts per write for 409/429/5xx/network failures (default 4). */
  attempts?: number;
  clock?: Clock;
}

/** Status and metadata writes for custom resources. */
export class StatusWriter {
  readonly #clients: Pick<KubeClients, "request">;
  readonly #fieldManager: string;
  readonly #attempts: number;
  readonly #clock: Clock | undefined;

  constructor(options: StatusWriterOptions) {
    this.#clients = options.clients;
    this.#fieldManager = options.fieldManager ?? "vireo";
    this.#attempts = options.attempts ?? 4;
    this.#clock = options.clock;
  }

  /**
   * Makes the object's status equal `nextStatus`, given that it currently is `previousStatus`.
   * Equal statuses (JSON semantics) → returns `{ written: false }` and sends nothing, so a no-op reconcile makes no
   * write and cannot trigger its own watch event. Otherwise sends one merge patch to `/status` holding only the
   * changed top-level fields (removed ones as null).
   *
   * With `resourceVersion` the patch is fenced: the API server applies it only if the object still has that
   * resourceVersion, so a decision taken from a stale read can never overwrite a newer status. A fenced write is
   * not retried on Conflict — re-sending the same patch cannot succeed; the caller must read again and decide again.
   * @returns whether a request was sent, and the object's resourceVersion after it
   * @throws KubeApiError when the write keeps failing or fails permanently (Conflict, NotFound, Forbidden, Invalid…)
   */
  async patchStatus(
    ref: ObjectRef,
    previousStatus: Record<string, unknown> | undefined,
    nextStatus: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<{ written: boolean; resourceVersion?: string }> {
    const patch = statusMergePatch(previousStatus, nextStatus);
    if (patch === undefined) return { written: false };
    const body: Record<string, Json> = { status: patch };
    if (resourceVersion) body.metadata = { resourceVersion };
    const res = (await this.#patch(ref, body, { subresource: true, retryConflict: !resourceVersion })) as {
      metadata?: { resourceVersion?: string };
    };
    const rv = res?.metadata?.resourceVersion;
    return rv ? { written: true, resourceVersion: rv } : { written: true };
  }

  /**
   * Merge-patches metadata (finalizers, annotations, labels) on the main resource.
   * @returns the updated object as returned by the API server
   */
  async patchMetadata(ref: ObjectRef, metadata: MetadataPatch): Promise<unknown> {
    const meta: Record<string, Json> = {};
    if (metadata.finalizers) meta.finalizers = metadata.finalizers;
    if (metadata.annotations) meta.annotations = metadata.annotations;
    if (metadata.labels) meta.labels = metadata.labels;
    if (metadata.resourceVersion) meta.resourceVersion = metadata.resourceVersion;
    // With a resourceVersion precondition a 409 is a real conflict: retrying the same patch cannot succeed.
    return this.#patch(
      ref,
      { metadata: meta },
      { subresource: false, retryConflict: !metadata.resourceVersion },
    );
  }

  #patch(
    ref: ObjectRef,
    body: Record<string, Json>,
    { subresource, retryConflict }: { subresource: boolean; retryConflict: boolean },
  ): Promise<unknown> {
    const path = `${collectionPath(ref, ref.namespace)}/${encodeURIComponent(ref.name)}${subresource ? "/status" : ""}`;
    const resource = `${ref.plural}.${ref.group}${subresource ? "/status" : ""}`;
    return withRetry(
      () =>
        this.#clients.request({
          method: "PATCH",
          path,
          query: { fieldManager: this.#fieldManager },
          body,
          contentType: PATCH_TYPES.merge,
        }),
      {
        attempts: this.#attempts,
        clock: this.#clock,
        context: { verb: "patch", resource, namespace: ref.namespace, name: ref.name },
        retryOn: (e) =>
          (e.kind === "Conflict" && retryConflict) ||
          e.kind === "TooManyRequests" ||
          e.kind === "ServerError" ||
          e.kind === "Network",
      },
    );
  }
}

/** `finalizers` with `finalizer` appended (unchanged if present). */
export function withFinalizer(finalizers: readonly string[] | undefined, finalizer: string): string[] {
  const list = [...(finalizers ?? [])];
  return list.includes(finalizer) ? list : [...list, finalizer];
}

/** `finalizers` without `finalizer`. */
export function withoutFinalizer(finalizers: readonly string[] | undefined, finalizer: string): string[] {
  return (finalizers ?? []).filter((f) => f !== finalizer);
}
