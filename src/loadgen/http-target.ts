// Sends one generated request to the planned target over keep-alive connections and classifies how it ended; the
// answer's body is read and dropped (load, not content, is the point).
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { LOADGEN_USER_AGENT, type LoadOutcome } from "../api/loadgen.ts";
import type { SendOne } from "./runs.ts";

/** Options of {@link httpSender}. */
export interface HttpSenderOptions {
  /** Whole-exchange timeout of one request. */
  timeoutMs: number;
  /** Connections kept per target (the cap on requests in flight of all runs). */
  maxSockets: number;
}

/** A sender for {@link LoadRuns} over node:http(s); `close()` drops its idle connections. */
export function httpSender(options: HttpSenderOptions): { send: SendOne; close(): void } {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets }),
  };
  const send: SendOne = (plan, signal) =>
    new Promise<LoadOutcome>((resolve) => {
      const url = new URL(plan.url);
      const https = url.protocol === "https:";
      let settled = false;
      const finish = (outcome: LoadOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: plan.method,
          agent: https ? agents["https:"] : agents["http:"],
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
      req.once("error", () => finish("network"));
      req.end(plan.body);
    });
  return {
    send,
    close: () => {
      agents["http:"].destroy();
      agents["https:"].destroy();
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
