// The load generator's HTTP edge: `POST /load` (a webhook check's call) plans and starts a run and answers at once
// with what it will send, `GET /runs/<key>` says what a run sent (`GET /runs/` lists them). Refusals carry their
// reason for the check's status, the egress policy's too (a Service whose name resolves to loopback, metadata, …).
import type { IncomingMessage, ServerResponse } from "node:http";
import { CHECK_MESSAGE_FIELD, LOADGEN_PATHS } from "../api/loadgen.ts";
import type { Routes } from "../telemetry/http-server.ts";
import type { LoadgenMetrics } from "./metrics.ts";
import { type LoadCaps, type LoadPlan, planRun, type TargetPolicy } from "./plan.ts";
import type { LoadRuns } from "./runs.ts";

/** Seconds a busy answer asks the check to wait before its next try. */
const BUSY_RETRY_AFTER_S = 5;
const KEY = /^[\x21-\x7e]{1,128}$/;

/** What {@link loadgenRoutes} needs. */
export interface LoadgenRoutesOptions {
  runs: LoadRuns;
  policy: TargetPolicy;
  caps: LoadCaps;
  /** Why the egress policy refuses a plan's target now, or undefined (the sender's `refusal`). */
  targetRefusal: (plan: LoadPlan) => Promise<string | undefined>;
  metrics: LoadgenMetrics;
  /** Logs a run started or refused (never the payload's headers or body). */
  log: (message: string, fields: Record<string, unknown>) => void;
}

/** The load generator's routes. */
export function loadgenRoutes(o: LoadgenRoutesOptions): Routes {
  return async (req, res, url) => {
    if (url.pathname === LOADGEN_PATHS.load) {
      if (req.method !== "POST") {
        res.writeHead(405, { allow: "POST" }).end();
        return true;
      }
      await start(req, res, o);
      return true;
    }
    if (url.pathname === LOADGEN_PATHS.runs && req.method === "GET") {
      json(res, 200, o.runs.list());
      return true;
    }
    if (url.pathname.startsWith(LOADGEN_PATHS.runs) && req.method === "GET") {
      const report = o.runs.get(decodeURIComponent(url.pathname.slice(LOADGEN_PATHS.runs.length)));
      if (report) json(res, 200, report);
      else json(res, 404, { [CHECK_MESSAGE_FIELD]: "no such run (unknown or forgotten)" });
      return true;
    }
    return false;
  };
}

async function start(req: IncomingMessage, res: ServerResponse, o: LoadgenRoutesOptions): Promise<void> {
  const refuse = (status: number, message: string) => {
    o.metrics.answered("refused");
    o.log("load refused", { status, reason: message });
    json(res, status, { [CHECK_MESSAGE_FIELD]: message });
  };
  const key = req.headers["idempotency-key"];
  if (typeof key !== "string" || !KEY.test(key))
    return refuse(400, "an Idempotency-Key header is required (Vireo's webhook checks send one)");
  const body = await readBody(req, o.caps.maxBodyBytes);
  if (body === undefined) return refuse(413, `payload over ${o.caps.maxBodyBytes} bytes`);
  const existing = o.runs.get(key);
  if (existing) {
    o.metrics.answered("existing");
    return json(res, 200, existing);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return refuse(400, "the payload is not JSON");
  }
  const planned = planRun(payload, o.policy, o.caps);
  if (!planned.ok) return refuse(planned.refusal.status, planned.refusal.message);
  // Before the answer: the check passes on a 202, so a target refused only at connect time would not fail it.
  const why = await o.targetRefusal(planned.plan);
  if (why !== undefined) {
    o.metrics.targetRefused("start");
    return refuse(403, `egress policy refuses service ${planned.plan.service}: ${why}`);
  }
  const started = o.runs.start(key, planned.plan);
  if (started.kind === "busy") {
    o.metrics.answered("busy");
    res.setHeader("retry-after", String(BUSY_RETRY_AFTER_S));
    return json(res, 429, { [CHECK_MESSAGE_FIELD]: "busy: the cap on runs at once is reached" });
  }
  o.metrics.answered(started.kind);
  if (started.kind === "started")
    o.log("load started", {
      run: key,
      service: planned.plan.service,
      rps: planned.plan.rps,
      requests: planned.plan.requests,
    });
  // 202: the load goes on for its duration after this answer, so the steps after the check are judged under it.
  json(res, started.kind === "started" ? 202 : 200, started.report);
}

/** The request body as text, or undefined when it passes `max` bytes (read to its end, so the answer arrives). */
async function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= max) chunks.push(chunk as Buffer);
  }
  return size > max ? undefined : Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
