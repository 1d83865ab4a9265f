// Traffic simulator for e2e: primary/canary backends, a load generator following the cluster's routing objects,
// and a /metrics endpoint with Istio and Linkerd metrics, plus a small HTTP control API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { loadKubeconfig } from "../cluster/kubeconfig.ts";
import { type Backend, type Behaviour, startBackend } from "./backend.ts";
import { LoadGenerator, type LoadStats } from "./load.ts";
import { MeshMetrics } from "./mesh-metrics.ts";
import { RouteWatcher } from "./route-watcher.ts";
import { allPrimary, type RouteDecision, type Version } from "./routing.ts";

/** Options for {@link startSimulator}. */
export interface SimulatorOptions {
  /** Kubeconfig to read routing objects with; without it all traffic goes to the primary. */
  kubeconfigPath?: string;
  /** Namespace of the root service, the routing objects and the workloads. */
  namespace: string;
  /** Root (apex) Service name. */
  service: string;
  /** The user's Deployment (the canary); metrics call the primary `<target>-primary`. Default: `service`. */
  target?: string;
  /** Requests per second (default 20, at most 500). */
  rps?: number;
  primary?: Partial<Behaviour>;
  canary?: Partial<Behaviour>;
  /** Port for /metrics and the control API (default: a free one). */
  port?: number;
  /** Routing poll interval, ms (default 500). */
  pollMs?: number;
}

/** Weights currently applied, in percent, and where they came from. */
export interface Weights {
  primary: number;
  canary: number;
  source: string;
}

/** A running simulator. */
export interface Simulator {
  /** Full URL of the Prometheus endpoint, e.g. http://127.0.0.1:40123/metrics. */
  metricsUrl: string;
  /** Base URL of the control API (GET /weights, GET /stats, PUT /backends/{primary|canary}). */
  controlUrl: string;
  backendUrls: Record<Version, string>;
  /** Changes a version's behaviour immediately, e.g. `setBackend("canary", { errorRate: 0.1, latencyMs: 300 })`. */
  setBackend(version: Version, behaviour: Partial<Behaviour>): void;
  backend(version: Version): Behaviour;
  weights(): Weights;
  /** Resolves once `predicate(weights())` holds; rejects after `timeoutMs`. */
  waitForWeights(predicate: (w: Weights) => boolean, timeoutMs?: number): Promise<Weights>;
  stats(): LoadStats & { routeErrors: number; lastRouteError: string | undefined };
  resetStats(): void;
  /** Stops load, polling and all servers; in-flight requests are allowed to finish. */
  stop(): Promise<void>;
}

/** Starts backends, metrics/control server, routing watcher and load generator, in that order. */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const target = opts.target ?? opts.service;
  const names = { service: opts.service, target, namespace: opts.namespace };
  const metrics = new MeshMetrics({ namespace: opts.namespace, target, sourceWorkload: "vireo-loadgen" });
  const backends: Record<Version, Backend> = {
    primary: await startBackend("primary", opts.primary ?? {}, metrics),
    canary: await startBackend("canary", opts.canary ?? {}, metrics),
  };
  const watcher = opts.kubeconfigPath
    ? new RouteWatcher(loadKubeconfig(opts.kubeconfigPath), names, opts.pollMs ?? 500)
    : undefined;
  const route = (): RouteDecision => watcher?.current ?? allPrimary(names);
  const load = new LoadGenerator({
    rps: opts.rps ?? 20,
    backendUrl: (v) => backends[v].url,
    route,
    metrics,
  });

  const weights = (): Weights => {
    const d = route();
    return { primary: d.percent.primary, canary: d.percent.canary, source: d.source };
  };
  const stats = (): ReturnType<Simulator["stats"]> => ({
    ...load.snapshot(),
    routeErrors: watcher?.errors ?? 0,
    lastRouteError: watcher?.lastError,
  });
  const setBackend = (version: Version, b: Partial<Behaviour>): void => {
    if (!(version in backends)) throw new RangeError(`unknown version ${version}`);
    backends[version].set(b);
  };

  const server = createServer((req, res) => {
    void handleControl(req, res, { metrics, weights, stats, setBackend, backends }).catch((err: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    await watcher?.start();
  } catch (err) {
    await Promise.all([closeServer(server), backends.primary.close(), backends.canary.close()]);
    throw err;
  }
  load.start();
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let stopped: Promise<void> | undefined;
  return {
    metricsUrl: `${base}/metrics`,
    controlUrl: base,
    backendUrls: { primary: backends.primary.url, canary: backends.canary.url },
    setBackend,
    backend: (v) => backends[v].behaviour(),
    weights,
    async waitForWeights(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const w = weights();
        if (predicate(w)) return w;
        if (Date.now() > deadline) {
          throw new Error(
            `weights did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(w)}`,
          );
        }
        await sleep(100);
      }
    },
    stats,
    resetStats: () => load.resetStats(),
    stop() {
      stopped ??= (async () => {
        await load.stop();
        await watcher?.stop();
        await Promise.all([closeServer(server), backends.primary.close(), backends.canary.close()]);
      })();
      return stopped;
    },
  };
}

interface ControlDeps {
  metrics: MeshMetrics;
  weights: () => Weights;
  stats: () => unknown;
  setBackend: (v: Version, b: Partial<Behaviour>) => void;
  backends: Record<Version, Backend>;
}

/** Serves /metrics and the JSON control API used by `cluster:up` users from a shell (curl). */
async function handleControl(req: IncomingMessage, res: ServerResponse, d: ControlDeps): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const json = (status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(`${JSON.stringify(body)}\n`);
  };
  if (req.method === "GET" && url.pathname === "/metrics") {
    res.writeHead(200, { "content-type": d.metrics.registry.contentType });
    res.end(await d.metrics.registry.metrics());
    return;
  }
  if (req.method === "GET" && url.pathname === "/weights") return json(200, d.weights());
  if (req.method === "GET" && url.pathname === "/stats") return json(200, d.stats());
  const m = /^\/backends\/(primary|canary)$/.exec(url.pathname);
  if (m) {
    const version = m[1] as Version;
    if (req.method === "GET") return json(200, d.backends[version].behaviour());
    if (req.method === "PUT" || req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      try {
        d.setBackend(version, JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<Behaviour>);
      } catch (err) {
        return json(400, { error: err instanceof Error ? err.message : String(err) });
      }
      return json(200, d.backends[version].behaviour());
    }
  }
  json(404, { error: "not found", routes: ["/metrics", "/weights", "/stats", "/backends/{primary|canary}"] });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
