// How a pod answers, read from its own template: env ERROR_RATE and LATENCY_MS, so a bad version is a bad template.

/** What a pod runner needs to know about one pod. */
export interface PodBehaviour {
  /** Share of requests answered 500 (0–1), from env ERROR_RATE. */
  errorRate: number;
  /** Delay before every answer in ms, from env LATENCY_MS. */
  latencyMs: number;
  /** Every containerPort of every container. */
  ports: number[];
  /** What the app speaks, from env PROTOCOL: "grpc" (served by a gRPC pod host, see grpc-pods.ts) or "http". */
  protocol: "http" | "grpc";
}

/** The part of a Pod the runner reads. */
export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: {
    serviceAccountName?: string;
    readinessGates?: { conditionType: string }[];
    containers?: { env?: { name: string; value?: string }[]; ports?: { containerPort: number }[] }[];
  };
  status?: { podIP?: string; phase?: string };
}

const number = (raw: string | undefined, min: number, max: number): number => {
  const n = raw === undefined ? 0 : Number(raw);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : 0;
};

/**
 * The pod's behaviour. Only literal env values count (valueFrom needs a kubelet); the first container that sets a
 * variable wins. Out-of-range or unparsable values are clamped or read as 0, like an app falling back to defaults.
 */
export function behaviourOf(pod: PodLike): PodBehaviour {
  const containers = pod.spec?.containers ?? [];
  const env = (name: string) =>
    containers.flatMap((c) => c.env ?? []).find((e) => e.name === name && e.value !== undefined)?.value;
  return {
    errorRate: number(env("ERROR_RATE"), 0, 1),
    latencyMs: number(env("LATENCY_MS"), 0, 60_000),
    ports: [...new Set(containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)))],
    protocol: env("PROTOCOL") === "grpc" ? "grpc" : "http",
  };
}

/**
 * Failures spread evenly rather than drawn at random: request n (from 0) fails when it crosses the next multiple of
 * 1/errorRate, so exactly errorRate of any run of requests fails to within one, and e2e bounds can be tight.
 */
export function failsAt(n: number, errorRate: number): boolean {
  return Math.floor((n + 1) * errorRate) > Math.floor(n * errorRate);
}
