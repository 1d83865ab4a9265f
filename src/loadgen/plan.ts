// The load generator's pure planner: from a webhook check's payload and the operator's caps, the bounded run to make
// — or a refusal that says why (another namespace, an address or external host, a value over a cap).
import { isIP } from "node:net";
import * as z from "zod";
import { CLIENT_OWNED_HEADERS } from "../api/constants.ts";
import { parseDuration } from "../api/duration.ts";
import {
  LOADGEN_METADATA,
  LOADGEN_METHODS,
  type LoadgenMetadataKey,
  type LoadgenMethod,
} from "../api/loadgen.ts";
import type { Trust } from "../net/egress.ts";

/** The operator's bounds on one run (flags of `vireo loadgen`). */
export interface LoadCaps {
  /** Highest requests per second of one run. */
  maxRps: number;
  /** Longest run. */
  maxDurationMs: number;
  /** Largest request body of a run (and, at the HTTP edge, of the check's payload). */
  maxBodyBytes: number;
}

/** Where the load generator may send load: Services of its own namespace, addressed as the operator says. */
export interface TargetPolicy {
  /** The load generator's own namespace: the only one whose Rollouts it serves and whose Services it loads. */
  namespace: string;
  /**
   * The Host of a target, `{service}` and `{namespace}` filled in; without `via` also the address connected to
   * (default `{service}.{namespace}.svc.cluster.local`).
   */
  hostTemplate: string;
  /**
   * Where every request connects instead (e.g. the Gateway that holds the weighted route), Host still the target's.
   * Set by the operator only; a check cannot name an address.
   */
  via?: string;
}

/** A bounded run: exactly `requests` requests spread evenly over `durationMs`. */
export interface LoadPlan {
  service: string;
  port: number;
  rps: number;
  durationMs: number;
  /** rps × duration, rounded down; at least 1. */
  requests: number;
  method: LoadgenMethod;
  /** The URL connected to. */
  url: string;
  /**
   * Who chose the address connected to: `operator` for `--via` (a flag), `tenant` for a Service's name, whose DNS
   * answer the tenant controls (an ExternalName, a headless Service's hand-written endpoints).
   */
  trust: Trust;
  /** The Host header: the target Service's name (with its port unless 80, when connected to directly). */
  host: string;
  headers: Record<string, string>;
  body?: string;
}

/** A refusal: the status the check receives and the message it shows. */
export interface Refusal {
  status: 400 | 403 | 422;
  message: string;
}

/** The planner's answer. */
export type PlanResult = { ok: true; plan: LoadPlan } | { ok: false; refusal: Refusal };

/** Defaults of the metadata a check may leave out. */
export const LOAD_DEFAULTS = { port: "80", rps: "10", duration: "60s", method: "GET", path: "/" } as const;

const PayloadSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  checksum: z.string().optional(),
  metadata: z.record(z.string(), z.string()).default({}),
});

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const HEADER_VALUE = /^[\t\x20-\x7e]{0,256}$/;
const PATH = /^\/(?!\/)[\x21-\x7e]{0,255}$/;
/** Headers the load generator owns: the target (Host), framing, and hop-by-hop headers. */
const OWN_HEADERS = new Set<string>([...CLIENT_OWNED_HEADERS, "user-agent"]);
const MAX_HEADERS = 8;

const refuse = (status: Refusal["status"], message: string): PlanResult => ({
  ok: false,
  refusal: { status, message },
});

/** Requests of a run at `rps` for `durationMs`: rounded down, at least one. */
export function requestCount(rps: number, durationMs: number): number {
  return Math.max(1, Math.floor((rps * durationMs) / 1000));
}

/** When request `i` (from 0) of a run at `rps` is due, in milliseconds after the run starts. */
export function sendOffsetMs(i: number, rps: number): number {
  return Math.floor((i * 1000) / rps);
}

/** Fills `{service}` and `{namespace}` in a host template. */
export function renderHost(template: string, service: string, namespace: string): string {
  return template.replaceAll("{service}", service).replaceAll("{namespace}", namespace);
}

/**
 * Plans the run a check's payload asks for, or refuses it. Refused with 403: a Rollout of another namespace, a
 * target in another namespace, an IP address, a dotted or external host, a URL for a path, a Host header. Refused
 * with 422: a value that is not one or over a cap; 400: a payload that is not a check's.
 */
