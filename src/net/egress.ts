// The one door for HTTP requests to URLs a tenant can name (notifications, checks, web metrics, Prometheus): the
// address policy at connect time, no proxy unless the operator sets one, no redirects, and an answer reduced to an
// outcome class before anything reaches the tenant.
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import axios, { type AxiosProxyConfig } from "axios";
import { EGRESS_OUTCOMES, type EgressOutcome } from "../api/constants.ts";
import type { AddressPolicy } from "./address-policy.ts";
import { EGRESS_REFUSED_CODE, guardAgent, type Resolver, systemResolver } from "./guarded-agents.ts";
import { parseIp } from "./ip.ts";

/**
 * Who chose the destination. `tenant`: a Rollout (its spec or a Secret of its namespace) — the address policy
 * applies. `operator`: the controller's own flags (`--prometheus-url`, `--slack-secret`) — no address check, since
 * the operator may point the controller wherever they like (e.g. a Prometheus on the node).
 */
export type Trust = "tenant" | "operator";

/** Configuration of {@link Egress}. */
export interface EgressConfig {
  policy: AddressPolicy;
  /**
   * `--egress-proxy`: an `http://` or `https://` proxy for requests sent with `viaProxy` (notifications, checks,
   * web metrics). Unset: no proxy, whatever HTTP(S)_PROXY says.
   */
  proxy?: string | undefined;
  /** Name resolution (tests replace it). */
  resolver?: Resolver;
}

/** TLS settings of one destination. */
export interface TlsSettings {
  /** PEM bundle replacing the system CAs. */
  caPem?: string | undefined;
  rejectUnauthorized?: boolean;
}

/** One request. */
export interface EgressRequest {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** Sent as is (serialize JSON first). */
  body?: string;
  /** Aborting rejects {@link Egress.send} with the signal's reason: that is the caller's doing, not an outcome. */
  signal: AbortSignal;
  /** Whole-exchange timeout; past it the outcome is `timeout`. Default 10 s. */
  timeoutMs?: number;
  /** Longest answer read; a longer one is a `network` outcome. Default 64 KiB. */
  maxBytes?: number;
  /** Through `--egress-proxy` when the operator set one (not for Prometheus, which lives in the cluster). */
  viaProxy?: boolean;
  /** Who chose the URL. */
  trust: Trust;
}

/**
 * How a request ended. Only `outcome` may reach a tenant (Events, status, notifications about it); `status`,
 * `body` and `detail` are for the caller's own decisions and the operator's log.
 */
export interface EgressAnswer {
  outcome: EgressOutcome;
  /** HTTP status, when an answer arrived. */
  status?: number;
  /** The answer's text (at most maxBytes), for the caller to parse; never shown to a tenant. */
  body?: string;
  /** Retry-After, when the destination sent one. */
  retryAfter?: string;
  /** Operator-only: why the policy refused, or the network error code. */
  detail?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 64 * 1024;

/** The outcome class of an HTTP status. */
export function outcomeOfStatus(status: number): EgressOutcome {
  if (status >= 200 && status < 300) return EGRESS_OUTCOMES.ok;
  if (status >= 300 && status < 400) return EGRESS_OUTCOMES.redirect;
  if (status >= 400 && status < 500) return EGRESS_OUTCOMES.clientError;
  if (status >= 500 && status < 600) return EGRESS_OUTCOMES.serverError;
  return EGRESS_OUTCOMES.network;
}

/** True when an error (or its cause) is a connection the policy refused. */
export function isEgressRefusal(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 4;
    e = e.cause as typeof e, i++
  ) {
    if (e.code === EGRESS_REFUSED_CODE) return true;
  }
  return false;
}

/**
 * Egress for the whole controller: built once in main.ts from the operator's flags, handed to every adapter that
 * sends HTTP to an address a Rollout can name. See docs/multi-tenancy.md.
 */
export class Egress {
  readonly #policy: AddressPolicy;
  readonly #proxy: AxiosProxyConfig | undefined;
  readonly #resolver: Resolver;
  readonly #shared = new Map<string, { http: HttpAgent; https: HttpsAgent }>();

  /** @throws Error when the proxy is not an http(s) URL */
  constructor(config: EgressConfig) {
    this.#policy = config.policy;
    this.#resolver = config.resolver ?? systemResolver;
    this.#proxy = config.proxy ? proxyConfig(config.proxy) : undefined;
  }

  /** Why the policy refuses `address` (an IP) at `port`, or undefined. */
  refusal(address: string, port: number): string | undefined {
    return this.#policy.refusal(address, port);
  }

