// Generic JSON webhook notifier: POSTs the notification as a versioned JSON document.
import { checkAnswer, destinationId, postJson } from "./http-post.ts";
import type { NotificationMessage } from "./message.ts";
import type { Notifier } from "./notifier.ts";

/** Sends to one JSON webhook. */
export class WebhookNotifier implements Notifier {
  readonly name = "webhook";
  readonly destination: string;
  readonly minIntervalMs: number;
  readonly #url: string;

  /** @param url the webhook URL (treated as a credential: never logged or put into errors) */
  constructor(url: string, options: { minIntervalMs?: number } = {}) {
    this.#url = url;
    this.destination = destinationId("webhook", url);
    this.minIntervalMs = options.minIntervalMs ?? 0;
  }

  async send(message: NotificationMessage, signal: AbortSignal): Promise<void> {
    const res = await postJson(this.#url, buildWebhookPayload(message), signal, "webhook");
    checkAnswer(res, "webhook");
  }

  /** Keeps the URL out of `console.log(notifier)` and JSON dumps. */
  toJSON(): object {
    return { name: this.name, destination: this.destination };
  }
}

/** The webhook body: the message plus an apiVersion/kind so receivers can evolve with it. */
export function buildWebhookPayload(m: NotificationMessage): Record<string, unknown> {
  return { apiVersion: "vireo.dev/v1alpha1", kind: "RolloutNotification", ...m };
}
