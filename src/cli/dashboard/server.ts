// The dashboard's HTTP server on 127.0.0.1: static UI, JSON reads and SSE watches made with the user's own
// credentials, and guarded write endpoints that write the same request annotations as `kubectl annotate`.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { ANNOTATIONS, type RequestKind } from "../../api/constants.ts";
import { ApiError, CliError } from "../errors.ts";
import type { KubeClient, KubeRequest } from "../kube-client.ts";
import {
  getRollout,
  listRollouts,
  requestValue,
  rolloutEvents,
  waitingApproval,
  watchRollouts,
  writeRequest,
} from "../rollout-api.ts";
import { hostAllowed, writeRefusal } from "./guard.ts";

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  kube: KubeClient;
  /** Directory with index.html and assets/ (the esbuild output). */
  staticDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Namespace the list starts with; undefined lists all namespaces. */
  namespace?: string;
}

/** A running dashboard. */
export interface Dashboard {
  url: string;
  port: number;
  /** The CSRF token the page carries (tests use it to show what a forged request lacks). */
  csrfToken: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".map": "application/json",
};

const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

const ACTIONS = new Set(["promote", "promote-full", "abort", "pause", "resume", "retry", "approve"]);
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** A check's name (a label name: what spec.checks allows). */
const CHECK_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

function apiFailure(res: ServerResponse, err: unknown): void {
  if (err instanceof ApiError) {
    send(res, err.status, { error: err.message, reason: err.reason, serverMessage: err.serverMessage });
  } else if (err instanceof CliError) {
    // The plugin's own refusals (no approval waits, several do): a request the Rollout cannot take now.
    send(res, 409, { error: err.message });
  } else {
    send(res, 502, { error: err instanceof Error ? err.message : String(err) });
  }
}

