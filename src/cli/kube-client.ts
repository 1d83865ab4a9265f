// A small Kubernetes API client over node:https with the user's own credentials: JSON requests and watches.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { ApiError, CliError, type RequestTarget } from "./errors.ts";
import type { Connection } from "./kubeconfig.ts";

/** One request. `path` is absolute (`/apis/vireo.dev/v1alpha1/...`). */
export interface KubeRequest {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** For error messages: what the request does. */
  target: RequestTarget;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A watch event as the API server streams it. */
export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/** The API client the plugin and the dashboard use. */
export interface KubeClient {
  readonly connection: Connection;
  request<T>(req: KubeRequest): Promise<T>;
  /** Streams watch events until `signal` aborts or the server ends the watch (then resolves). */
  watch<T>(req: KubeRequest, onEvent: (e: WatchEvent<T>) => void): Promise<void>;
}

function url(conn: Connection, req: KubeRequest): URL {
  const u = new URL(conn.server + req.path);
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
  return u;
}

/** Creates a client for one kubeconfig context. */
export function createKubeClient(conn: Connection, userAgent = "kubectl-vireo"): KubeClient {
  const tls = conn.server.startsWith("https:");
  const agent = tls
    ? new Agent({
        keepAlive: true,
        ca: conn.ca,
        cert: conn.cert,
        key: conn.key,
        rejectUnauthorized: !conn.insecure,
        servername: conn.serverName,
      })
    : undefined;

  const headers = (req: KubeRequest, accept = "application/json"): Record<string, string> => {
    const h: Record<string, string> = { Accept: accept, "User-Agent": userAgent };
    const token = conn.token?.();
    if (token) h.Authorization = `Bearer ${token}`;
    else if (conn.basic)
      h.Authorization = `Basic ${Buffer.from(`${conn.basic.username}:${conn.basic.password}`).toString("base64")}`;
    if (req.body !== undefined) h["Content-Type"] = req.contentType ?? "application/json";
    return h;
  };

  const send = (req: KubeRequest): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const u = url(conn, req);
      const doRequest = tls ? httpsRequest : httpRequest;
      const r = doRequest(u, {
        method: req.method ?? "GET",
        headers: headers(req),
        agent,
        signal: req.signal,
      });
      if (req.timeoutMs) {
        r.setTimeout(req.timeoutMs, () =>
          r.destroy(new CliError(`no answer from ${conn.server} within ${req.timeoutMs} ms`)),
        );
      }
      r.once("response", resolve);
      r.once("error", (err) => {
        if ((err as { name?: string }).name === "AbortError") reject(err);
        else if (err instanceof CliError) reject(err);
        else reject(new CliError(`cannot reach the API server ${conn.server}: ${err.message}`));
      });
      if (req.body !== undefined) r.end(JSON.stringify(req.body));
      else r.end();
    });

  const readAll = async (res: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };

  const fail = (status: number, text: string, target: RequestTarget): ApiError => {
    let reason = "";
    let message = text.trim();
    try {
      const s = JSON.parse(text) as { reason?: string; message?: string };
      reason = s.reason ?? "";
      message = s.message ?? message;
    } catch {
      // not a Status object; keep the raw text
    }
    return new ApiError(status, reason, message, target);
  };

  return {
    connection: conn,
    async request<T>(req: KubeRequest): Promise<T> {
      const res = await send({ timeoutMs: 30_000, ...req });
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw fail(status, text, req.target);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async watch<T>(req: KubeRequest, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
      const res = await send({ ...req, query: { ...req.query, watch: true, allowWatchBookmarks: true } });
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw fail(status, await readAll(res), req.target);
      let buffer = "";
      try {
        for await (const chunk of res) {
          buffer += (chunk as Buffer).toString("utf8");
          for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
          }
        }
      } catch (err) {
        if (req.signal?.aborted) return;
        throw err;
      }
    },
  };
}
