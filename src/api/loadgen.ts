// Wire strings of the load generator (`vireo loadgen`): its paths, the check metadata it reads, what it answers.

/** HTTP paths the load generator serves beside /metrics, /healthz and /readyz. */
export const LOADGEN_PATHS = {
  /** A webhook check POSTs its payload here to start a run. */
  load: "/load",
  /** `GET /runs/<Idempotency-Key>`: a run's report; `GET /runs/`: every remembered run's. */
  runs: "/runs/",
} as const;

/** The keys of a webhook check's `metadata` the load generator reads; any other key is refused. */
export const LOADGEN_METADATA = [
  "service",
  "port",
  "rps",
  "duration",
  "method",
  "path",
  "headers",
  "body",
  "namespace",
] as const;
/** One of {@link LOADGEN_METADATA}. */
export type LoadgenMetadataKey = (typeof LOADGEN_METADATA)[number];

/** HTTP methods a run may send. */
export const LOADGEN_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** One of {@link LOADGEN_METHODS}. */
export type LoadgenMethod = (typeof LOADGEN_METHODS)[number];

/** How one generated request ended: its status class, or why it has none. */
export const LOAD_OUTCOMES = ["2xx", "3xx", "4xx", "5xx", "timeout", "network"] as const;
/** One of {@link LOAD_OUTCOMES}. */
export type LoadOutcome = (typeof LOAD_OUTCOMES)[number];

/** A run's state in its report: `refused` when the egress policy refused its target at connect time. */
export const LOAD_RUN_STATES = ["running", "done", "stopped", "refused"] as const;
/** One of {@link LOAD_RUN_STATES}. */
export type LoadRunState = (typeof LOAD_RUN_STATES)[number];

/**
 * Where the egress policy refused a load target (`vireo_loadgen_targets_refused_total{at}`): when the check called
 * (no run started, the check fails with the reason) or at connect time (the name resolved elsewhere later: the run
 * stops and its report says why).
 */
export const LOAD_REFUSED_AT = ["start", "connect"] as const;
/** One of {@link LOAD_REFUSED_AT}. */
export type LoadRefusedAt = (typeof LOAD_REFUSED_AT)[number];

/**
 * The JSON field of a refused check's answer that Vireo may show in the check's status: a receiver opts in by
 * naming it, so an arbitrary internal service's body never reaches a tenant's status (docs/checks.md).
 */
export const CHECK_MESSAGE_FIELD = "vireoMessage";

/** The User-Agent of every generated request, so a service's logs can tell synthetic load from its users. */
export const LOADGEN_USER_AGENT = "vireo-loadgen/0.1.0";
