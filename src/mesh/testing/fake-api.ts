// In-memory API server for adapter unit tests: GET/POST/PUT/DELETE with resourceVersion and uid semantics.
import { ApiException } from "@kubernetes/client-node";
import type { RawRequest } from "../../kube/clients.ts";
import type { MeshClient } from "../object-store.ts";
import type { MeshObject } from "../objects.ts";

/** One recorded request. */
export interface Call {
  method: string;
  path: string;
}

/**
 * A fake of the few API-server behaviours the adapters rely on: 404 for missing objects, 409 AlreadyExists on
 * create, 409 Conflict on a stale resourceVersion (PUT) or failed preconditions (DELETE), server-set uid and
 * resourceVersion. `beforeWrite` runs before each write is applied, to simulate a concurrent writer.
 */
export class FakeApi implements MeshClient {
  readonly objects = new Map<string, MeshObject>();
  readonly calls: Call[] = [];
  beforeWrite: ((call: Call) => void) | undefined;
  /**
   * `group/version`s served for custom resources (`/apis/...` paths); undefined: every one. Others answer the
   * API server's bare "404 page not found", which carries no Status.
   */
  served: Set<string> | undefined;
  #rv = 100;

  async request<T>(req: RawRequest): Promise<T> {
    const method = req.method ?? "GET";
    const call = { method, path: req.path };
    this.calls.push(call);
    if (method !== "GET") this.beforeWrite?.(call);
    const groupVersion = /^\/apis\/([^/]+\/[^/]+)\//.exec(req.path)?.[1];
    if (this.served && groupVersion && !this.served.has(groupVersion))
      throw new ApiException(404, "404 page not found", "404 page not found\n", {});
    const body = structuredClone(req.body) as MeshObject | undefined;
    switch (method) {
      case "GET": {
        const obj = this.objects.get(req.path);
        if (!obj) throw status(404, "NotFound");
        return structuredClone(obj) as T;
      }
      case "POST": {
        const path = `${req.path}/${body?.metadata.name}`;
        if (this.objects.has(path)) throw status(409, "AlreadyExists");
        return this.store(path, { ...body!, metadata: { ...body!.metadata, uid: `uid-${this.#rv}` } }) as T;
      }
      case "PUT": {
        const live = this.objects.get(req.path);
        if (!live) throw status(404, "NotFound");
        if (body?.metadata.resourceVersion !== live.metadata.resourceVersion) throw status(409, "Conflict");
        return this.store(req.path, body!) as T;
      }
      case "DELETE": {
        const live = this.objects.get(req.path);
        if (!live) throw status(404, "NotFound");
        const pre = (req.body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)
          ?.preconditions;
        if (pre?.uid !== undefined && pre.uid !== live.metadata.uid) throw status(409, "Conflict");
        if (pre?.resourceVersion !== undefined && pre.resourceVersion !== live.metadata.resourceVersion)
          throw status(409, "Conflict");
        this.objects.delete(req.path);
        return {} as T;
      }
      default:
        throw status(405, "MethodNotAllowed");
    }
  }

  /** Stores `obj` at `path` with a new resourceVersion, as the server would. */
  store(path: string, obj: MeshObject): MeshObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.#rv);
    stored.metadata.uid ??= `uid-${this.#rv}`;
    this.objects.set(path, stored);
    return structuredClone(stored);
  }

  /** Writes since the last {@link FakeApi.resetCalls}. */
  writes(): Call[] {
    return this.calls.filter((c) => c.method !== "GET");
  }

  resetCalls(): void {
    this.calls.length = 0;
  }
}

function status(code: number, reason: string): ApiException<string> {
  return new ApiException(
    code,
    reason,
    JSON.stringify({ kind: "Status", reason, code, message: reason }),
    {},
  );
}

/**
 * `api` holding the backend Services of the `checkout` Rollout in `shop` (models.ts's aSplitRef): the primary's
 * selector renamed, the canary's the user's, both port 8080 → 9090 — what access-policy adapters select pods by.
 */
export function withBackendServices(api: FakeApi): FakeApi {
  for (const [name, app] of [
    ["checkout-primary", "checkout-primary"],
    ["checkout-canary", "checkout"],
  ] as const) {
    api.store(`/api/v1/namespaces/shop/services/${name}`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "shop" },
      spec: { selector: { app }, ports: [{ port: 8080, targetPort: 9090 }] },
    });
  }
  return api;
}
