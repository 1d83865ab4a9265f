// Controller configuration: command-line flags and environment, parsed once with zod. The only reader of process.env.
import { parseArgs } from "node:util";
import * as z from "zod";
import { parseAllowedPrefix } from "./analysis/allowed-urls.ts";
import { METRICS_MESHES } from "./api/constants.ts";
import { parseDuration } from "./api/duration.ts";
import { parseExposureRule } from "./mesh/exposure-policy.ts";
import { parseRanges } from "./net/address-policy.ts";

const ConfigSchema = z.object({
  kubeconfig: z.string().optional().describe("--kubeconfig: one kubeconfig file, used alone."),
  kubeconfigList: z
    .string()
    .optional()
    .describe("$KUBECONFIG: kubeconfig files separated by the path delimiter, merged (first wins)."),
  serviceHost: z
    .string()
    .optional()
    .describe("KUBERNETES_SERVICE_HOST: set in a Pod; means in-cluster config."),
  servicePort: z.string().optional().describe("KUBERNETES_SERVICE_PORT (default 443)."),
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
  allowedCheckUrls: z
    .array(z.string())
    .describe(
      "URL prefixes a webhook check or web metric may call; none by default (every such URL is refused).",
    ),
  jobNamespaces: z
    .array(z.string())
    .describe(
      "Namespaces whose Rollouts may run Job checks, beside those labelled vireo.dev/allow-jobs=true.",
    ),
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
  exposure: z
    .object({
      hosts: z.array(z.object({ namespace: z.string(), pattern: z.string() })),
      gateways: z.array(z.object({ namespace: z.string(), pattern: z.string() })),
    })
    .describe(
      "Hostnames and other namespaces' gateways Rollouts may route, per namespace (--allowed-hosts, --allowed-gateways).",
    ),
  trustDomain: z
    .string()
    .max(253)
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS name, e.g. cluster.local")
    .describe("The mesh's identity trust domain: Istio principals and Linkerd identities are written in it."),
  scopeQueries: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .describe("Rewrite every custom PromQL query so each selector carries the Rollout's namespace."),
  queryNamespaceLabel: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "must be a Prometheus label name")
    .describe("The label that carries the namespace on every series, for --scope-queries."),
  egressAllow: z
    .array(z.string())
    .describe("CIDR ranges tenant-named URLs may reach although the defaults or --egress-deny refuse them."),
  egressDeny: z
    .array(z.string())
    .describe("CIDR ranges tenant-named URLs may not reach, besides the defaults."),
  egressProxy: z
    .string()
    .url()
    .optional()
    .describe("HTTP(S) proxy for notifications; none by default, whatever HTTP(S)_PROXY says."),
  slackSecret: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "must be namespace/name")
    .optional()
    .describe("Default Slack webhook Secret (namespace/name, key url) for Rollouts without their own."),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  shutdownGraceMs: z.number().int().min(0),
  deletionTimeoutMs: z
    .number()
    .int()
    .min(0)
    .describe("How long a deleted Rollout waits for its workload to be handed back before it is released."),
  kubeQps: z.number().positive(),
  kubeBurst: z.number().int().positive(),
});

