// Minimal raw JSON client for the Kubernetes API: sends objects verbatim (no client-node model round trip).
//
// Why: client-node's KubernetesObjectApi serialises through its typed models, which silently drop fields the
// models spell differently, e.g. every `x-kubernetes-*` key of a CRD schema (int-or-string, preserve-unknown-
// fields, CEL validations). Applying raw YAML must keep those bytes intact.
import { request } from "node:https";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";

/** A non-2xx answer from the API server, with its Status message when there is one. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown, what: string) {
    const msg = (body as { message?: string } | undefined)?.message ?? JSON.stringify(body)?.slice(0, 500);
    super(`${what}: HTTP ${status}: ${msg}`);
    this.status = status;
    this.body = body;
  }
}

/** Sends one request and parses the JSON answer; rejects with {@link KubeApiError} on non-2xx. */
export async function kubeRequest<T = unknown>(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<T> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("kubeconfig has no current cluster");
  const url = new URL(path, server);
  const opts: import("node:https").RequestOptions = { method, headers: { Accept: "application/json" } };
  await kc.applyToHTTPSOptions(opts);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload)
    Object.assign(opts.headers!, { "Content-Type": contentType, "Content-Length": payload.length });
  return new Promise<T>((resolve, reject) => {
    const req = request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON (e.g. /readyz); keep the text
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(parsed as T);
        else reject(new KubeApiError(status, parsed, `${method} ${url.pathname}`));
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/** GET through `kc` (no kubectl process per poll: 2 cores); undefined on 404. */
export async function getOrUndefined<T>(kc: KubeConfig, path: string): Promise<T | undefined> {
  try {
    return await kubeRequest<T>(kc, "GET", path);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** Resolves kind → resource path segment via discovery, cached per KubeConfig and group/version. */
export class ResourceResolver {
  private readonly cache = new Map<string, Promise<ApiResourceList>>();
  private readonly kc: KubeConfig;
  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  /** Collection URL for objects of this apiVersion/kind (namespaced ones in `namespace`). */
  async collectionPath(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let list = this.cache.get(base);
    if (!list) {
      list = kubeRequest<ApiResourceList>(this.kc, "GET", base);
      this.cache.set(base, list);
      list.catch(() => this.cache.delete(base)); // a CRD may be served a moment later: retry next time
    }
    const resource = (await list).resources.find((r) => r.kind === kind && !r.name.includes("/"));
    if (!resource) throw new Error(`${apiVersion} ${kind} is not served by this cluster`);
    if (!resource.namespaced) return `${base}/${resource.name}`;
    return `${base}/namespaces/${namespace ?? "default"}/${resource.name}`;
  }
}

/** Server-side applies one object (force: the caller owns these fields) and returns the live object. */
export async function serverSideApply<T extends KubernetesObject>(
  kc: KubeConfig,
  resolver: ResourceResolver,
  obj: T,
  fieldManager: string,
): Promise<T> {
  const name = obj.metadata?.name;
  if (!obj.apiVersion || !obj.kind || !name)
    throw new Error("object needs apiVersion, kind and metadata.name");
  const collection = await resolver.collectionPath(obj.apiVersion, obj.kind, obj.metadata?.namespace);
  const query = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
  // JSON is valid YAML, so the apply content type accepts it unchanged.
  return kubeRequest<T>(kc, "PATCH", `${collection}/${name}${query}`, obj, "application/apply-patch+yaml");
}

/** A running watch; stop() ends it. */
export interface Watch {
  stop(): void;
}

/**
 * Watches a collection (`path` without `?watch`, a fieldSelector may follow) and calls `onEvent` with each event
 * and the time it arrived: a watch event comes within milliseconds of the write, where a poll is a poll interval
 * late. Ends on stop() or when the server closes the stream.
 */
export async function watchPath<T>(
  kc: KubeConfig,
  path: string,
  onEvent: (e: { type: string; object: T; at: number }) => void,
): Promise<Watch> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error("kubeconfig has no current cluster");
  const url = new URL(path, server);
  url.searchParams.set("watch", "1");
  const opts: import("node:https").RequestOptions = {
    method: "GET",
    headers: { Accept: "application/json" },
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise<Watch>((resolve, reject) => {
    const req = request(url, opts, (res) => {
      if (res.statusCode !== 200) {
        reject(new KubeApiError(res.statusCode ?? 0, undefined, `WATCH ${url.pathname}`));
        res.resume();
        return;
      }
      let buffered = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const at = Date.now();
        buffered += chunk;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim()) onEvent({ ...(JSON.parse(line) as { type: string; object: T }), at });
        }
      });
      res.on("error", () => {});
      resolve({ stop: () => req.destroy() });
    });
    req.on("error", reject);
    req.end();
  });
}
