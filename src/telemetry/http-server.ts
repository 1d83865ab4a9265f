// node:http server for /metrics, /healthz and /readyz (no framework: three routes don't justify one).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** Result of one probe check: `true`/`undefined` = OK; `false` or a string (the reason) = failing. */
export type CheckResult = boolean | string | undefined;

/** A named probe check; may be async, must be cheap. */
export interface Check {
  name: string;
  check(): CheckResult | Promise<CheckResult>;
}

/** More routes served before the telemetry ones (the load generator's); resolves true when it answered. */
export type Routes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** Options for {@link startTelemetryServer}. */
export interface TelemetryServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Bind address (default `0.0.0.0`; tests use `127.0.0.1`). */
  host?: string;
  registry: Registry;
  /**
   * Liveness checks (`/healthz`): the process is alive and its informers' watchdogs have not tripped.
   * Failing liveness gets the pod restarted, so only include conditions a restart can fix.
   */
  healthChecks?: Check[];
  /** Readiness checks (`/readyz`): informers synced. Non-leaders are ready too (they are healthy standbys). */
  readyChecks?: Check[];
  /** More routes, tried first. */
  routes?: Routes;
  /** Called once per answered request (count them: a POST here means someone probes the controller's port). */
  onAnswered?: (method: string, status: number) => void;
}

/** A running telemetry server. */
export interface TelemetryServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Makes `/readyz` fail from now on (first step of graceful shutdown, so traffic drains). */
  markShuttingDown(): void;
  /** Stops accepting connections, lets in-flight requests finish, then force-closes after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the server and resolves once it listens. */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  let shuttingDown = false;
  const server: Server = createServer((req, res) => {
    res.once("finish", () => options.onAnswered?.(req.method ?? "", res.statusCode));
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (options.routes && (await options.routes(req, res, url))) return;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    switch (url.pathname) {
      case "/metrics": {
        const body = await options.registry.metrics();
        res.writeHead(200, { "content-type": options.registry.contentType }).end(body);
        return;
      }
      case "/healthz":
      case "/livez":
        await probe(res, options.healthChecks ?? [], url.searchParams.has("verbose"));
        return;
      case "/readyz": {
        const checks = [...(options.readyChecks ?? [])];
        checks.unshift({ name: "shutdown", check: () => (shuttingDown ? "shutting down" : true) });
        await probe(res, checks, url.searchParams.has("verbose"));
        return;
      }
      default:
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    markShuttingDown: () => {
      shuttingDown = true;
    },
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        shuttingDown = true;
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        // Keep-alive sockets (e.g. a Prometheus scraper) would otherwise hold close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}

/** Runs checks controller-runtime style: `[+]name ok` / `[-]name failed: reason`, 200 only when all pass. */
async function probe(res: ServerResponse, checks: Check[], verbose: boolean): Promise<void> {
  const lines: string[] = [];
  let ok = true;
  for (const c of checks) {
    let result: CheckResult;
    try {
      result = await c.check();
    } catch (err) {
      result = err instanceof Error ? err.message : String(err);
    }
    if (result === true || result === undefined) {
      lines.push(`[+]${c.name} ok`);
    } else {
      ok = false;
      lines.push(`[-]${c.name} failed${typeof result === "string" ? `: ${result}` : ""}`);
    }
  }
  const body = ok && !verbose ? "ok\n" : `${lines.join("\n")}\n${ok ? "ok" : "failed"}\n`;
  res.writeHead(ok ? 200 : 500, { "content-type": "text/plain; charset=utf-8" }).end(body);
}
