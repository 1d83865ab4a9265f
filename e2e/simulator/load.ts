// Load generator: sends real HTTP requests at a fixed rate, split primary/canary by the current route weights.
import { Agent, request } from "node:http";
import { SERVICE_HEADER } from "./backend.ts";
import type { MeshMetrics } from "./mesh-metrics.ts";
import type { RouteDecision, Version } from "./routing.ts";

/** Per-version request outcome counters. */
export interface VersionStats {
  requests: number;
  errors: number;
  /** Mean latency of completed requests, ms (0 when none). */
  meanLatencyMs: number;
}

/** Load-generator counters since start (or the last reset). */
export interface LoadStats {
  seconds: number;
  sent: number;
  inFlight: number;
  /** Requests skipped because `maxInFlight` were still outstanding (backends slower than the rate allows). */
  dropped: number;
  /** Requests that got no HTTP answer at all (connection errors). */
  transportErrors: number;
  byVersion: Record<Version, VersionStats>;
}

/** Options for {@link LoadGenerator}. */
export interface LoadOptions {
  /** Requests per second, 1–500 (default 20). */
  rps: number;
  /** Upper bound on concurrently outstanding requests (default 200). */
  maxInFlight?: number;
  backendUrl: (v: Version) => string;
  route: () => RouteDecision;
  metrics: MeshMetrics;
}

const MAX_RPS = 500;

/**
 * Paces requests from elapsed time (not per-tick intervals, which drift under load), and picks versions with a
 * smooth weighted round-robin so the observed split equals the weights within a request or two.
 */
export class LoadGenerator {
  private readonly opts: LoadOptions;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private scheduled = 0;
  private credit: Record<Version, number> = { primary: 0, canary: 0 };
  private stats = emptyStats();
  private latencySum: Record<Version, number> = { primary: 0, canary: 0 };
  private statsSince = performance.now();
  private readonly rps: number;

  constructor(opts: LoadOptions) {
    this.opts = opts;
    if (!(opts.rps >= 1 && opts.rps <= MAX_RPS))
      throw new RangeError(`rps must be in [1, ${MAX_RPS}], got ${opts.rps}`);
    this.rps = opts.rps;
  }

  start(): void {
    this.startedAt = performance.now();
    this.scheduled = 0;
    const tickMs = Math.max(5, Math.min(50, 1000 / this.rps / 2));
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  /** Stops sending and waits for outstanding requests (they finish within the backends' latency). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.pending]);
    this.agent.destroy();
  }

  snapshot(): LoadStats {
    const byVersion = { ...this.stats.byVersion };
    for (const v of ["primary", "canary"] as const) {
      const s = this.stats.byVersion[v];
      byVersion[v] = { ...s, meanLatencyMs: s.requests ? this.latencySum[v] / s.requests : 0 };
    }
    return {
      ...this.stats,
      seconds: (performance.now() - this.statsSince) / 1000,
      inFlight: this.pending.size,
      byVersion,
    };
  }

  /** Zeroes the counters (not the pacing), e.g. after a weight change. */
  resetStats(): void {
    this.stats = emptyStats();
    this.latencySum = { primary: 0, canary: 0 };
    this.statsSince = performance.now();
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.rps);
    // After a stall (GC, a busy CPU) send at most one second's worth at once instead of a burst of backlog.
    if (due - this.scheduled > this.rps) this.scheduled = due - this.rps;
    while (this.scheduled < due) {
      this.scheduled++;
      if (this.pending.size >= (this.opts.maxInFlight ?? 200)) {
        this.stats.dropped++;
        continue;
      }
      this.send(this.pick());
    }
  }

  /** Smooth weighted round-robin (nginx style): deterministic and evenly interleaved. */
  private pick(): Version {
    const { percent } = this.opts.route();
    this.credit.primary += percent.primary;
    this.credit.canary += percent.canary;
    const v: Version = this.credit.canary > this.credit.primary ? "canary" : "primary";
    this.credit[v] -= 100;
    return v;
  }

  private send(version: Version): void {
    const service = this.opts.route().addressedService[version];
    const started = performance.now();
    this.stats.sent++;
    const p = new Promise<void>((resolve) => {
      const req = request(this.opts.backendUrl(version), {
        agent: this.agent,
        headers: { [SERVICE_HEADER]: service },
      });
      req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const durationMs = performance.now() - started;
          const s = this.stats.byVersion[version];
          s.requests++;
          if (status >= 500) s.errors++;
          this.latencySum[version] += durationMs;
          this.opts.metrics.observeOutbound({ version, service, status, durationMs });
          resolve();
        });
      });
      req.on("error", () => {
        this.stats.transportErrors++;
        resolve();
      });
      req.end();
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

function emptyStats(): LoadStats {
  const zero = (): VersionStats => ({ requests: 0, errors: 0, meanLatencyMs: 0 });
  return {
    seconds: 0,
    sent: 0,
    inFlight: 0,
    dropped: 0,
    transportErrors: 0,
    byVersion: { primary: zero(), canary: zero() },
  };
}
