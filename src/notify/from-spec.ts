// Builds a Rollout's notifiers from spec.notifications, reading webhook URLs from Secrets.
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { ReadSecret } from "../api/secret-ref.ts";
import type { NotificationFilter } from "./filter.ts";
import type { EgressRoute } from "./http-post.ts";
import type { Notifier } from "./notifier.ts";
import { readSecretUrl, SecretUrlError } from "./secret-url.ts";
import { SlackNotifier } from "./slack.ts";
import { WebhookNotifier } from "./webhook.ts";

/** A Rollout's notification setup cannot be used; the message names Secrets and keys, never values. */
export class NotificationConfigError extends Error {
  override name = "NotificationConfigError";
}

/** The notifiers of a Rollout and the filter its messages must pass. */
export interface ResolvedNotifications {
  notifiers: Notifier[];
  filter: NotificationFilter;
}

/**
 * Resolves `spec.notifications` of a Rollout in `namespace`: a {@link SlackNotifier} and/or a
 * {@link WebhookNotifier} whose URLs come from the referenced Secret keys (default key `url`), plus the
 * event/severity filter. No notifications configured → no notifiers. Each Secret must carry the label
 * `vireo.dev/allow-reference: "true"`. The URLs are the tenant's choice: they go out through `egress` under its
 * address policy.
 *
 * @throws NotificationConfigError when a Secret or key is missing, the Secret lacks the opt-in label, or the URL
 *   is not http(s).
 */
export async function resolveNotifications(
  spec: RolloutSpec,
  namespace: string,
  readSecret: ReadSecret,
  egress: EgressRoute["egress"],
): Promise<ResolvedNotifications> {
  const n = spec.notifications;
  if (!n) return { notifiers: [], filter: {} };
  const route: EgressRoute = { egress, trust: "tenant" };
  const notifiers: Notifier[] = [];
  if (n.slack)
    notifiers.push(new SlackNotifier(await readUrl(namespace, n.slack.secretRef, readSecret), route));
  if (n.webhook)
    notifiers.push(new WebhookNotifier(await readUrl(namespace, n.webhook.secretRef, readSecret), route));
  return {
    notifiers,
    filter: { ...(n.events ? { events: n.events } : {}), minSeverity: n.minSeverity },
  };
}

/** {@link readSecretUrl}, its refusals as {@link NotificationConfigError}s. */
async function readUrl(
  namespace: string,
  ref: { name: string; key?: string | undefined },
  readSecret: ReadSecret,
): Promise<string> {
  try {
    return await readSecretUrl(namespace, ref, readSecret);
  } catch (err) {
    if (err instanceof SecretUrlError) throw new NotificationConfigError(err.message);
    throw err;
  }
}