export function planRun(payload: unknown, policy: TargetPolicy, caps: LoadCaps): PlanResult {
  const parsed = PayloadSchema.safeParse(payload);
  if (!parsed.success) return refuse(400, "not a webhook check's payload (name, namespace, metadata)");
  const { namespace, metadata } = parsed.data;
  const own = policy.namespace;
  if (namespace !== own)
    return refuse(403, `this load generator serves Rollouts of namespace ${own} only, not ${namespace}`);
  const unknown = Object.keys(metadata).filter((k) => !(LOADGEN_METADATA as readonly string[]).includes(k));
  if (unknown.length > 0)
    return refuse(422, `unknown metadata ${unknown.join(", ")}; known: ${LOADGEN_METADATA.join(", ")}`);
  const get = (k: LoadgenMetadataKey) => metadata[k];
  const target = get("namespace");
  if (target !== undefined && target !== own)
    return refuse(403, `load goes to Services of namespace ${own} only, not ${target}`);

  const service = get("service");
  if (service === undefined)
    return refuse(422, `metadata.service is required: a Service of namespace ${own}`);
  if (isIP(service.replace(/^\[|\]$/g, "")) !== 0)
    return refuse(403, `service ${service} is an IP address: load goes to Services of namespace ${own} only`);
  if (/[.:/@]/.test(service))
    return refuse(
      403,
      `service ${service} is not a Service of namespace ${own}: another namespace or an external host is refused`,
    );
  if (!DNS_LABEL.test(service)) return refuse(422, `service ${service} is not a Service name (a DNS label)`);

  const port = Number(get("port") ?? LOAD_DEFAULTS.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return refuse(422, `port ${get("port")} is not a port (1-65535)`);

  const rpsText = get("rps") ?? LOAD_DEFAULTS.rps;
  const rps = Number(rpsText);
  if (!Number.isFinite(rps) || rps <= 0) return refuse(422, `rps ${rpsText} is not a positive number`);
  if (rps > caps.maxRps) return refuse(422, `rps ${rps} is over this load generator's cap of ${caps.maxRps}`);

  const durationText = get("duration") ?? LOAD_DEFAULTS.duration;
  let durationMs: number;
  try {
    durationMs = parseDuration(durationText);
  } catch {
    return refuse(422, `duration ${durationText} is not a duration (e.g. 30s, 5m)`);
  }
  if (durationMs <= 0) return refuse(422, "duration must be positive");
  if (durationMs > caps.maxDurationMs)
    return refuse(
      422,
      `duration ${durationText} is over this load generator's cap of ${Math.round(caps.maxDurationMs / 1000)}s`,
    );

  const method = (get("method") ?? LOAD_DEFAULTS.method).toUpperCase();
  if (!(LOADGEN_METHODS as readonly string[]).includes(method))
    return refuse(422, `method ${method} is not one of ${LOADGEN_METHODS.join(", ")}`);

  const path = get("path") ?? LOAD_DEFAULTS.path;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith("//"))
    return refuse(403, `path ${path} names a host: load goes to Services of namespace ${own} only`);
  if (!PATH.test(path)) return refuse(422, `path ${path} is not an absolute path such as /healthz`);

  const headers = parseHeaders(get("headers"));
  if ("refusal" in headers) return { ok: false, refusal: headers.refusal };

  const body = get("body");
  if (body !== undefined) {
    if (method === "GET" || method === "HEAD")
      return refuse(422, `a body needs POST, PUT or PATCH, not ${method}`);
    if (Buffer.byteLength(body) > caps.maxBodyBytes)
      return refuse(422, `body is over this load generator's cap of ${caps.maxBodyBytes} bytes`);
  }

  const name = renderHost(policy.hostTemplate, service, own);
  const url = policy.via ? `${policy.via.replace(/\/$/, "")}${path}` : `http://${name}:${port}${path}`;
  const host = policy.via || port === 80 ? name : `${name}:${port}`;
  return {
    ok: true,
    plan: {
      service,
      port,
      rps,
      durationMs,
      requests: requestCount(rps, durationMs),
      method: method as LoadgenMethod,
      url,
      trust: policy.via ? "operator" : "tenant",
      host,
      headers: headers.headers,
      ...(body !== undefined ? { body } : {}),
    },
  };
}

/** Parses `metadata.headers`: a JSON object of header names to string values, without the headers we own. */
function parseHeaders(text: string | undefined): { headers: Record<string, string> } | { refusal: Refusal } {
  if (text === undefined) return { headers: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { refusal: { status: 422, message: 'headers must be a JSON object, e.g. {"X-Env":"canary"}' } };
  const entries = Object.entries(value);
  if (entries.length > MAX_HEADERS)
    return { refusal: { status: 422, message: `at most ${MAX_HEADERS} headers` } };
  const headers: Record<string, string> = {};
  for (const [name, v] of entries) {
    if (name.toLowerCase() === "host")
      return {
        refusal: {
          status: 403,
          message: "header Host is refused: the load generator names the target Service",
        },
      };
    if (!HEADER_NAME.test(name) || OWN_HEADERS.has(name.toLowerCase()))
      return { refusal: { status: 422, message: `header ${name.slice(0, 64)} may not be set` } };
    if (typeof v !== "string" || !HEADER_VALUE.test(v))
      return { refusal: { status: 422, message: `header ${name} needs a printable string value` } };
    headers[name] = v;
  }
  return { headers };
}
