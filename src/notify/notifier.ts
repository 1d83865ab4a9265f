// The notifier port: one destination (a Slack webhook, a JSON webhook) that can send one message.
import type { NotificationMessage } from "./message.ts";

/** A destination for notifications. Implementations must honour `signal` and throw {@link DeliveryError}s. */
export interface Notifier {
  /** Kind of destination ("slack", "webhook"): low-cardinality, used as the metrics label and in logs. */
  readonly name: string;
  /**
   * Identity of the destination without secrets (e.g. `slack:3fa9c1e07b2d`, a hash of the URL). Messages to
   * the same destination share one queue and one in-flight request.
   */
  readonly destination: string;
  /** Least time between two requests to this destination (Slack: about one message per second). */
  readonly minIntervalMs?: number;
  /** Sends one message; resolves when the destination accepted it. */
  send(message: NotificationMessage, signal: AbortSignal): Promise<void>;
}

/** Why a send failed, and whether trying again can help. Messages never contain URLs or tokens. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  /** True for network errors, timeouts, 5xx and 429. */
  readonly retryable: boolean;
  /** Wait at least this long before retrying (from a 429's Retry-After). */
  readonly retryAfterMs?: number;
  /** HTTP status, when the destination answered. */
  readonly status?: number;
  /**
   * For the operator's log only (HTTP status, a Slack error token, why the egress policy refused): never put into
   * status or Events, where the tenant who chose the URL would read what the destination said.
   */
  readonly detail?: string;

  constructor(
    message: string,
    opts: { retryable: boolean; retryAfterMs?: number; status?: number; detail?: string },
  ) {
    super(message);
    this.retryable = opts.retryable;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.detail !== undefined) this.detail = opts.detail;
  }
}
