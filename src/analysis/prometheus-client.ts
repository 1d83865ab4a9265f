// Prometheus instant-query client (axios): timeouts, bounded network retries, auth, TLS, and strict result parsing.
import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import type { Readable } from "node:stream";
import axios, { type AxiosInstance, type AxiosResponse } from "axios";
import { EGRESS_OUTCOMES } from "../api/constants.ts";
import { NETWORK_CODES } from "../kube/errors.ts";
import { Egress, isEgressRefusal, outcomeOfStatus, type Trust } from "../net/egress.ts";
import { sanitizeText, sanitizeUrl } from "../telemetry/sanitize.ts";
import {
  type AnswerEnvelope,
  type AnswerLimits,
  AnswerTooLarge,
  DEFAULT_MAX_ANSWER_BYTES,
  DEFAULT_MAX_SERIES,
  readAnswer,
} from "./prometheus-answer.ts";
import { type Reduce, reduceValues } from "./reduce.ts";

/** How several series collapse into one value. */
export type { Reduce } from "./reduce.ts";

/** Credentials for Prometheus; values are never logged or put in errors. */
export type PrometheusAuth =
  | { type: "bearer"; token: string }
  | { type: "basic"; username: string; password: string };

/** Connection settings of one Prometheus. */
export interface PrometheusClientConfig {
  /** Base URL, e.g. `http://prometheus.monitoring:9090` (a path prefix is kept). */
  address: string;
  /** Timeout of one HTTP attempt, ms. */
  timeoutMs: number;
  auth?: PrometheusAuth;
  /** PEM bundle of CAs trusted for HTTPS (in addition to none: it replaces the system store, like curl --cacert). */
  caPem?: string;
  /** Skip TLS verification (testing only). */
  insecureSkipVerify?: boolean;
  /** Extra attempts after a network error (connection refused/reset, timeout). Default 2. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one. Default 200 ms. */
  retryDelayMs?: number;
  /** Bounds on one answer (default 1,000 series, 4 MiB): a larger one is a query error, reported as such. */
  limits?: Partial<AnswerLimits>;
  /**
   * Who chose the address: `tenant` for a Rollout's own `prometheus.address` (connections pass the egress address
   * policy), `operator` for `--prometheus-url`. Default `tenant`.
   */
  trust?: Trust;
}

/** Options of one query. */
export interface QueryOptions {
  /** Evaluation time; several queries with the same time see the same data. Default: Prometheus's now. */
  time?: Date | number;
  /** How to collapse several series; without it more than one series is an error. */
  reduce?: Reduce;
  signal?: AbortSignal;
}

/**
 * What {@link PrometheusQueryError} is about; `network` and `timeout` are the retried kinds; `refused`: the egress
 * policy would not connect to the address.
 */
export type PrometheusErrorKind = "api" | "http" | "network" | "timeout" | "aborted" | "result" | "refused";

/**
 * A failed query. The message is safe to log and to put into status: no URL query, credentials or headers, and
 * nothing of the answer but its outcome class (`5xx`, `network`, …) and a Prometheus errorType from the API's own
 * list (the server's free text could be anything; the exact status and network error code stay on the object).
 */
export class PrometheusQueryError extends Error {
  override name = "PrometheusQueryError";
  readonly kind: PrometheusErrorKind;
  /** Prometheus's errorType (bad_data, execution, timeout, …) for `api` errors. */
  readonly errorType?: string;
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  /** Node/axios error code for network errors (ECONNREFUSED, …). */
  readonly code?: string;

  constructor(
    kind: PrometheusErrorKind,
    message: string,
    extra: { errorType?: string; status?: number; code?: string } = {},
  ) {
    super(sanitizeText(message));
    this.kind = kind;
    if (extra.errorType !== undefined) this.errorType = extra.errorType;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.code !== undefined) this.code = extra.code;
  }
}

