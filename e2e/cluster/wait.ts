// Polling helpers for start-up: wait for a condition or an HTTP endpoint, failing fast if a component dies.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";

/** Options for {@link waitFor}. */
export interface WaitOptions {
  /** Human description used in the timeout error. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Called every round; throwing aborts the wait (e.g. "etcd exited"). */
  abortIf?: () => void;
}

/**
 * Polls `check` until it returns a value other than undefined/false, and returns that value.
 * The last error thrown by `check` is included in the timeout message to make failures diagnosable.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    opts.abortIf?.();
    try {
      const result = await check();
      if (result !== undefined && result !== false) return result;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: last error: ${lastError.message}` : "";
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${detail}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** Result of {@link httpGet}. */
export interface HttpResult {
  status: number;
  body: string;
}

/** One GET with a short timeout; `ca` (PEM) is trusted for https URLs. */
export function httpGet(
  url: string,
  opts: { ca?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req =
      u.protocol === "https:"
        ? httpsRequest(u, { method: "GET", ...(opts.ca ? { ca: opts.ca } : {}) })
        : httpRequest(u, { method: "GET" });
    req.setTimeout(opts.timeoutMs ?? 2000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.end();
  });
}

/** Waits until GET `url` answers 200, returning the body. */
export function waitForHttpOk(url: string, opts: WaitOptions & { ca?: string | Buffer }): Promise<string> {
  return waitFor(
    async () => {
      const res = await httpGet(url, { ...(opts.ca ? { ca: opts.ca } : {}), timeoutMs: 2000 });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
      return res.body;
    },
    { intervalMs: 100, ...opts },
  );
}

/** Measures phases of a start-up for the timing breakdown. */
export class PhaseTimer {
  readonly phases: { name: string; ms: number }[] = [];
  private readonly start = performance.now();

  /** Runs `fn` and records its duration under `name`. */
  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.phases.push({ name, ms: Math.round(performance.now() - t0) });
    }
  }

  /** Milliseconds since the timer was created. */
  elapsedMs(): number {
    return Math.round(performance.now() - this.start);
  }

  /** One-line summary such as "total 9.1s: pki 40ms, etcd 300ms, …". */
  summary(): string {
    const parts = this.phases.map((p) => `${p.name} ${p.ms}ms`);
    return `total ${(this.elapsedMs() / 1000).toFixed(1)}s: ${parts.join(", ")}`;
  }
}
