// Runs a throw-away Prometheus (Debian package) that scrapes e2e targets every second.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePorts } from "./ports.ts";
import { type ManagedProcess, startProcess, stopProcessGroup } from "./process.ts";
import { waitForHttpOk } from "./wait.ts";

/** A running Prometheus. */
export interface Prometheus {
  url: string;
  process: ManagedProcess;
  /** Adds a scrape target (full URL of its metrics endpoint) and waits until Prometheus reloaded its config. */
  addScrapeTarget(url: string, labels?: Record<string, string>): Promise<void>;
  /** Current targets. */
  targets(): string[];
  /** Stops the process (SIGTERM, then SIGKILL), e.g. to test what clients do while Prometheus is down. */
  stop(): Promise<void>;
  /** Starts it again (stopping it first if running) on the same port, config and data; resolves when ready. */
  restart(): Promise<void>;
}

interface Target {
  url: string;
  labels: Record<string, string>;
}

/**
 * Starts Prometheus on a free loopback port with TSDB on the cluster dir (tmpfs). 1 s scrape and evaluation
 * intervals keep analysis tests short; targets are added at runtime via config rewrite + POST /-/reload, which
 * (unlike file_sd) applies synchronously, so a test knows scraping has started when the call returns.
 */
export async function startPrometheus(
  bin: string,
  dir: string,
  opts: { verbose: boolean; timeoutMs: number; onSpawn: (p: ManagedProcess) => void },
): Promise<Prometheus> {
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const promDir = join(dir, "prometheus");
  mkdirSync(join(promDir, "data"), { recursive: true });
  const configFile = join(promDir, "prometheus.yml");
  const targets: Target[] = [];
  writeFileSync(configFile, renderConfig(targets));
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(promDir, "data")}`,
    "--storage.tsdb.retention.time=2h",
    `--web.listen-address=127.0.0.1:${port}`,
    "--web.enable-lifecycle",
    "--log.level=warn",
    // Debian's build reads console templates from /etc; none are needed and their absence only logs noise.
    `--web.console.templates=${promDir}`,
    `--web.console.libraries=${promDir}`,
  ];
  const spawnReady = async (timeoutMs: number): Promise<ManagedProcess> => {
    const p = startProcess("prometheus", bin, args, { dir, stream: opts.verbose });
    opts.onSpawn(p);
    await waitForHttpOk(`${url}/-/ready`, {
      what: "prometheus /-/ready",
      timeoutMs,
      abortIf: () => {
        if (p.hasExited()) throw new Error(`prometheus exited during start-up; see ${p.logFile}`);
      },
    });
    return p;
  };
  let proc = await spawnReady(opts.timeoutMs);
  const stop = async (): Promise<void> => {
    await stopProcessGroup(proc.pid, 5000);
    await proc.exited;
  };

  return {
    url,
    get process() {
      return proc;
    },
    stop,
    async restart() {
      if (!proc.hasExited()) await stop();
      // Same port, config (targets) and TSDB dir: clients and the controller see the same Prometheus again.
      proc = await spawnReady(30_000);
    },
    targets: () => targets.map((t) => t.url),
    async addScrapeTarget(targetUrl: string, labels: Record<string, string> = {}): Promise<void> {
      if (!targets.some((t) => t.url === targetUrl)) targets.push({ url: targetUrl, labels });
      writeFileSync(configFile, renderConfig(targets));
      const res = await fetch(`${url}/-/reload`, { method: "POST" });
      if (!res.ok) throw new Error(`prometheus reload failed: HTTP ${res.status} ${await res.text()}`);
    },
  };
}

/** Prometheus config with one job per target (so each keeps its own metrics path and scheme). */
export function renderConfig(targets: Target[]): string {
  return stringify({
    global: { scrape_interval: "1s", evaluation_interval: "1s", scrape_timeout: "900ms" },
    scrape_configs: targets.map((t, i) => {
      const u = new URL(t.url);
      return {
        job_name: t.labels.job ?? `e2e-${i}`,
        scheme: u.protocol.replace(":", ""),
        metrics_path: u.pathname || "/metrics",
        ...(u.search ? { params: Object.fromEntries([...u.searchParams].map(([k, v]) => [k, [v]])) } : {}),
        static_configs: [
          {
            targets: [u.host],
            labels: Object.fromEntries(Object.entries(t.labels).filter(([k]) => k !== "job")),
          },
        ],
      };
    }),
  });
}

/** One sample of an instant-vector result. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/**
 * Runs an instant PromQL query and returns the vector's samples (values parsed; NaN stays NaN). Scalar results
 * come back as one sample with no labels. Throws on API errors so a typo in a test query fails loudly.
 */
export async function promQuery(prometheusUrl: string, query: string): Promise<PromSample[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ query }),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== "success" || !body.data)
    throw new Error(`PromQL ${query}: ${body.error ?? res.status}`);
  if (body.data.resultType === "scalar") {
    const [, v] = body.data.result as [number, string];
    return [{ metric: {}, value: parsePromValue(v) }];
  }
  if (body.data.resultType !== "vector")
    throw new Error(`PromQL ${query}: unexpected ${body.data.resultType}`);
  return (body.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
    metric: s.metric,
    value: parsePromValue(s.value[1]),
  }));
}

/** Prometheus encodes samples as strings; "+Inf"/"-Inf" are not JavaScript number syntax. */
function parsePromValue(v: string): number {
  if (v === "+Inf") return Number.POSITIVE_INFINITY;
  if (v === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number.parseFloat(v);
}