/** The query surface measure.ts needs; {@link PrometheusClient} implements it, tests may fake it. */
export interface PrometheusQuerier {
  /** One value, or null for "no data" (empty vector, NaN, ±Inf). */
  query(query: string, options?: QueryOptions): Promise<number | null>;
  /** Every series of an instant vector with its labels (for histogram buckets); optional for fakes. */
  queryVector?(query: string, options?: QueryOptions): Promise<VectorSample[]>;
}

/** One series of an instant vector: its labels and value (null for NaN/±Inf). */
export interface VectorSample {
  labels: Record<string, string>;
  value: number | null;
}

/** Prometheus's errorType values (its HTTP API's errorType enum); anything else becomes "unknown". */
const ERROR_TYPES = new Set([
  "timeout",
  "canceled",
  "execution",
  "bad_data",
  "internal",
  "unavailable",
  "not_found",
  "not_acceptable",
]);
/** Node's codes for a certificate that did not verify: worth naming, it is the tenant's CA setting that is wrong. */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS/;
/** Above this URL length the query goes as a form POST (proxies cap URLs around 8 KiB). */
const MAX_GET_URL = 4096;

/**
 * Queries `/api/v1/query`. Create one per distinct configuration and reuse it (it keeps connections alive);
 * call {@link PrometheusClient.close} when the configuration goes away.
 */
