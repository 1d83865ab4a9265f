// Slack incoming-webhook notifier: Block Kit message with a severity-coloured attachment (api.slack.com, "Sending
// messages using incoming webhooks"; its error strings and rate limit decide what is retried).
import { type EgressRoute, UrlNotifier } from "./http-post.ts";
import { formatNumber, type NotificationMessage, type Severity } from "./message.ts";

/** Slack answers that mean the webhook is gone for good, whatever the status code. */
const PERMANENT = new Set([
  "no_service",
  "no_service_id",
  "no_team",
  "invalid_token",
  "team_disabled",
  "channel_is_archived",
  "channel_not_found",
  "no_active_hooks",
  "action_prohibited",
]);

const COLOR: Record<Severity, "good" | "warning" | "danger"> = {
  info: "good",
  warning: "warning",
  error: "danger",
};

/**
 * Sends to one Slack incoming webhook. Slack allows about one message per second per webhook, and cannot
 * de-duplicate: a message resent after a controller crash (between delivery and the status write) shows twice.
 */
export class SlackNotifier extends UrlNotifier {
  readonly name = "slack";

  /**
   * @param url the webhook URL (a credential: it is never logged or put into errors)
   * @param route the controller's egress and who chose the URL
   */
  constructor(url: string, route: EgressRoute, options: { minIntervalMs?: number } = {}) {
    super("slack", url, route, options.minIntervalMs ?? 1000);
  }

  async send(message: NotificationMessage, signal: AbortSignal): Promise<void> {
    await this.post(buildSlackPayload(message), signal, { permanentBodies: PERMANENT });
  }
}

/** Slack payload: fallback `text`, a header and summary as blocks, details in an attachment coloured by severity. */
export function buildSlackPayload(m: NotificationMessage): Record<string, unknown> {
  const who = `${m.rollout.namespace}/${m.rollout.name}`;
  const fallback = `${m.event}: ${who} (revision ${m.revision}, canary ${m.weights.canary}%): ${m.text}`;
  const fields = [
    field("Rollout", code(m.rollout.name)),
    field("Namespace", code(m.rollout.namespace)),
    field("Revision", code(m.revision)),
    field("Weights", `primary ${m.weights.primary}% / canary ${m.weights.canary}%`),
  ];
  const details: Record<string, unknown>[] = [{ type: "section", fields }];
  if (m.failing) {
    const f = m.failing;
    const value =
      f.primaryValue !== undefined
        ? `${formatNumber(f.value)} (primary ${formatNumber(f.primaryValue)})`
        : formatNumber(f.value);
    details.push({
      type: "section",
      fields: [
        field("Failing metric", code(f.metric)),
        field("Verdict", mrkdwnEscape(f.verdict)),
        field("Value", mrkdwnEscape(value)),
        field("Threshold", mrkdwnEscape(f.threshold || "none")),
      ],
      ...(f.message ? { text: { type: "mrkdwn", text: clip(mrkdwnEscape(f.message), 2900) } } : {}),
    });
  }
  details.push({ type: "context", elements: [{ type: "mrkdwn", text: `Vireo · ${mrkdwnEscape(m.at)}` }] });
  return {
    text: clip(mrkdwnEscape(fallback), 2900),
    blocks: [
      { type: "header", text: { type: "plain_text", text: clip(`${m.event}: ${who}`, 150), emoji: false } },
      { type: "section", text: { type: "mrkdwn", text: clip(mrkdwnEscape(m.text) || "_no message_", 2900) } },
    ],
    attachments: [{ color: COLOR[m.severity], fallback: clip(fallback, 2900), blocks: details }],
  };
}

function field(title: string, value: string): { type: "mrkdwn"; text: string } {
  return { type: "mrkdwn", text: clip(`*${title}*\n${value}`, 1900) };
}

/** Slack's mrkdwn needs &, < and > escaped; otherwise `<!channel>` in a message would ping everyone. */
function mrkdwnEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function code(s: string): string {
  return `\`${mrkdwnEscape(s).replace(/`/g, "'")}\``;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
