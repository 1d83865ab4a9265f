// One JSON POST to a webhook URL, with the outcome classified for retries and every error free of the URL.
import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import axios from "axios";
import { parseRetryAfter as parseRetryAfterHeader } from "../kube/retry-after.ts";
import type { NotificationMessage } from "./message.ts";
import { DeliveryError, type Notifier } from "./notifier.ts";

// Shared keep-alive agents: one TLS handshake per destination instead of one per message.
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 4 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 4 });

/** Longest Retry-After honoured; beyond it the destination is treated as unavailable for that long anyway. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** A plain answer from the destination. */
export interface PostResult {
  status: number;
  /** Response body, at most 256 characters. */
  body: string;
  /** The Retry-After header, if any. */
  retryAfter?: string;
}

/**
 * POSTs `body` as JSON to `url`. Resolves for any HTTP answer; rejects only with a {@link DeliveryError} for
 * transport failures (retryable) or a malformed URL (not retryable). `label` names the destination in
 * messages (e.g. "slack"); the URL never appears in an error. `headers` are sent in addition to the JSON ones.
 */
export async function postJson(
  url: string,
  body: unknown,
  signal: AbortSignal,
  label: string,
  headers: Record<string, string> = {},
): Promise<PostResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new DeliveryError(`${label} URL is not a valid URL`, { retryable: false });
  }
  if (target.protocol !== "https:" && target.protocol !== "http:") {
    throw new DeliveryError(`${label} URL must be http(s)`, { retryable: false });
  }
  try {
    const res = await axios.post<string>(target.href, JSON.stringify(body), {
      signal,
      headers: { ...headers, "Content-Type": "application/json", "User-Agent": "vireo" },
      httpAgent,
      httpsAgent,
      responseType: "text",
      transformResponse: [(d: unknown) => d],
      validateStatus: () => true,
      // Redirects could leak the payload elsewhere; webhooks answer directly.
      maxRedirects: 0,
      maxContentLength: 64 * 1024,
    });
    const retryAfter = res.headers["retry-after"];
    return {
      status: res.status,
      body: String(res.data ?? "").slice(0, 256),
      ...(typeof retryAfter === "string" ? { retryAfter } : {}),
    };
  } catch (err) {
    // Never rethrow the axios error: its config holds the full URL (which is the credential for webhooks).
    if (signal.aborted) {
      throw new DeliveryError(`${label} request aborted (${reasonText(signal.reason)})`, { retryable: true });
    }
    const code = (err as { code?: unknown }).code;
    throw new DeliveryError(
      `${label} request failed (${typeof code === "string" ? code : "network error"})`,
      {
        retryable: true,
      },
    );
  }
}

/**
 * Classifies an HTTP answer: 2xx passes; 429 is retryable after Retry-After; 408 and 5xx are retryable;
 * other 4xx are permanent. `permanentBodies` marks answers that are permanent whatever the status.
 */
export function checkAnswer(
  res: PostResult,
  label: string,
  permanentBodies: ReadonlySet<string> = new Set(),
): void {
  if (res.status >= 200 && res.status < 300) return;
  const code = res.body.trim();
  // Only echo short machine-readable bodies (Slack's `channel_not_found`); anything else may reflect input.
  const detail = /^[a-z_]{1,64}$/.test(code) ? `: ${code}` : "";
  const message = `${label} answered HTTP ${res.status}${detail}`;
  if (permanentBodies.has(code)) throw new DeliveryError(message, { retryable: false, status: res.status });
  if (res.status === 429) {
    const retryAfterMs = parseRetryAfter(res.retryAfter);
    throw new DeliveryError(message, {
      retryable: true,
      status: 429,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  const retryable = res.status >= 500 || res.status === 408;
  throw new DeliveryError(message, { retryable, status: res.status });
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds, capped; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  return parseRetryAfterHeader(value, now, MAX_RETRY_AFTER_MS);
}

/** A short, secret-free identity of a URL, so lanes and logs can tell destinations apart. */
export function destinationId(kind: string, url: string): string {
  return `${kind}:${createHash("sha256").update(url).digest("hex").slice(0, 12)}`;
}

function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : "aborted";
}

/**
 * A notifier that POSTs JSON to one URL. The URL is a credential (a Slack webhook's path is its secret): it stays
 * private, never logged or put into errors, and the destination is named by its hash.
 */
export abstract class UrlNotifier implements Notifier {
  abstract readonly name: string;
  readonly destination: string;
  readonly minIntervalMs: number;
  readonly #url: string;

  constructor(kind: string, url: string, minIntervalMs: number) {
    this.#url = url;
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
    const res = await postJson(this.#url, body, signal, this.name, options.headers);
    checkAnswer(res, this.name, options.permanentBodies);
  }

  /** Keeps the URL out of `console.log(notifier)` and JSON dumps. */
  toJSON(): object {
    return { name: this.name, destination: this.destination };
  }
}
