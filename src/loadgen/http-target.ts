// Sends one generated request to the planned target over keep-alive connections and classifies how it ended; the
// answer's body is read and dropped (load, not content, is the point). A target a tenant named (a Service's name,
// whose DNS answer the tenant controls) connects through the egress policy's guarded agents, like every URL a Rollout
// names in the controller; `--via` is the operator's own address and connects directly.
import type { Agent as HttpAgent } from "node:http";
import { request as httpRequest } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import { request as httpsRequest } from "node:https";
import { LOADGEN_USER_AGENT, type LoadOutcome } from "../api/loadgen.ts";
import { type Egress, isEgressRefusal, type Trust } from "../net/egress.ts";
import type { LoadPlan } from "./plan.ts";
import type { SendOne } from "./runs.ts";

/** Options of {@link httpSender}. */
export interface HttpSenderOptions {
  /** Whole-exchange timeout of one request. */
  timeoutMs: number;
  /** Connections kept per target (the cap on requests in flight of all runs). */
  maxSockets: number;
  /** The load generator's egress policy (built in main.ts from its flags and the API server's address). */
  egress: Egress;
}

/** A sender for {@link LoadRuns} over node:http(s). */
export interface HttpSender {
  send: SendOne;
  /**
   * Why the egress policy refuses the plan's target as its name resolves now, or undefined (always undefined for
   * `--via`). Asked before a run starts, so the check fails with the reason; connections are checked again.
   */
  refusal(plan: LoadPlan): Promise<string | undefined>;
  /** Drops the idle connections. */
  close(): void;
}

/** A sender whose tenant-named targets pass `options.egress` at connect time. */
export function httpSender(options: HttpSenderOptions): HttpSender {
  const agents: Record<Trust, { http: HttpAgent; https: HttpsAgent }> = {
    tenant: options.egress.agents("tenant", {}, options.maxSockets),
    operator: options.egress.agents("operator", {}, options.maxSockets),
  };
  const send: SendOne = (plan, signal) =>
    new Promise((resolve) => {
      const url = new URL(plan.url);
      const https = url.protocol === "https:";
      let settled = false;
      const finish = (result: Awaited<ReturnType<SendOne>>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: plan.method,
          agent: https ? agents[plan.trust].https : agents[plan.trust].http,
          headers: {
            ...plan.headers,
            host: plan.host,
            "user-agent": LOADGEN_USER_AGENT,
            ...(plan.body !== undefined ? { "content-length": String(Buffer.byteLength(plan.body)) } : {}),
          },
          ...(https ? { servername: plan.host } : {}),
          signal,
        },
        (res) => {
          res.resume();
          res.once("end", () => finish(classOf(res.statusCode ?? 0)));
          res.once("error", () => finish("network"));
        },
      );
      const timer = setTimeout(() => {
        finish("timeout");
        req.destroy();
      }, options.timeoutMs);
      req.once("error", (err) => finish(isEgressRefusal(err) ? { refused: refusalText(err) } : "network"));
      req.end(plan.body);
    });
  return {
    send,
    refusal: (plan) =>
      plan.trust === "tenant" ? options.egress.addressRefusal(new URL(plan.url)) : Promise.resolve(undefined),
    close: () => {
      for (const a of Object.values(agents)) {
        a.http.destroy();
        a.https.destroy();
      }
    },
  };
}

/** The status class of an HTTP status code. */
function classOf(status: number): LoadOutcome {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

/** The policy's reason from a refused connection's error (or its cause). */
function refusalText(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return (e.cause?.message ?? e.message ?? "refused by the egress policy").slice(0, 200);
}
