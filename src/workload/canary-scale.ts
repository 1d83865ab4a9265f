// Scales the user's Deployment (the canary), fenced on the spec the decision saw rather than on the whole object's
// version, and never twice from a cache that has not yet shown Vireo's own last scale.

import { PATCH_TYPES } from "../api/object-meta.ts";
import type { KubeClients } from "../kube/clients.ts";
import { classifyError, KubeApiError, KubeErrorKind } from "../kube/errors.ts";
import { WriteFence } from "../kube/write-fence.ts";
import type { Deployment } from "./objects.ts";

/** What Vireo's own last scale of a Deployment left, until the cache shows it. */
interface Scaled {
  replicas: number;
  generation: number | undefined;
}

/**
 * The canary's scale writes. Fenced by a JSON patch that tests the uid, `metadata.generation` and the labels the
 * decision read: the spec (template, replicas) and the claim are what a scale decision rests on. A resourceVersion
 * fence also refuses the Deployment controller's own status updates, which follow every push within milliseconds —
 * the push's reconcile lost that race in 6 of 10 rollouts (two writes more each: the 409, and a second status
 * write after the first recorded the decision whose scale failed). A person's or another controller's change to
 * the spec or the claim still fails the test, and the reconciler decides again.
 */
export class CanaryScaler {
  readonly #fence = new WriteFence();
  readonly #scaled = new Map<string, Scaled>();

  readonly #clients: KubeClients;

  constructor(clients: KubeClients) {
    this.#clients = clients;
  }

  /**
   * Sets `target`'s replicas (at `path`) unless they already are `replicas` — in the cached copy, or in Vireo's own
   * last write when the cache is older than that write (the informer lags it: a decision taken from the older copy
   * asks again for what was already done).
   * @returns the Deployment's metadata.generation after the write, or undefined when nothing was written
   */
  async scale(path: string, target: Deployment, replicas: number): Promise<number | undefined> {
    const mine = this.#scaled.get(path);
    const stale = mine !== undefined && this.#fence.isStale(path, target.metadata.resourceVersion);
    if (mine && !stale) this.#scaled.delete(path);
    const have =
      stale && mine ? mine : { replicas: target.spec.replicas ?? 1, generation: target.metadata.generation };
    if (have.replicas === replicas) return undefined;
    const written = await this.#patch(path, target, have.generation, replicas);
    this.#fence.wrote(path, target.metadata.resourceVersion, written.metadata.resourceVersion);
    this.#scaled.set(path, { replicas, generation: written.metadata.generation });
    return written.metadata.generation;
  }

  async #patch(
    path: string,
    seen: Deployment,
    generation: number | undefined,
    replicas: number,
  ): Promise<Deployment> {
    const { uid, labels } = seen.metadata;
    const tests = [
      ...(uid !== undefined ? [{ op: "test", path: "/metadata/uid", value: uid }] : []),
      ...(generation !== undefined ? [{ op: "test", path: "/metadata/generation", value: generation }] : []),
      ...(labels !== undefined ? [{ op: "test", path: "/metadata/labels", value: labels }] : []),
    ];
    try {
      return await this.#clients.request<Deployment>({
        method: "PATCH",
        path,
        body: [...tests, { op: "add", path: "/spec/replicas", value: replicas }],
        contentType: PATCH_TYPES.json,
      });
    } catch (err) {
      throw failedTest(err) ?? err;
    }
  }
}

/**
 * A failed `test` as the lost race it is. The API server answers a JSON patch it cannot apply with 422 Invalid and
 * no field causes (a validation error names its fields); the only op of this patch that can fail to apply is a test.
 */
function failedTest(err: unknown): KubeApiError | undefined {
  const e = classifyError(err);
  if (e.kind !== KubeErrorKind.Invalid || e.causes.length > 0) return undefined;
  return new KubeApiError(KubeErrorKind.Conflict, `${e.message}: the Deployment changed since it was read`, {
    status: 409,
    ...(e.serverMessage !== undefined ? { serverMessage: e.serverMessage } : {}),
    context: e.context,
    cause: err,
  });
}