/** Validated controller configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/** Text printed by `--help`. */
export const USAGE = `vireo — progressive delivery controller

  --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)
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
  --allowed-check-urls URL,...  prefixes the URL of a webhook check or web metric must start with (same rules);
                           default: none
  --job-namespaces NS,...  namespaces whose Rollouts may run Job checks (also: label vireo.dev/allow-jobs=true)
  --prometheus-scrape-interval DUR  its scrape interval, e.g. 30s; query windows are at least 2x it (default 15s)
  --metrics-mesh MESH      istio | linkerd | traefik: whose metrics smi/gateway-api Rollouts use (default linkerd)
  --allowed-hosts [NS=]HOST,...     hostnames Rollouts (in NS; default every namespace) may route besides their own
                           Services: host, *.domain or *; {namespace} stands for the Rollout's (default: none)
  --allowed-gateways [NS=]GWNS/NAME,...  Istio gateways and Gateway API parents outside the Rollout's namespace
                           it may use: namespace/name or namespace/* (default: none)
  --trust-domain DOMAIN    mesh identity trust domain of access policies' Istio principals and Linkerd identities
                           (default cluster.local; Istio's meshConfig.trustDomain, Linkerd's identityTrustDomain)
  --scope-queries BOOL     rewrite custom PromQL so every selector carries the Rollout's namespace (default false)
  --query-namespace-label NAME  the label holding the namespace on every series (default namespace)
  --egress-allow CIDR,...  ranges URLs a Rollout names may reach although refused by default (loopback,
                           link-local, metadata, ...) or by --egress-deny; never the API server or own ports
  --egress-deny CIDR,...   more ranges URLs a Rollout names may not reach (e.g. node and pod networks)
  --egress-proxy URL       proxy for notifications (default: none; HTTP(S)_PROXY is ignored)
  --slack-secret NS/NAME   default Slack webhook Secret (key url)
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (default info)
  --shutdown-grace-ms MS   time for in-flight reconciles on SIGTERM (default 20000)
  --deletion-timeout DUR   how long a deleted Rollout waits for its Deployment to serve again before it is
                           released without it (default 10m; see docs/uninstall.md)
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
      "allowed-check-urls": { type: "string", multiple: true },
      "job-namespaces": { type: "string", multiple: true },
      "prometheus-scrape-interval": { type: "string" },
      "metrics-mesh": { type: "string" },
      "allowed-hosts": { type: "string", multiple: true },
      "allowed-gateways": { type: "string", multiple: true },
      "trust-domain": { type: "string" },
      "scope-queries": { type: "string" },
      "query-namespace-label": { type: "string" },
      "egress-allow": { type: "string", multiple: true },
      "egress-deny": { type: "string", multiple: true },
      "egress-proxy": { type: "string" },
      "slack-secret": { type: "string" },
      "log-level": { type: "string" },
      "shutdown-grace-ms": { type: "string" },
      "deletion-timeout": { type: "string" },
      "kube-qps": { type: "string" },
      "kube-burst": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) throw new Error(USAGE);
  const pick = (flag: string | undefined, envName: string, fallback?: string) =>
    flag ?? env[envName] ?? fallback;
  const num = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  const durationMs = (flag: string, text: string | undefined) =>
    text === undefined ? undefined : durationFlag(flag, text);
  const namespaces = (values.namespace ?? (env.VIREO_NAMESPACES ? [env.VIREO_NAMESPACES] : []))
    .flatMap((n) => n.split(","))
    .map((n) => n.trim())
    .filter(Boolean);
  /** A repeatable, comma-separated flag, else its environment variable. */
  const listOf = (flag: string[] | undefined, envName: string) =>
    (flag ?? (env[envName] ? [env[envName]] : []))
      .flatMap((u) => u.split(","))
      .map((u) => u.trim())
      .filter(Boolean);
  const rules = (flag: "allowed-hosts" | "allowed-gateways", envName: string, kind: "host" | "gateway") =>
    listOf(values[flag], envName).map((entry) => {
      try {
        return parseExposureRule(entry, kind);
      } catch (err) {
        throw new Error(`invalid configuration: ${flag}: ${(err as Error).message}`);
      }
    });
  const allowedPrometheusUrls = listOf(
    values["allowed-prometheus-urls"],
    "VIREO_ALLOWED_PROMETHEUS_URLS",
  ).map((u) => {
    try {
      return parseAllowedPrefix(u);
    } catch (err) {
      throw new Error(`invalid configuration: allowed-prometheus-urls: ${(err as Error).message}`);
    }
  });
  const allowedCheckUrls = listOf(values["allowed-check-urls"], "VIREO_ALLOWED_CHECK_URLS").map((u) => {
    try {
      return parseAllowedPrefix(u);
    } catch (err) {
      throw new Error(`invalid configuration: allowed-check-urls: ${(err as Error).message}`);
    }
  });
  const ranges = (flag: "egress-allow" | "egress-deny", envName: string) =>
    rangesFlag(flag, listOf(values[flag], envName));
  const raw = {
    kubeconfig: values.kubeconfig,
    kubeconfigList: env.KUBECONFIG,
    serviceHost: env.KUBERNETES_SERVICE_HOST,
    servicePort: env.KUBERNETES_SERVICE_PORT,
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
    allowedCheckUrls,
    jobNamespaces: listOf(values["job-namespaces"], "VIREO_JOB_NAMESPACES"),
    prometheusScrapeIntervalMs: durationMs(
      "prometheus-scrape-interval",
      pick(values["prometheus-scrape-interval"], "VIREO_PROMETHEUS_SCRAPE_INTERVAL"),
    ),
    metricsMesh: pick(values["metrics-mesh"], "VIREO_METRICS_MESH"),
    exposure: {
      hosts: rules("allowed-hosts", "VIREO_ALLOWED_HOSTS", "host"),
      gateways: rules("allowed-gateways", "VIREO_ALLOWED_GATEWAYS", "gateway"),
    },
    trustDomain: pick(values["trust-domain"], "VIREO_TRUST_DOMAIN", "cluster.local"),
    scopeQueries: pick(values["scope-queries"], "VIREO_SCOPE_QUERIES", "false"),
    queryNamespaceLabel: pick(values["query-namespace-label"], "VIREO_QUERY_NAMESPACE_LABEL", "namespace"),
    egressAllow: ranges("egress-allow", "VIREO_EGRESS_ALLOW"),
    egressDeny: ranges("egress-deny", "VIREO_EGRESS_DENY"),
    egressProxy: pick(values["egress-proxy"], "VIREO_EGRESS_PROXY"),
    slackSecret: pick(values["slack-secret"], "VIREO_SLACK_SECRET"),
    logLevel: pick(values["log-level"], "VIREO_LOG_LEVEL", "info"),
    shutdownGraceMs: num(pick(values["shutdown-grace-ms"], "VIREO_SHUTDOWN_GRACE_MS", "20000")),
    deletionTimeoutMs: durationMs(
      "deletion-timeout",
      pick(values["deletion-timeout"], "VIREO_DELETION_TIMEOUT", "10m"),
    ),
    kubeQps: num(pick(values["kube-qps"], "VIREO_KUBE_QPS", "50")),
    kubeBurst: num(pick(values["kube-burst"], "VIREO_KUBE_BURST", "100")),
  };
  return validated(ConfigSchema, raw);
}

/** `raw` checked against `schema`, or an Error naming every bad field. */
function validated<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${why}`);
  }
  return parsed.data;
}

