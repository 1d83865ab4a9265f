// One run of a webhook check: POSTs Flagger's payload with a per-run Idempotency-Key, retries with backoff on what
// may pass on a second try, and says pass or fail with an outcome class (never the response body).
import { createHash } from "node:crypto";
import { type WebhookCheckSpec, webhookRetryDelayMs } from "../api/check-schema.ts";
import { parseDuration } from "../api/duration.ts";
import { CHECK_MESSAGE_FIELD } from "../api/loadgen.ts";
import type { EgressAnswer } from "../net/egress.ts";
import { sanitizeText } from "../telemetry/sanitize.ts";
import { checkAnswer, type EgressRoute, postJson } from "./http-post.ts";
import { DeliveryError } from "./notifier.ts";

/** What a webhook check is told: Flagger's fields (so its receivers keep working) and Vireo's own. */
export interface CheckPayload {
  name: string;
  namespace: string;
  /** The Rollout's phase. */
  phase: string;
  /** The canary revision (Flagger's checksum). */
  checksum: string;
  metadata: Record<string, string>;
  /** Where the check runs (preRollout, step, prePromotion, …) and which check. */
  point: string;
  check: string;
  /** For point analysis: the analysis tick the run belongs to (one run, one Idempotency-Key per tick). */
  tick?: number;
}

/** How one run ended: passed, and the outcome class status shows. */
export interface CheckOutcome {
  passed: boolean;
  message: string;
}

/**
 * The Idempotency-Key of a run: the same for every try and every controller that makes it (Rollout uid, rollout
 * attempt, place and run attempt), so a receiver can tell a retry from a new run.
 */
export function idempotencyKey(parts: readonly (string | number | undefined)[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);
}

/**
 * Calls the webhook of one run through the controller's egress (as a tenant's URL) until it answers 2xx, answers for
 * good (another 4xx, a redirect, a refusal by the address policy), or its tries run out. A timeout is never a pass;
 * status shows the outcome class only. `sleep` waits between tries (abortable through `signal`).
 */
export async function callCheckWebhook(
  route: EgressRoute,
  url: string,
  hook: WebhookCheckSpec,
  payload: CheckPayload,
  key: string,
  signal: AbortSignal,
  sleep: (ms: number, signal: AbortSignal) => Promise<void>,
): Promise<CheckOutcome> {
  const tries = hook.retries + 1;
  let last = "no answer";
  let made = 0;
  for (let n = 1; n <= tries; n++) {
    if (n > 1) await sleep(webhookRetryDelayMs(n - 1), signal);
    if (signal.aborted) return { passed: false, message: "cancelled" };
    let reason: string | undefined;
    made = n;
    try {
      const res = await postJson(
        { ...route, timeoutMs: parseDuration(hook.timeout) },
        url,
        payload,
        signal,
        "check webhook",
        { "Idempotency-Key": key },
      );
      reason = receiverMessage(res);
      checkAnswer(res, "check webhook");
      return { passed: true, message: `check webhook: ${res.outcome}` };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      last = reason ? `${err.message}: ${reason}` : err.message;
      if (!err.retryable) break;
    }
  }
  // The tries made, not allowed: a refusal that is not retried was one try, whatever `retries` says.
  return { passed: false, message: made > 1 ? `${last} (after ${made} tries)` : last };
}

/** Longest receiver message shown in a check's status. */
const MAX_RECEIVER_MESSAGE = 120;

/**
 * The reason a receiver gave for a refusal, when it opted in by answering JSON with {@link CHECK_MESSAGE_FIELD}
 * (Vireo's load generator does): printable ASCII, URLs and credentials masked, at most 120 characters. Any other body
 * stays out of status, so a URL pointing at some internal service cannot read it into a tenant's status.
 */
export function receiverMessage(answer: EgressAnswer): string | undefined {
  if (answer.status === undefined || answer.status < 300 || !answer.body) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.slice(0, 4096));
  } catch {
    return undefined;
  }
  const text = (parsed as Record<string, unknown> | null)?.[CHECK_MESSAGE_FIELD];
  if (typeof text !== "string") return undefined;
  const clean = sanitizeText(text.replace(/[^\x21-\x7e]+/g, " ").trim());
  if (!clean) return undefined;
  return clean.length > MAX_RECEIVER_MESSAGE ? `${clean.slice(0, MAX_RECEIVER_MESSAGE - 3)}...` : clean;
}
