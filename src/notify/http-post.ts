// One JSON POST to a webhook URL through the controller's egress, with the outcome classified for retries; what a
// tenant may read of it is the outcome class, never the destination's status code or words.
import { createHash } from "node:crypto";
import { EGRESS_OUTCOMES } from "../api/constants.ts";
import { parseRetryAfter as parseRetryAfterHeader } from "../kube/retry-after.ts";
import type { Egress, EgressAnswer, Trust } from "../net/egress.ts";
import type { NotificationMessage } from "./message.ts";
import { DeliveryError, type Notifier } from "./notifier.ts";

/** Longest Retry-After honoured; beyond it the destination is treated as unavailable for that long anyway. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** How a notifier reaches its destination: the controller's egress, and who chose the URL. */
export interface EgressRoute {
  egress: Pick<Egress, "send">;
  /** `tenant` for URLs from a Rollout's Secrets, `operator` for the controller's default Slack Secret. */
  trust: Trust;
  /** Whole-exchange timeout of one request (the egress default, 10 s, when unset); a check's own `timeout`. */
  timeoutMs?: number;
}

/**
 * POSTs `body` as JSON to `url` and returns the egress answer: every outcome of the destination resolves; an abort
 * of `signal` rejects with a retryable {@link DeliveryError}. `label` names the destination ("slack") in messages;
 * `headers` are sent in addition to the JSON ones.
 */
export async function postJson(
  route: EgressRoute,
  url: string,
  body: unknown,
  signal: AbortSignal,
  label: string,
  headers: Record<string, string> = {},
): Promise<EgressAnswer> {
  try {
    return await route.egress.send({
      url,
      method: "POST",
      body: JSON.stringify(body),
      headers: { ...headers, "Content-Type": "application/json" },
      signal,
      trust: route.trust,
      viaProxy: true,
      ...(route.timeoutMs !== undefined ? { timeoutMs: route.timeoutMs } : {}),
    });
  } catch {
    throw new DeliveryError(`${label}: aborted`, { retryable: true });
  }
}

/**
 * Classifies an answer: 2xx passes; 429 is retryable after Retry-After; 408, 5xx, timeouts and network failures are
 * retryable; other answers (4xx, 3xx: redirects are not followed), an invalid URL and a policy refusal are permanent.
 * `permanentBodies` marks answers that are permanent whatever the status (Slack's `channel_is_archived`). The error's
 * message — what status and Events show the tenant — is `<label>: <outcome class>`; the status code, the body
 * token and the policy's reason go only into `detail`, for the operator's log.
 */
export function checkAnswer(
  answer: EgressAnswer,
  label: string,
  permanentBodies: ReadonlySet<string> = new Set(),
): void {
  if (answer.outcome === EGRESS_OUTCOMES.ok) return;
  const message = `${label}: ${answer.outcome}`;
  const code = answer.body?.trim() ?? "";
  const token = /^[a-z_]{1,64}$/.test(code) ? code : "";
  const detail = [answer.status !== undefined ? `HTTP ${answer.status}` : "", token, answer.detail ?? ""]
    .filter(Boolean)
    .join(" ");
  const fail = (retryable: boolean, extra: { retryAfterMs?: number } = {}) =>
    new DeliveryError(message, {
      retryable,
      ...(answer.status !== undefined ? { status: answer.status } : {}),
      ...(detail ? { detail } : {}),
      ...extra,
    });
  if (answer.status === undefined) {
    const transient =
      answer.outcome === EGRESS_OUTCOMES.timeout || answer.outcome === EGRESS_OUTCOMES.network;
    throw fail(transient);
  }
  if (permanentBodies.has(token)) throw fail(false);
  if (answer.status === 429) {
    const retryAfterMs = parseRetryAfter(answer.retryAfter);
    throw fail(true, retryAfterMs !== undefined ? { retryAfterMs } : {});
  }
  throw fail(answer.status >= 500 || answer.status === 408);
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds, capped; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  return parseRetryAfterHeader(value, now, MAX_RETRY_AFTER_MS);
}

/** A short, secret-free identity of a URL, so lanes and logs can tell destinations apart. */
export function destinationId(kind: string, url: string): string {
  return `${kind}:${createHash("sha256").update(url).digest("hex").slice(0, 12)}`;
}

/**
 * A notifier that POSTs JSON to one URL through the controller's egress. The URL is a credential (a Slack webhook's
 * path is its secret): it stays private, never logged or put into errors, and the destination is named by its hash.
 */
export abstract class UrlNotifier implements Notifier {
  abstract readonly name: string;
  readonly destination: string;
  readonly minIntervalMs: number;
  readonly #url: string;
  readonly #route: EgressRoute;

  /**
   * @param url the webhook URL
   * @param route the controller's egress and who chose the URL
   */
  constructor(kind: string, url: string, route: EgressRoute, minIntervalMs: number) {
    this.#url = url;
    this.#route = route;
    this.destination = destinationId(kind, url);
    this.minIntervalMs = minIntervalMs;
  }

  abstract send(message: NotificationMessage, signal: AbortSignal): Promise<void>;

  /** POSTs `body` and throws a DeliveryError unless it was accepted (see {@link checkAnswer}). */
  protected async post(
    body: unknown,
    signal: AbortSignal,
    options: { headers?: Record<string, string>; permanentBodies?: ReadonlySet<string> } = {},
  ): Promise<void> {
    const answer = await postJson(this.#route, this.#url, body, signal, this.name, options.headers);
    checkAnswer(answer, this.name, options.permanentBodies);
  }

  /** Keeps the URL out of `console.log(notifier)` and JSON dumps. */
  toJSON(): object {
    return { name: this.name, destination: this.destination };
  }
}
