// A real HTTP backend for one workload version, failing and delaying requests as configured at runtime.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { MeshMetrics } from "./mesh-metrics.ts";
import type { Version } from "./routing.ts";

/** How a backend behaves; change it at any time with {@link Backend.set}. */
export interface Behaviour {
  /** Share of requests answered with `errorStatus` (0–1). */
  errorRate: number;
  /** Base latency in ms. */
  latencyMs: number;
  /** Extra uniformly distributed latency in [0, jitterMs) ms. */
  jitterMs: number;
  /** Status code of injected failures (default 500). */
  errorStatus: number;
}

/** Defaults: healthy and fast, with a little jitter so latency histograms are not a single bucket. */
export const DEFAULT_BEHAVIOUR: Behaviour = { errorRate: 0, latencyMs: 10, jitterMs: 5, errorStatus: 500 };

/** Header the load generator uses to say which Service the mesh routed the request through. */
export const SERVICE_HEADER = "x-vireo-sim-service";

/** A running backend. */
export interface Backend {
  version: Version;
  url: string;
  behaviour(): Behaviour;
  set(change: Partial<Behaviour>): void;
  close(): Promise<void>;
}

/**
 * Starts a backend on a free 127.0.0.1 port. Failures are spread evenly instead of drawn at random: exactly
 * `errorRate` of requests fail (to within one request), so an e2e assertion on a success rate can be tight
 * without flaking on sampling noise. Inbound (server-side proxy) metrics are recorded here.
 */
export async function startBackend(
  version: Version,
  initial: Partial<Behaviour>,
  metrics: MeshMetrics,
): Promise<Backend> {
  let behaviour: Behaviour = validate({ ...DEFAULT_BEHAVIOUR, ...known(initial) });
  let errorCredit = 0;
  const server: Server = createServer((req, res) => {
    const started = performance.now();
    errorCredit += behaviour.errorRate;
    const fail = errorCredit >= 1 - 1e-9;
    if (fail) errorCredit -= 1;
    const status = fail ? behaviour.errorStatus : 200;
    const delay = behaviour.latencyMs + Math.random() * behaviour.jitterMs;
    const service = String(req.headers[SERVICE_HEADER] ?? "unknown");
    req.resume();
    const timer = setTimeout(() => {
      res.writeHead(status, { "content-type": "text/plain", "x-vireo-sim-version": version });
      res.end(fail ? "injected failure\n" : `ok from ${version}\n`);
      metrics.observeInbound({ version, service, status, durationMs: performance.now() - started });
    }, delay);
    res.once("close", () => clearTimeout(timer));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    version,
    url: `http://127.0.0.1:${port}/`,
    behaviour: () => ({ ...behaviour }),
    set(change) {
      behaviour = validate({ ...behaviour, ...known(change) });
      errorCredit = 0; // a new rate starts a fresh, evenly spread sequence
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Only the Behaviour keys of `change` (it may come from JSON over the control API). */
function known(change: Partial<Behaviour>): Partial<Behaviour> {
  const out: Partial<Behaviour> = {};
  for (const k of Object.keys(DEFAULT_BEHAVIOUR) as (keyof Behaviour)[]) {
    if (change[k] !== undefined) out[k] = Number(change[k]);
  }
  return out;
}

function validate(b: Behaviour): Behaviour {
  if (!(b.errorRate >= 0 && b.errorRate <= 1))
    throw new RangeError(`errorRate must be in [0, 1], got ${b.errorRate}`);
  if (!(b.latencyMs >= 0) || !(b.jitterMs >= 0)) throw new RangeError("latencyMs and jitterMs must be >= 0");
  if (!Number.isInteger(b.errorStatus) || b.errorStatus < 400 || b.errorStatus > 599) {
    throw new RangeError(`errorStatus must be a 4xx/5xx code, got ${b.errorStatus}`);
  }
  return b;
}
