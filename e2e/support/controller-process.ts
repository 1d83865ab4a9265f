// Runs the real controller (src/main.ts, or the bundle the image runs) as a child process with the restricted
// ServiceAccount kubeconfig.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleController, CONTROLLER_NODE_FLAGS } from "../../deploy/bundle.ts";
import { LOOPBACK_RANGES } from "../../src/net/testing/loopback.ts";
import { freePort } from "../cluster/ports.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** A controller instance under test. */
export interface ControllerProcess {
  readonly pid: number;
  readonly metricsUrl: string;
  readonly logPath: string;
  /** Fetches /metrics as text. */
  metrics(): Promise<string>;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no cleanup, as a crash or OOM kill would. */
  kill(): Promise<void>;
  exited(): boolean;
}

/** Flags pointing a controller at an e2e cluster's Prometheus (1 s scrape) and one data plane's builtin metrics. */
export function prometheusArgs(
  prometheusUrl: string | undefined,
  mesh: "linkerd" | "istio" | "traefik",
): string[] {
  if (!prometheusUrl) throw new Error("this cluster runs no Prometheus");
  return [`--prometheus-url=${prometheusUrl}`, `--metrics-mesh=${mesh}`, "--prometheus-scrape-interval=1s"];
}

let instances = 0;
let bundle: Promise<string> | undefined;
/** The bundle of the current sources, built once per process. */
function bundled(): Promise<string> {
  bundle ??= bundleController();
  return bundle;
}

/** Starts a controller and waits until /readyz answers. */
export async function startController(opts: {
  kubeconfigPath: string;
  logDir: string;
  args?: string[];
  env?: Record<string, string>;
  /**
   * What to run: the TypeScript sources (default; tests see source edits at once) or the bundle the image runs
   * (benchmarks: memory and start-up as shipped), bundled from the current sources once per process.
   */
  entry?: "source" | "bundle";
  /** With `entry: "bundle"`: run this bundle instead of the current sources' (a baseline's, side by side). */
  bundlePath?: string;
  /** Node's own flags for the bundle; default: the image's ({@link CONTROLLER_NODE_FLAGS}). */
  nodeFlags?: readonly string[];
  /**
   * `--egress-allow` for URLs Rollouts name. Default: loopback, where the tests' receivers and fake Prometheus
   * servers listen (production refuses it). `[]` runs the controller with the production default policy.
   */
  egressAllow?: readonly string[];
  /** Where /metrics listens (default 127.0.0.1). */
  metricsHost?: string;
}): Promise<ControllerProcess> {
  const port = await freePort();
  const metricsHost = opts.metricsHost ?? "127.0.0.1";
  const egressAllow = opts.egressAllow ?? LOOPBACK_RANGES;
  const entry = opts.entry === "bundle" ? (opts.bundlePath ?? (await bundled())) : join(ROOT, "src/main.ts");
  mkdirSync(opts.logDir, { recursive: true });
  const logPath = join(opts.logDir, `controller-${++instances}.log`);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(opts.entry === "bundle" ? (opts.nodeFlags ?? CONTROLLER_NODE_FLAGS) : []),
      entry,
      `--kubeconfig=${opts.kubeconfigPath}`,
      `--metrics-port=${port}`,
      `--metrics-host=${metricsHost}`,
      ...(egressAllow.length > 0 ? [`--egress-allow=${egressAllow.join(",")}`] : []),
      "--lease-namespace=vireo-system",
      "--log-level=debug",
      ...(opts.args ?? []),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, POD_NAME: `vireo-test-${instances}`, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return superviseController(child, {
    metricsUrl: `http://${metricsHost}:${port}`,
    logPath,
    what: "controller",
    readyTimeoutMs: 60_000,
  });
}

/**
 * Wraps a spawned controller for tests: logs its output to `logPath`, kills it if the test process exits, waits
 * until /readyz answers (or fails naming the log), and returns the handle. Shared by the controller run from the
 * source tree and the one run from the image's rootfs.
 */
export async function superviseController(
  child: ChildProcess,
  o: { metricsUrl: string; logPath: string; what: string; readyTimeoutMs: number },
): Promise<ControllerProcess> {
  const log = createWriteStream(o.logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exitCode: number | null | undefined;
  const exit = new Promise<number | null>((res) =>
    child.once("exit", (code) => {
      exitCode = code;
      res(code);
    }),
  );
  const kill = () => {
    if (exitCode === undefined) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  child.once("exit", () => process.removeListener("exit", kill));
  const deadline = Date.now() + o.readyTimeoutMs;
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`${o.what} exited with ${exitCode} before ready; see ${o.logPath}`);
    const ok = await fetch(`${o.metricsUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      kill();
      throw new Error(`${o.what} not ready after ${o.readyTimeoutMs / 1000} s; see ${o.logPath}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid ?? -1,
    metricsUrl: o.metricsUrl,
    logPath: o.logPath,
    metrics: () => fetch(`${o.metricsUrl}/metrics`).then((r) => r.text()),
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(kill, 30_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      kill();
      await exit;
    },
    exited: () => exitCode !== undefined,
  };
}

/** Reads a counter or gauge value from Prometheus text exposition (sum over matching series). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