export class PrometheusClient implements PrometheusQuerier {
  readonly #config: Required<Pick<PrometheusClientConfig, "timeoutMs" | "retries" | "retryDelayMs">> & {
    limits: AnswerLimits;
  };
  readonly #http: AxiosInstance;
  readonly #agents: { http: HttpAgent; https: HttpsAgent };
  /** Host and path only, for messages. */
  readonly #where: string;

  /** @param egress the controller's egress: its agents enforce the address policy for tenant-chosen addresses */
  constructor(config: PrometheusClientConfig, egress: Pick<Egress, "agents">) {
    let base: URL;
    try {
      base = new URL(config.address);
    } catch {
      throw new PrometheusQueryError("result", "Prometheus address is not a URL");
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new PrometheusQueryError("result", "Prometheus address must be http(s)");
    }
    // Userinfo in the address becomes basic auth, and never stays in the URL axios might echo in an error.
    let auth = config.auth;
    if (!auth && base.username) {
      auth = {
        type: "basic",
        username: decodeURIComponent(base.username),
        password: decodeURIComponent(base.password),
      };
    }
    base.username = "";
    base.password = "";
    base.search = "";
    base.hash = "";
    const baseURL = base.href.replace(/\/+$/, "");
    this.#where = sanitizeUrl(baseURL).replace(/\/$/, "");
    this.#config = {
      timeoutMs: config.timeoutMs,
      retries: Math.max(0, config.retries ?? 2),
      retryDelayMs: config.retryDelayMs ?? 200,
      limits: {
        maxSeries: config.limits?.maxSeries ?? DEFAULT_MAX_SERIES,
        maxBytes: config.limits?.maxBytes ?? DEFAULT_MAX_ANSWER_BYTES,
      },
    };
    this.#agents = egress.agents(config.trust ?? "tenant", {
      caPem: config.caPem,
      rejectUnauthorized: !config.insecureSkipVerify,
    });
    const headers: Record<string, string> = { Accept: "application/json" };
    if (auth?.type === "bearer") headers.Authorization = `Bearer ${auth.token}`;
    if (auth?.type === "basic") {
      headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    }
    this.#http = axios.create({
      baseURL,
      headers,
      // No environment proxy, and no redirect (it could carry the Authorization header elsewhere; Prometheus's API
      // never redirects).
      ...Egress.axiosOptions(this.#agents),
      // The body is streamed into readAnswer, which parses it as it arrives and stops at its limits: a 15 MiB
      // answer is never buffered, stringified and parsed whole (three copies, 16 answers at a time).
      responseType: "stream",
      validateStatus: () => true,
    });
  }

  /**
   * Runs an instant query and reduces it to one number.
   * @returns the value, or null for "no data" (empty vector, NaN, ±Inf; with `reduce`, when no series is finite).
   * @throws PrometheusQueryError for API errors (with errorType), HTTP errors, network errors after the
   *   retries, timeouts, abort, and unusable results (matrix, string, several series without `reduce`).
   */
  async query(query: string, options: QueryOptions = {}): Promise<number | null> {
    const body = await this.#fetchWithRetries(query, options);
    return parseQueryResponse(body, options.reduce);
  }

  /**
   * Runs an instant query and returns every series with its labels.
   * @throws PrometheusQueryError as {@link query} does, and for results that are not an instant vector.
   */
  async queryVector(query: string, options: QueryOptions = {}): Promise<VectorSample[]> {
    const body = await this.#fetchWithRetries(query, options);
    return parseVectorResponse(body);
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  async #fetchWithRetries(query: string, options: QueryOptions): Promise<AnswerEnvelope> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#fetchOnce(query, options);
      } catch (err) {
        const e = err as PrometheusQueryError;
        const retryable = e.kind === "network" || e.kind === "timeout";
        if (!retryable || attempt >= this.#config.retries || options.signal?.aborted) throw e;
        await delay(this.#config.retryDelayMs * 2 ** attempt, options.signal);
      }
    }
  }

  async #fetchOnce(query: string, options: QueryOptions): Promise<AnswerEnvelope> {
    if (options.signal?.aborted) throw aborted(this.#where);
    const params = new URLSearchParams({ query });
    if (options.time !== undefined) params.set("time", formatTime(options.time));
    // Our own per-attempt timer (not axios `timeout`, an idle timer) bounds the whole exchange, body included.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#config.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
    let res: AxiosResponse<Readable> | undefined;
    try {
      const qs = params.toString();
      res =
        qs.length + 16 <= MAX_GET_URL
          ? await this.#http.get<Readable>(`/api/v1/query?${qs}`, { signal })
          : await this.#http.post<Readable>("/api/v1/query", qs, {
              signal,
              headers: { "Content-Type": "application/x-www-form-urlencoded" },
            });
      const envelope = await readAnswer(res.data, this.#config.limits);
      return interpretHttp(res.status, envelope, this.#where);
    } catch (err) {
      if (err instanceof PrometheusQueryError) throw err;
      if (err instanceof AnswerTooLarge) throw new PrometheusQueryError("result", err.message);
      if (options.signal?.aborted) throw aborted(this.#where);
      if (timeout.signal.aborted) {
        throw new PrometheusQueryError(
          "timeout",
          `Prometheus at ${this.#where} did not answer within ${this.#config.timeoutMs} ms`,
        );
      }
      // Never rethrow the axios error: its config carries headers (credentials) and the full URL.
      if (isEgressRefusal(err)) {
        throw new PrometheusQueryError(
          "refused",
          `Prometheus at ${this.#where} not contacted (${EGRESS_OUTCOMES.refused}: the controller's egress policy, see --egress-allow)`,
        );
      }
      const code = (err as { code?: unknown }).code;
      const c = typeof code === "string" ? code : undefined;
      const tls = TLS_CODE.test(c ?? "") ? ", TLS certificate not trusted: check prometheus.caSecretRef" : "";
      throw new PrometheusQueryError(
        NETWORK_CODES.has(c ?? "") ? "network" : "http",
        `cannot reach Prometheus at ${this.#where} (${EGRESS_OUTCOMES.network}${tls})`,
        c ? { code: c } : {},
      );
    } finally {
      clearTimeout(timer);
      // Whatever was not read (an answer over its limits, an error page) is not worth the connection.
      if (res && !res.data.readableEnded) res.data.destroy();
    }
  }
}

/** Checks an HTTP answer's envelope, or throws for error envelopes and non-JSON answers. */
function interpretHttp(status: number, env: AnswerEnvelope | undefined, where: string): AnswerEnvelope {
  if (env && env.status === "error") {
    // Prometheus's free-text `error` is dropped on purpose: it would carry whatever the server chose to say into
    // status, Events and conditions. errorType is kept only when it is one of Prometheus's own values.
    const errorType =
      typeof env.errorType === "string" && ERROR_TYPES.has(env.errorType) ? env.errorType : "unknown";
    throw new PrometheusQueryError(
      "api",
      `Prometheus ${errorType} error (${outcomeOfStatus(status)}); run the query in Prometheus to see its message`,
      { errorType, status },
    );
  }
  if (status < 200 || status >= 300 || env?.status !== "success") {
    throw new PrometheusQueryError(
      "http",
      `Prometheus at ${where} answered ${outcomeOfStatus(status)}${status < 300 ? " (not a query response)" : ""}`,
      { status },
    );
  }
  return env;
}