  /**
   * Fresh keep-alive agents for a client that keeps its own connection pool (one Prometheus): for `tenant`, every
   * connection is checked after DNS resolution. Callers must also pass `proxy: false` and `maxRedirects: 0` to
   * axios (see {@link Egress.axiosOptions}). Destroy them when the client goes away.
   */
  agents(trust: Trust, tls: TlsSettings = {}, maxSockets = 16): { http: HttpAgent; https: HttpsAgent } {
    const check = trust === "tenant" ? (a: string, p: number) => this.#policy.refusal(a, p) : () => undefined;
    const httpsOptions = {
      keepAlive: true,
      maxSockets,
      ...(tls.caPem ? { ca: tls.caPem } : {}),
      rejectUnauthorized: tls.rejectUnauthorized ?? true,
    };
    return {
      http: guardAgent(new HttpAgent({ keepAlive: true, maxSockets }), check, this.#resolver),
      https: guardAgent(new HttpsAgent(httpsOptions), check, this.#resolver),
    };
  }

  /** The axios options that keep a request on the given agents: no environment proxy, no redirects. */
  static axiosOptions(agents: { http: HttpAgent; https: HttpsAgent }) {
    return { httpAgent: agents.http, httpsAgent: agents.https, proxy: false as const, maxRedirects: 0 };
  }

  /**
   * Sends one request. Resolves for every outcome the destination (or the policy) caused; rejects only when
   * `request.signal` aborts. The URL is never put into `detail` (webhook URLs are credentials).
   */
  async send(request: EgressRequest): Promise<EgressAnswer> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return { outcome: EGRESS_OUTCOMES.invalidUrl, detail: "not a URL" };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return { outcome: EGRESS_OUTCOMES.invalidUrl, detail: `scheme ${url.protocol} is not http(s)` };
    }
    request.signal.throwIfAborted();
    const proxy = request.viaProxy ? this.#proxy : undefined;
    if (proxy && request.trust === "tenant") {
      // The proxy connects on its own resolution; the controller can only check the name before handing it over.
      const why = await this.addressRefusal(url);
      if (why) return { outcome: EGRESS_OUTCOMES.refused, detail: `${url.hostname}: ${why}` };
    }
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), request.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const signal = AbortSignal.any([request.signal, timeout.signal]);
    // With a proxy the agents connect to the proxy (the operator's), so they check nothing.
    const agents = this.#sharedAgents(proxy ? "operator" : request.trust);
    try {
      const res = await axios.request<string>({
        url: url.href,
        method: request.method ?? "GET",
        ...(request.body !== undefined ? { data: request.body } : {}),
        headers: { "User-Agent": "vireo", ...request.headers },
        signal,
        ...Egress.axiosOptions(agents),
        ...(proxy ? { proxy } : {}),
        responseType: "text",
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        maxContentLength: request.maxBytes ?? DEFAULT_MAX_BYTES,
      });
      const retryAfter = res.headers["retry-after"];
      return {
        outcome: outcomeOfStatus(res.status),
        status: res.status,
        body: String(res.data ?? ""),
        ...(typeof retryAfter === "string" ? { retryAfter } : {}),
      };
    } catch (err) {
      request.signal.throwIfAborted();
      if (timeout.signal.aborted) return { outcome: EGRESS_OUTCOMES.timeout };
      if (isEgressRefusal(err)) {
        const cause = (err as { cause?: { message?: string } }).cause;
        return { outcome: EGRESS_OUTCOMES.refused, detail: cause?.message ?? (err as Error).message };
      }
      const code = (err as { code?: unknown }).code;
      return { outcome: EGRESS_OUTCOMES.network, detail: typeof code === "string" ? code : "request failed" };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Why the policy refuses `url`'s host as it resolves now (the first refused address's reason, e.g.
   * `127.0.0.1 is loopback`), or undefined. A name that does not resolve is not refused here: the connection then
   * fails on its own. A check ahead of time only, for a clear answer before anything starts: what resolves later
   * (DNS rebinding) is caught by the agents at connect time, so callers still connect through {@link Egress.agents}.
   */
  async addressRefusal(url: URL): Promise<string | undefined> {
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (parseIp(host)) return this.#policy.refusal(host, port);
    let addresses: { address: string }[];
    try {
      addresses = await this.#resolver(host, {});
    } catch {
      return undefined;
    }
    for (const a of addresses) {
      const why = this.#policy.refusal(a.address, port);
      if (why) return why;
    }
    return undefined;
  }

  #sharedAgents(trust: Trust): { http: HttpAgent; https: HttpsAgent } {
    let agents = this.#shared.get(trust);
    if (!agents) {
      agents = this.agents(trust, {}, 8);
      this.#shared.set(trust, agents);
    }
    return agents;
  }

  /** Closes the shared connection pools. */
  close(): void {
    for (const a of this.#shared.values()) {
      a.http.destroy();
      a.https.destroy();
    }
    this.#shared.clear();
  }
}

function proxyConfig(text: string): AxiosProxyConfig {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error("--egress-proxy is not a URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("--egress-proxy must be http(s)");
  return {
    protocol: u.protocol.slice(0, -1),
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(u.port || (u.protocol === "https:" ? 443 : 80)),
    ...(u.username
      ? { auth: { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } }
      : {}),
  };
}