/** Starts the dashboard server. */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const token = randomBytes(32).toString("hex");
  const index = (await readFile(join(opts.staticDir, "index.html"), "utf8").catch(() => {
    throw new CliError(`dashboard assets missing in ${opts.staticDir}; run: npm run build:dashboard`);
  })) as string;
  const page = index
    .replace("__CSRF_TOKEN__", token)
    .replace("__NAMESPACE__", opts.namespace ?? "")
    .replace("__CONTEXT__", opts.kube.contextName.replace(/[<>"&]/g, ""));
  const streams = new Set<AbortController>();
  let port = opts.port;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req, port)) {
      send(res, 421, { error: "unexpected Host header" });
      return;
    }
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);

    if (req.method === "POST") {
      const refusal = writeRefusal(req, port, token);
      if (refusal) {
        send(res, 403, { error: `refused: ${refusal}` });
        return;
      }
      // POST /api/rollouts/NS/NAME/ACTION, and POST /api/rollouts/NS/NAME/approve[/CHECK]
      const [api, rollouts, ns, name, action, check, ...rest] = parts;
      const extra = rest.length > 0 || (check !== undefined && action !== "approve");
      if (
        api !== "api" ||
        rollouts !== "rollouts" ||
        !ns ||
        !name ||
        !action ||
        !ACTIONS.has(action) ||
        extra
      ) {
        send(res, 404, { error: "no such endpoint" });
        return;
      }
      if (!NAME.test(ns) || !NAME.test(name) || (check !== undefined && !CHECK_NAME.test(check))) {
        send(res, 400, { error: "invalid name" });
        return;
      }
      const kind = (action === "promote-full" ? "promote" : action) as RequestKind;
      try {
        // The same request as `kubectl vireo approve NAME [CHECK]`: without CHECK, the one approval that waits.
        const approving =
          kind === "approve" ? (check ?? waitingApproval(await getRollout(opts.kube, ns, name))) : undefined;
        const value = requestValue(kind, {
          full: action === "promote-full",
          ...(approving ? { check: approving } : {}),
        });
        await writeRequest(opts.kube, ns, name, kind, value);
        send(res, 200, { annotation: ANNOTATIONS[kind], value });
      } catch (err) {
        apiFailure(res, err);
      }
      return;
    }
    if (req.method !== "GET") {
      send(res, 405, { error: "method not allowed" });
      return;
    }

    if (parts[0] === "assets" && parts.length === 2 && /^[\w.-]+$/.test(parts[1] ?? "")) {
      const file = parts[1] ?? "";
      try {
        const body = await readFile(join(opts.staticDir, "assets", file));
        res.writeHead(200, {
          ...SECURITY_HEADERS,
          "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
        });
        res.end(body);
      } catch {
        send(res, 404, { error: "not found" });
      }
      return;
    }

    if (parts[0] === "api") {
      const [, what, ns, name] = parts;
      try {
        if (what === "rollouts" && !ns) {
          const namespace = url.searchParams.get("namespace") || undefined;
          send(res, 200, await listRollouts(opts.kube, namespace));
        } else if (what === "rollouts" && ns && name) {
          const [rollout, events] = await Promise.all([
            getRollout(opts.kube, ns, name),
            rolloutEvents(opts.kube, ns, name).catch(() => []),
          ]);
          send(res, 200, { rollout, events });
        } else if (what === "stream") {
          stream(req, res, ns, name, url.searchParams.get("namespace") || undefined);
        } else {
          send(res, 404, { error: "no such endpoint" });
        }
      } catch (err) {
        apiFailure(res, err);
      }
      return;
    }

    // Every other path is a page of the single-page UI.
    res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": TYPES[".html"] });
    res.end(page);
  };

  /**
   * Server-sent events from watches opened with the user's credentials: Rollouts of a namespace (or one Rollout
   * and its Events). One upstream watch per open page, re-established when the API server ends it.
   */
  const stream = (
    req: IncomingMessage,
    res: ServerResponse,
    ns: string | undefined,
    name: string | undefined,
    listNamespace: string | undefined,
  ): void => {
    const stop = new AbortController();
    streams.add(stop);
    req.once("close", () => stop.abort());
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "text/event-stream",
      Connection: "keep-alive",
    });
    const emit = (event: string, data: unknown) => {
      if (!stop.signal.aborted) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    const loop = async (run: (resourceVersion: string | undefined) => Promise<string | undefined>) => {
      let rv: string | undefined;
      while (!stop.signal.aborted) {
        try {
          rv = await run(rv);
        } catch (err) {
          if (stop.signal.aborted) break;
          if (err instanceof ApiError && err.status !== 410) {
            emit("failure", { error: err.message, status: err.status });
            await new Promise((r) => setTimeout(r, 5000));
          }
          rv = undefined;
        }
      }
    };
    const watchNamespace = ns ?? listNamespace;
    void loop(async (rv) => {
      let last = rv;
      await watchRollouts(
        opts.kube,
        { namespace: watchNamespace, name, resourceVersion: rv, signal: stop.signal },
        (e) => {
          if (e.type === "ERROR") {
            last = undefined;
            return;
          }
          last = e.object.metadata.resourceVersion;
          if (e.type !== "BOOKMARK") emit("rollout", { type: e.type, object: e.object });
        },
      );
      return last;
    });
    if (ns && name) {
      void loop(async (rv) => {
        let last = rv;
        const req: KubeRequest = {
          path: `/api/v1/namespaces/${ns}/events`,
          query: {
            fieldSelector: `involvedObject.kind=Rollout,involvedObject.name=${name}`,
            resourceVersion: rv,
          },
          target: { verb: "watch", resource: "events", namespace: ns },
          signal: stop.signal,
        };
        await opts.kube.watch<{ metadata: { resourceVersion?: string } }>(req, (e) => {
          if (e.type === "ERROR") {
            last = undefined;
            return;
          }
          last = e.object.metadata.resourceVersion;
          if (e.type !== "BOOKMARK") emit("event", { type: e.type, object: e.object });
        });
        return last;
      });
    }
    stop.signal.addEventListener("abort", () => {
      clearInterval(keepAlive);
      streams.delete(stop);
      res.end();
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => apiFailure(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", () => resolve());
  });
  port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    csrfToken: token,
    close: () =>
      new Promise((resolve) => {
        for (const s of streams) s.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