/** The CIDR ranges of a repeatable, comma-separated flag, normalized, or an Error naming the flag. */
function rangesFlag(flag: string, entries: readonly string[] | undefined): string[] {
  try {
    return parseRanges(
      (entries ?? [])
        .flatMap((e) => e.split(","))
        .map((e) => e.trim())
        .filter(Boolean),
    );
  } catch (err) {
    throw new Error(`invalid configuration: ${flag}: ${(err as Error).message}`);
  }
}

/** A duration flag in milliseconds, or an Error naming the flag. */
function durationFlag(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new Error(`invalid configuration: ${flag}: ${(err as Error).message}`);
  }
}

const LoadgenConfigSchema = z.object({
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace name (--namespace or $POD_NAMESPACE)")
    .describe("The load generator's own namespace: the only one it serves and sends load to."),
  port: z.number().int().min(0).max(65535),
  host: z.string(),
  targetHost: z
    .string()
    .regex(/^[a-z0-9{}.-]+$/, "must be a host name template such as {service}.{namespace}.svc.cluster.local")
    .refine((t) => t.includes("{service}"), "must contain {service}"),
  via: z
    .string()
    .regex(/^https?:\/\/[^/\s?#]+\/?$/, "must be an http(s) URL without a path, e.g. http://gateway.infra:80")
    .optional(),
  maxRps: z.number().positive().max(10_000),
  maxDurationMs: z.number().int().positive(),
  maxRuns: z.number().int().min(1).max(64),
  maxInFlight: z.number().int().min(1).max(1024),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024),
  requestTimeoutMs: z.number().int().positive(),
  egressAllow: z
    .array(z.string())
    .describe("CIDR ranges a Service's address may be although the defaults or --egress-deny refuse them."),
  egressDeny: z
    .array(z.string())
    .describe("CIDR ranges a Service's address may not be, beside the defaults."),
  serviceHost: z
    .string()
    .optional()
    .describe("KUBERNETES_SERVICE_HOST: the API server's address, refused as a load target."),
  servicePort: z.string().optional().describe("KUBERNETES_SERVICE_PORT (default 443)."),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
});

/** Configuration of `vireo loadgen`. */
export type LoadgenConfig = z.infer<typeof LoadgenConfigSchema>;

/** Text printed by `vireo loadgen --help`. */
export const LOADGEN_USAGE = `vireo loadgen — bounded HTTP load for a webhook check, to Services of its own namespace

  --namespace NS           its own namespace (default: $POD_NAMESPACE); Rollouts and Services of others are refused
  --port PORT              /load, /runs/<key>, /metrics, /healthz, /readyz (default 8080; 0 = random)
  --host HOST              bind address (default 0.0.0.0)
  --target-host TEMPLATE   a target's host name (default {service}.{namespace}.svc.cluster.local)
  --via URL                connect every request here instead (e.g. the Gateway holding the weighted route),
                           Host still the target's (default: none, connect to the target itself)
  --max-rps N              requests per second of one run (default 100)
  --max-duration DUR       longest run (default 10m)
  --max-runs N             runs at once; one more is answered 429 (default 4)
  --max-in-flight N        unanswered requests of one run; one more due is skipped and counted (default 64)
  --max-body-bytes N       a check's payload and a run's request body (default 16384)
  --request-timeout DUR    one generated request (default 5s)
  --egress-allow CIDR,...  ranges a target Service's address may be although refused by default (loopback,
                           link-local, metadata, ...) or by --egress-deny; never the API server or its own port
  --egress-deny CIDR,...   more ranges a target Service's address may not be (not for --via, the operator's own)
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (default info)
`;

/**
 * Parses the flags of `vireo loadgen` (the arguments after `loadgen`) and $POD_NAMESPACE.
 * @throws Error with a readable message on invalid input, or with {@link LOADGEN_USAGE} for --help.
 */
export function loadLoadgenConfig(argv: readonly string[], env: NodeJS.ProcessEnv): LoadgenConfig {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      namespace: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "target-host": { type: "string" },
      via: { type: "string" },
      "max-rps": { type: "string" },
      "max-duration": { type: "string" },
      "max-runs": { type: "string" },
      "max-in-flight": { type: "string" },
      "max-body-bytes": { type: "string" },
      "request-timeout": { type: "string" },
      "egress-allow": { type: "string", multiple: true },
      "egress-deny": { type: "string", multiple: true },
      "log-level": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) throw new Error(LOADGEN_USAGE);
  const raw = {
    namespace: values.namespace ?? env.POD_NAMESPACE ?? "",
    port: Number(values.port ?? "8080"),
    host: values.host ?? "0.0.0.0",
    targetHost: values["target-host"] ?? "{service}.{namespace}.svc.cluster.local",
    via: values.via,
    maxRps: Number(values["max-rps"] ?? "100"),
    maxDurationMs: durationFlag("max-duration", values["max-duration"] ?? "10m"),
    maxRuns: Number(values["max-runs"] ?? "4"),
    maxInFlight: Number(values["max-in-flight"] ?? "64"),
    maxBodyBytes: Number(values["max-body-bytes"] ?? "16384"),
    requestTimeoutMs: durationFlag("request-timeout", values["request-timeout"] ?? "5s"),
    egressAllow: rangesFlag("egress-allow", values["egress-allow"]),
    egressDeny: rangesFlag("egress-deny", values["egress-deny"]),
    serviceHost: env.KUBERNETES_SERVICE_HOST,
    servicePort: env.KUBERNETES_SERVICE_PORT,
    logLevel: values["log-level"] ?? "info",
  };
  return validated(LoadgenConfigSchema, raw);
}
