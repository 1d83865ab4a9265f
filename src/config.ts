// Controller configuration: command-line flags and environment, parsed once with zod. The only reader of process.env.
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseAllowedPrefix } from "./analysis/allowed-urls.ts";
import { METRICS_MESHES } from "./api/constants.ts";
import { parseDuration } from "./api/duration.ts";

const ConfigSchema = z.object({
  kubeconfig: z.string().optional().describe("Path to a kubeconfig; default: KUBECONFIG, then in-cluster."),
  namespaces: z
    .array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/))
    .describe("Namespaces to watch; empty = all."),
  selector: z
    .string()
    .max(1024)
    .optional()
    .describe("Label selector for the Rollouts this instance handles (sharding)."),
  workers: z.number().int().min(1).max(64),
  analysisConcurrency: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .describe("Analysis measurements running at once per Prometheus, outside the workers."),
  metricsPort: z.number().int().min(0).max(65535),
  metricsHost: z.string(),
  leaderElect: z.boolean(),
  leaseName: z.string().min(1),
  leaseNamespace: z.string().min(1),
  podName: z.string().min(1),
  prometheusUrl: z.string().url().optional(),
  allowedPrometheusUrls: z
    .array(z.string())
    .describe(
      "URL prefixes a Rollout's spec.analysis.prometheus.address may use; --prometheus-url always may.",
    ),
  prometheusScrapeIntervalMs: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Scrape interval of that Prometheus; analysis windows are at least twice it (default 15 s)."),
  metricsMesh: z.enum(METRICS_MESHES).optional(),
  slackSecret: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "must be namespace/name")
    .optional()
    .describe("Default Slack webhook Secret (namespace/name, key url) for Rollouts without their own."),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  shutdownGraceMs: z.number().int().min(0),
  kubeQps: z.number().positive(),
  kubeBurst: z.number().int().positive(),
});

/** Validated controller configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/** Text printed by `--help`. */
export const USAGE = `vireo — progressive delivery controller

  --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, else in-cluster)
  --namespace NS           watch this namespace; repeat or comma-separate for several (default: all)
  --selector SEL           only Rollouts matching this label selector (shard a large fleet)
  --workers N              concurrent reconciles (default 4)
  --analysis-concurrency N measurements running at once per Prometheus, off the workers (default 16)
  --metrics-port PORT      /metrics, /healthz, /readyz (default 8080; 0 = random)
  --metrics-host HOST      bind address (default 0.0.0.0)
  --leader-elect BOOL      Lease leader election (default true)
  --lease-name NAME        Lease name (default vireo-controller-leader)
  --lease-namespace NS     Lease namespace (default: $POD_NAMESPACE or vireo-system)
  --prometheus-url URL     default Prometheus for Rollouts without spec.analysis.prometheus.address
  --allowed-prometheus-urls URL,...  prefixes a Rollout's own prometheus.address must start with (scheme, host
                           and port exact, path at a / boundary); default: only --prometheus-url
  --prometheus-scrape-interval DUR  its scrape interval, e.g. 30s; query windows are at least 2x it (default 15s)
  --metrics-mesh MESH      istio | linkerd | traefik: whose metrics smi/gateway-api Rollouts use (default linkerd)
  --slack-secret NS/NAME   default Slack webhook Secret (key url)
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (default info)
  --shutdown-grace-ms MS   time for in-flight reconciles on SIGTERM (default 20000)
  --kube-qps N / --kube-burst N   client-side API rate limit (default 50 / 100)
`;

/**
 * Parses flags (taking precedence) and environment variables (VIREO_*), validates them, and names the bad one.
 * @throws Error with a readable message on invalid input.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string", multiple: true },
      selector: { type: "string" },
      workers: { type: "string" },
      "analysis-concurrency": { type: "string" },
      "metrics-port": { type: "string" },
      "metrics-host": { type: "string" },
      "leader-elect": { type: "string" },
      "lease-name": { type: "string" },
      "lease-namespace": { type: "string" },
      "prometheus-url": { type: "string" },
      "allowed-prometheus-urls": { type: "string", multiple: true },
      "prometheus-scrape-interval": { type: "string" },
      "metrics-mesh": { type: "string" },
      "slack-secret": { type: "string" },
      "log-level": { type: "string" },
      "shutdown-grace-ms": { type: "string" },
      "kube-qps": { type: "string" },
      "kube-burst": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) throw new Error(USAGE);
  const pick = (flag: string | undefined, envName: string, fallback?: string) =>
    flag ?? env[envName] ?? fallback;
  const num = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  const durationMs = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    try {
      return parseDuration(text);
    } catch (err) {
      throw new Error(`invalid configuration: ${flag}: ${(err as Error).message}`);
    }
  };
  const namespaces = (values.namespace ?? (env.VIREO_NAMESPACES ? [env.VIREO_NAMESPACES] : []))
    .flatMap((n) => n.split(","))
    .map((n) => n.trim())
    .filter(Boolean);
  const allowedPrometheusUrls = (
    values["allowed-prometheus-urls"] ??
    (env.VIREO_ALLOWED_PROMETHEUS_URLS ? [env.VIREO_ALLOWED_PROMETHEUS_URLS] : [])
  )
    .flatMap((u) => u.split(","))
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => {
      try {
        return parseAllowedPrefix(u);
      } catch (err) {
        throw new Error(`invalid configuration: allowed-prometheus-urls: ${(err as Error).message}`);
      }
    });
  const raw = {
    kubeconfig: pick(values.kubeconfig, "KUBECONFIG"),
    namespaces,
    selector: pick(values.selector, "VIREO_SELECTOR"),
    workers: num(pick(values.workers, "VIREO_WORKERS", "4")),
    analysisConcurrency: num(pick(values["analysis-concurrency"], "VIREO_ANALYSIS_CONCURRENCY", "16")),
    metricsPort: num(pick(values["metrics-port"], "VIREO_METRICS_PORT", "8080")),
    metricsHost: pick(values["metrics-host"], "VIREO_METRICS_HOST", "0.0.0.0"),
    leaderElect: pick(values["leader-elect"], "VIREO_LEADER_ELECT", "true") !== "false",
    leaseName: pick(values["lease-name"], "VIREO_LEASE_NAME", "vireo-controller-leader"),
    leaseNamespace: pick(values["lease-namespace"], "POD_NAMESPACE", "vireo-system"),
    podName: env.POD_NAME ?? env.HOSTNAME ?? "vireo",
    prometheusUrl: pick(values["prometheus-url"], "VIREO_PROMETHEUS_URL"),
    allowedPrometheusUrls,
    prometheusScrapeIntervalMs: durationMs(
      "prometheus-scrape-interval",
      pick(values["prometheus-scrape-interval"], "VIREO_PROMETHEUS_SCRAPE_INTERVAL"),
    ),
    metricsMesh: pick(values["metrics-mesh"], "VIREO_METRICS_MESH"),
    slackSecret: pick(values["slack-secret"], "VIREO_SLACK_SECRET"),
    logLevel: pick(values["log-level"], "VIREO_LOG_LEVEL", "info"),
    shutdownGraceMs: num(pick(values["shutdown-grace-ms"], "VIREO_SHUTDOWN_GRACE_MS", "20000")),
    kubeQps: num(pick(values["kube-qps"], "VIREO_KUBE_QPS", "50")),
    kubeBurst: num(pick(values["kube-burst"], "VIREO_KUBE_BURST", "100")),
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${why}`);
  }
  return parsed.data;
}
