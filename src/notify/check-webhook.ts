// One run of a webhook check: POSTs Flagger's payload with a per-run Idempotency-Key, retries with backoff on what
// may pass on a second try, and says pass or fail with an outcome class (never the response body).
import { createHash } from "node:crypto";
import { type WebhookCheckSpec, webhookRetryDelayMs } from "../api/check-schema.ts";
import { parseDuration } from "../api/duration.ts";
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
  for (let n = 1; n <= tries; n++) {
    if (n > 1) await sleep(webhookRetryDelayMs(n - 1), signal);
    if (signal.aborted) return { passed: false, message: "cancelled" };
    try {
      const res = await postJson(
        { ...route, timeoutMs: parseDuration(hook.timeout) },
        url,
        payload,
        signal,
        "check webhook",
        { "Idempotency-Key": key },
      );
      checkAnswer(res, "check webhook");
      return { passed: true, message: `check webhook: ${res.outcome}` };
    } catch (err) {
      if (!(err instanceof DeliveryError)) throw err;
      last = err.message;
      if (!err.retryable) break;
    }
  }
  return { passed: false, message: tries > 1 ? `${last} (after ${tries} tries)` : last };
}
