// A bounded loopback load generator: real HTTP to a proxy's entry point, counting what each version answered.
import { Agent, request } from "node:http";
import { APP_HEADER } from "./pod-runner.ts";

/** Answers counted per `x-app` value ("" when the proxy answered itself, e.g. 502/503 without a backend). */
export interface Counts {
  /** app → status class ("2xx", "5xx", …) → count. */
  byApp: Map<string, Map<string, number>>;
  total: number;
  /** Requests that failed below HTTP (connection refused, timeout). */
  transportErrors: number;
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  /** Entry point URL; must be a loopback address. */
  url: string;
  /** Host header (the HTTPRoute's hostname). */
  host?: string;
  /** Requests per second, at most 500 (default 100). */
  rps?: number;
  /** Requests in flight at most (default 16). */
  concurrency?: number;
}

/** A running load generator. */
export interface Load {
  /** Counts since the last {@link Load.mark} (or the start). */
  window(): Counts;
  /** Starts a new window and returns the one that ended. */
  mark(): Counts;
  /** Every answer since the start. */
  total(): Counts;
  /** Sends exactly `n` requests (outside the steady stream) and returns their counts. */
  burst(n: number): Promise<Counts>;
  stop(): Promise<void>;
}

const emptyCounts = (): Counts => ({ byApp: new Map(), total: 0, transportErrors: 0 });

function add(c: Counts, app: string, status: number): void {
  const cls = `${Math.floor(status / 100)}xx`;
  const m = c.byApp.get(app) ?? new Map<string, number>();
  m.set(cls, (m.get(cls) ?? 0) + 1);
  c.byApp.set(app, m);
  c.total++;
}

/** All answers from `app` (any status). */
export function answered(c: Counts, app: string): number {
  let n = 0;
  for (const v of c.byApp.get(app)?.values() ?? []) n += v;
  return n;
}

/** Share of the answers that came from `app`, in percent (NaN with no answers). */
export function sharePercent(c: Counts, app: string): number {
  return c.total === 0 ? Number.NaN : (100 * answered(c, app)) / c.total;
}

/**
 * Sends a steady, bounded stream (`rps`, at most `concurrency` in flight) of GETs to a loopback entry point. The
 * bound is enforced here, so a slow proxy never makes the test pile up sockets; requests over the bound are skipped.
 */
export function startLoad(o: LoadOptions): Load {
  const url = new URL(o.url);
  if (!/^127\.|^localhost$|^\[::1\]$/.test(url.hostname))
    throw new Error(`load generator refuses non-loopback ${o.url}`);
  const rps = Math.min(500, o.rps ?? 100);
  const concurrency = o.concurrency ?? 16;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let inFlight = 0;
  let window = emptyCounts();
  const all = emptyCounts();

  const once = (sink: Counts[]): Promise<void> =>
    new Promise((resolve) => {
      const req = request(url, { agent, headers: o.host ? { host: o.host } : {}, timeout: 5000 }, (res) => {
        res.resume();
        res.on("end", () => {
          const app = String(res.headers[APP_HEADER] ?? "");
          for (const c of sink) add(c, app, res.statusCode ?? 0);
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        for (const c of sink) c.transportErrors++;
        resolve();
      });
      req.end();
    });

  const timer = setInterval(
    () => {
      if (inFlight >= concurrency) return;
      inFlight++;
      void once([window, all]).finally(() => inFlight--);
    },
    Math.max(2, Math.round(1000 / rps)),
  );

  return {
    window: () => window,
    mark() {
      const ended = window;
      window = emptyCounts();
      return ended;
    },
    total: () => all,
    async burst(n) {
      const c = emptyCounts();
      for (let i = 0; i < n; i += concurrency) {
        await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, () => once([c])));
      }
      return c;
    },
    async stop() {
      clearInterval(timer);
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
      agent.destroy();
    },
  };
}
