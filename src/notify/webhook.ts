// Generic JSON webhook notifier: POSTs the notification as a versioned JSON document with an Idempotency-Key.
import { type EgressRoute, UrlNotifier } from "./http-post.ts";
import type { NotificationMessage } from "./message.ts";

/** Header naming the notification; the same on every resend (retries, controller restarts). */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

/**
 * `<namespace>/<name>/<key>`: the same value for every attempt to send one notification, across retries and
 * controller restarts, and different for each notification (the key holds revision, rollout attempt, event and
 * discriminator). A receiver that drops requests whose Idempotency-Key it has already accepted sees each
 * notification exactly once. Only DNS-label names and `[A-Za-z0-9:./-]` appear, so it is a valid header value.
 */
export function idempotencyKey(m: NotificationMessage): string {
  return `${m.rollout.namespace}/${m.rollout.name}/${m.key}`;
}

/** Sends to one JSON webhook. */
export class WebhookNotifier extends UrlNotifier {
  readonly name = "webhook";

  /**
   * @param url the webhook URL (treated as a credential: never logged or put into errors)
   * @param route the controller's egress and who chose the URL
   */
  constructor(url: string, route: EgressRoute, options: { minIntervalMs?: number } = {}) {
    super("webhook", url, route, options.minIntervalMs ?? 0);
  }

  async send(message: NotificationMessage, signal: AbortSignal): Promise<void> {
    await this.post(buildWebhookPayload(message), signal, {
      headers: { [IDEMPOTENCY_HEADER]: idempotencyKey(message) },
    });
  }
}

/** The webhook body: the message plus an apiVersion/kind so receivers can evolve with it. */
export function buildWebhookPayload(m: NotificationMessage): Record<string, unknown> {
  return { apiVersion: "vireo.dev/v1alpha1", kind: "RolloutNotification", ...m };
}
