// Translates the spec of an Argo Rollouts AnalysisTemplate or ClusterAnalysisTemplate (argoproj.io/v1alpha1) into
// the shape of Vireo's own template spec: prometheus and web metrics with simple conditions. Every field Vireo
// cannot honour is refused by name, never dropped. Pure; the result is validated by AnalysisTemplateSpecSchema.
import { parseDuration } from "../../api/duration.ts";
import { conditionBounds } from "./argo-condition.ts";

/** What a translation needs from the Rollout: the fields Argo sets per metric and Vireo per analysis. */
export interface ArgoContext {
  /** The Rollout's analysis.interval. */
  interval: string;
  /** The Rollout's analysis.failureLimit (failed ticks that roll back). */
  failureLimit: number;
}

/** A translated spec (Vireo's template shape, not yet validated), or every field that cannot be translated. */
export type ArgoTranslation = { ok: true; spec: Record<string, unknown> } | { ok: false; messages: string[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why each spec-level field Vireo does not read is refused. */
const SPEC_REFUSED: Record<string, string> = {
  dryRun: "dry-run metrics are not supported: every metric Vireo reads decides",
  measurementRetention: "is not supported: Vireo keeps analysis.historyLimit measurements per Rollout",
};
/** Why each metric field Vireo does not read is refused. */
const METRIC_REFUSED: Record<string, string> = {
  count:
    "is not supported: Vireo measures at every analysis tick of every step, for as long as the Rollout's steps last",
  initialDelay: "is not supported: a step's first tick comes one analysis.interval after the step starts",
  consecutiveErrorLimit: "is not supported per metric: set the Rollout's analysis.consecutiveErrorLimit",
  inconclusiveLimit: "is not supported per metric: set the Rollout's analysis.inconclusiveLimit",
  consecutiveSuccessLimit: "is not supported: a step passes on one passing tick",
};
const PROVIDERS = "prometheus and web";

/**
 * The Vireo template spec (args, metrics, prometheus) equivalent to the Argo template spec `spec`, for a Rollout
 * whose analysis runs as `ctx` says. Refused, each message naming the field (`spec.metrics[i].…`): providers other
 * than prometheus and web, conditions other than simple comparisons, argument `valueFrom`, per-metric settings
 * Vireo keeps per Rollout when they differ from the Rollout's, and every field it does not know.
 */
export function translateArgoTemplate(spec: unknown, ctx: ArgoContext): ArgoTranslation {
  const messages: string[] = [];
  const refuse = (path: string, why: string) => messages.push(`${path} ${why}`);
  if (!isObj(spec)) return { ok: false, messages: ["spec is missing"] };
  for (const key of Object.keys(spec)) {
    if (key === "args" || key === "metrics") continue;
    refuse(`spec.${key}`, SPEC_REFUSED[key] ?? "is not supported");
  }
  const args = translateArgs(spec.args, refuse);
  const prometheus: Obj[] = [];
  const metrics = (Array.isArray(spec.metrics) ? spec.metrics : []).map((m, i) =>
    translateMetric(m, `spec.metrics[${i}]`, ctx, refuse, prometheus),
  );
  const servers = new Set(prometheus.map((p) => JSON.stringify(p)));
  if (servers.size > 1)
    refuse("spec.metrics", "name different Prometheus servers: one Rollout queries one Prometheus");
  if (messages.length > 0) return { ok: false, messages };
  return {
    ok: true,
    spec: {
      args,
      metrics,
      ...(prometheus[0] && Object.keys(prometheus[0]).length > 0 ? { prometheus: prometheus[0] } : {}),
    },
  };
}

type Refuse = (path: string, why: string) => void;

/** Argo's args (`value` is the default) as Vireo's string arguments. */
function translateArgs(args: unknown, refuse: Refuse): Obj[] {
  if (args === undefined) return [];
  if (!Array.isArray(args)) {
    refuse("spec.args", "must be a list");
    return [];
  }
  return args.map((a, i) => {
    const path = `spec.args[${i}]`;
    if (!isObj(a)) {
      refuse(path, "must be an object");
      return {};
    }
    for (const key of Object.keys(a)) {
      if (key === "valueFrom")
        refuse(
          `${path}.valueFrom`,
          `(argument ${String(a.name)}) is not supported: pass the value from the Rollout`,
        );
      else if (key !== "name" && key !== "value") refuse(`${path}.${key}`, "is not supported");
    }
    return { name: a.name, ...(a.value !== undefined ? { default: a.value } : {}) };
  });
}

/** One Argo metric as a Vireo metric; its Prometheus settings, if any, are pushed onto `prometheus`. */
function translateMetric(m: unknown, path: string, ctx: ArgoContext, refuse: Refuse, prometheus: Obj[]): Obj {
  if (!isObj(m)) {
    refuse(path, "must be an object");
    return {};
  }
  const at = `${path} (metric ${String(m.name)})`;
  const known = new Set([
    "name",
    "provider",
    "successCondition",
    "failureCondition",
    "interval",
    "failureLimit",
  ]);
  for (const key of Object.keys(m)) {
    if (!known.has(key)) refuse(`${at}.${key}`, METRIC_REFUSED[key] ?? "is not supported");
  }
  if (m.interval !== undefined && !sameDuration(m.interval, ctx.interval)) {
    refuse(
      `${at}.interval`,
      `${JSON.stringify(m.interval)} differs from the Rollout's analysis.interval (${ctx.interval}), at which Vireo measures every metric`,
    );
  }
  // Argo fails a metric when its failures exceed failureLimit; Vireo rolls back when they reach its own.
  if (m.failureLimit !== undefined && Number(m.failureLimit) + 1 !== ctx.failureLimit) {
    refuse(
      `${at}.failureLimit`,
      `${JSON.stringify(m.failureLimit)} differs from the Rollout's analysis.failureLimit ${ctx.failureLimit} (Argo's failureLimit N is Vireo's N+1: set it to ${ctx.failureLimit - 1} or change the Rollout's)`,
    );
  }
  const source = translateProvider(m.provider, `${at}.provider`, refuse, prometheus);
  // Conditions judge a measurement; a provider Vireo cannot measure with (a job has none) is reason enough.
  if (source === undefined) return { name: m.name };
  const bounds = conditionBounds(str(m.successCondition), str(m.failureCondition));
  if (!bounds.ok) refuse(at, bounds.message);
  return { name: m.name, ...source, ...(bounds.ok ? { thresholdRange: bounds.bounds } : {}) };
}

const str = (v: unknown) => (v === undefined ? undefined : String(v));

function sameDuration(a: unknown, b: string): boolean {
  try {
    return parseDuration(String(a)) === parseDuration(b);
  } catch {
    return false;
  }
}

/** The metric's source (query or web) from Argo's provider; undefined (refused) unless prometheus or web. */
function translateProvider(p: unknown, path: string, refuse: Refuse, prometheus: Obj[]): Obj | undefined {
  if (!isObj(p) || Object.keys(p).length !== 1) {
    refuse(path, `must name exactly one provider (Vireo reads ${PROVIDERS})`);
    return undefined;
  }
  const [[kind, body]] = Object.entries(p) as [[string, unknown]];
  if (!isObj(body)) {
    refuse(`${path}.${kind}`, "must be an object");
    return undefined;
  }
  if (kind === "prometheus") return translatePrometheus(body, `${path}.prometheus`, refuse, prometheus);
  if (kind === "web") return translateWeb(body, `${path}.web`, refuse);
  const hint = kind === "job" ? "; a Job is a Vireo job check (docs/checks.md)" : "";
  refuse(`${path}.${kind}`, `is not supported: Vireo reads the ${PROVIDERS} providers${hint}`);
  return undefined;
}

function translatePrometheus(b: Obj, path: string, refuse: Refuse, prometheus: Obj[]): Obj {
  for (const key of Object.keys(b)) {
    if (key === "headers" || key === "authentication")
      refuse(
        `${path}.${key}`,
        "is not supported: Prometheus credentials come from a Secret (a vireo.dev template's prometheus.secretRef)",
      );
    else if (!["query", "address", "timeout", "insecure"].includes(key))
      refuse(`${path}.${key}`, "is not supported");
  }
  prometheus.push({
    ...(b.address !== undefined ? { address: b.address } : {}),
    ...(b.timeout !== undefined ? { timeout: `${Number(b.timeout)}s` } : {}),
    ...(b.insecure !== undefined ? { insecureSkipVerify: b.insecure } : {}),
  });
  return { query: b.query };
}

function translateWeb(b: Obj, path: string, refuse: Refuse): Obj {
  for (const key of Object.keys(b)) {
    if (key === "insecure" || key === "authentication")
      refuse(`${path}.${key}`, "is not supported: a web metric verifies TLS and carries no credentials");
    else if (!["url", "method", "headers", "body", "jsonBody", "timeoutSeconds", "jsonPath"].includes(key))
      refuse(`${path}.${key}`, "is not supported");
  }
  const headers = Array.isArray(b.headers)
    ? b.headers.map((h: unknown) => (isObj(h) ? { name: h.key, value: h.value } : {}))
    : b.headers;
  if (b.body !== undefined && b.jsonBody !== undefined) refuse(`${path}.jsonBody`, "and body are both set");
  const body = b.jsonBody !== undefined ? JSON.stringify(b.jsonBody) : b.body;
  if (b.jsonPath === undefined) refuse(`${path}.jsonPath`, "is missing: Vireo judges the number it selects");
  // Argo writes a JSONPath in braces ({$.data.score}); Vireo without.
  const jsonPath = typeof b.jsonPath === "string" ? b.jsonPath.replace(/^\{(.*)\}$/s, "$1") : b.jsonPath;
  return {
    web: {
      url: b.url,
      ...(b.method !== undefined ? { method: b.method } : {}),
      ...(headers !== undefined ? { headers } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(b.timeoutSeconds !== undefined ? { timeout: `${Number(b.timeoutSeconds)}s` } : {}),
      jsonPath,
    },
  };
}