/**
 * Reduces a successful `/api/v1/query` envelope to one value (exported for tests and other callers).
 * @throws PrometheusQueryError of kind `result` for matrix/string results, malformed data and several series
 *   without `reduce`.
 */
export function parseQueryResponse(body: unknown, reduce?: Reduce): number | null {
  const data = (body as { data?: { resultType?: unknown; result?: unknown } }).data;
  const type = data?.resultType;
  if (type === "scalar") return sampleValue((data?.result as unknown[] | undefined)?.[1]);
  if (type === "matrix" || type === "string") {
    throw new PrometheusQueryError(
      "result",
      `query returned a ${type}, expected an instant vector or scalar${type === "matrix" ? " (drop the range selector or wrap it in a function such as rate())" : ""}`,
    );
  }
  if (type !== "vector" || !Array.isArray(data?.result)) {
    throw new PrometheusQueryError("result", "query returned an unknown result type");
  }
  const series = data.result as { value?: unknown[]; histogram?: unknown }[];
  if (series.length === 0) return null;
  if (series.some((s) => s.histogram !== undefined && s.value === undefined)) {
    throw new PrometheusQueryError(
      "result",
      "query returned native histograms; wrap it in histogram_quantile() or histogram_sum()",
    );
  }
  if (series.length > 1 && !reduce) {
    throw new PrometheusQueryError(
      "result",
      `query returned ${series.length} series; set reduce: sum|avg|min|max or aggregate in the query`,
    );
  }
  const values = series.map((s) => sampleValue(s.value?.[1]));
  if (series.length === 1) return values[0] ?? null;
  const finite = values.filter((v): v is number => v !== null);
  if (finite.length === 0) return null;
  try {
    return reduceValues(finite, reduce as Reduce);
  } catch (err) {
    throw new PrometheusQueryError("result", (err as Error).message);
  }
}

/**
 * The series of a successful `/api/v1/query` envelope holding an instant vector.
 * @throws PrometheusQueryError of kind `result` for other result types and malformed series.
 */
export function parseVectorResponse(body: unknown): VectorSample[] {
  const data = (body as { data?: { resultType?: unknown; result?: unknown } }).data;
  if (data?.resultType !== "vector" || !Array.isArray(data.result)) {
    throw new PrometheusQueryError("result", "query returned no instant vector");
  }
  return (data.result as { metric?: unknown; value?: unknown[] }[]).map((s) => {
    const labels: Record<string, string> = {};
    if (s.metric && typeof s.metric === "object") {
      for (const [k, v] of Object.entries(s.metric)) if (typeof v === "string") labels[k] = v;
    }
    return { labels, value: sampleValue(s.value?.[1]) };
  });
}

/** Prometheus sends sample values as strings; NaN and ±Inf mean "no data", anything unparsable is an error. */
function sampleValue(raw: unknown): number | null {
  if (typeof raw !== "string") throw new PrometheusQueryError("result", "malformed sample in query result");
  const v = Number(raw);
  if (Number.isFinite(v)) return v;
  if (/^[+-]?(Inf|NaN)$/i.test(raw)) return null;
  throw new PrometheusQueryError("result", "unparsable sample value in the query result");
}

function formatTime(t: Date | number): string {
  const ms = t instanceof Date ? t.getTime() : t;
  return (ms / 1000).toFixed(3);
}

function aborted(where: string): PrometheusQueryError {
  return new PrometheusQueryError("aborted", `query to Prometheus at ${where} was aborted`);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(new PrometheusQueryError("aborted", "query to Prometheus was aborted"));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
