import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { outcomeOfStatus } from "../net/egress.ts";
import { checkAnswer, parseRetryAfter } from "./http-post.ts";
import { buildMessage, type NotifyAction } from "./message.ts";
import { DeliveryError } from "./notifier.ts";
import { buildSlackPayload } from "./slack.ts";
import { buildWebhookPayload } from "./webhook.ts";

const base: NotifyAction = {
  type: "Notify",
  event: "RolledBack",
  severity: "error",
  message: "canary failed analysis <!channel> & rolled back",
  key: "5d9c/RolledBack",
  weights: { primary: 100, canary: 0 },
  revision: "5d9c",
  failing: {
    metric: "latency",
    verdict: "Fail",
    value: 312.45678,
    primaryValue: 200,
    threshold: "<= 1.2 × primary (240)",
    message: "312.457 exceeds 1.2 × primary 200",
  },
};
const ref = { namespace: "shop", name: "checkout", uid: "u1" };

type Block = { type: string; text?: { text: string }; fields?: { text: string }[] };

describe("buildSlackPayload", () => {
  const p = buildSlackPayload(buildMessage(base, ref, new Date("2026-01-02T03:04:05Z"))) as {
    text: string;
    blocks: Block[];
    attachments: { color: string; fallback: string; blocks: Block[] }[];
  };

  it("has a fallback text, a header naming the event and rollout, and the engine's message", () => {
    assert.match(p.text, /^RolledBack: shop\/checkout \(revision 5d9c, canary 0%\)/);
    assert.deepEqual(p.blocks[0], {
      type: "header",
      text: { type: "plain_text", text: "RolledBack: shop/checkout", emoji: false },
    });
    assert.equal(p.blocks[1]?.text?.text, "canary failed analysis &lt;!channel&gt; &amp; rolled back");
  });

  it("colours by severity and lists rollout, namespace, revision and weights", () => {
    const a = p.attachments[0];
    assert.equal(a?.color, "danger");
    const fields = a?.blocks[0]?.fields?.map((f) => f.text);
    assert.deepEqual(fields, [
      "*Rollout*\n`checkout`",
      "*Namespace*\n`shop`",
      "*Revision*\n`5d9c`",
      "*Weights*\nprimary 100% / canary 0%",
    ]);
    for (const [severity, color] of [
      ["info", "good"],
      ["warning", "warning"],
      ["error", "danger"],
    ] as const) {
      const q = buildSlackPayload(buildMessage({ ...base, severity }, ref)) as {
        attachments: { color: string }[];
      };
      assert.equal(q.attachments[0]?.color, color);
    }
  });

  it("shows the failing metric with its value, the primary's value and the threshold", () => {
    const failing = p.attachments[0]?.blocks[1];
    assert.deepEqual(
      failing?.fields?.map((f) => f.text),
      [
        "*Failing metric*\n`latency`",
        "*Verdict*\nFail",
        "*Value*\n312.457 (primary 200)",
        "*Threshold*\n&lt;= 1.2 × primary (240)",
      ],
    );
    assert.equal(failing?.text?.text, "312.457 exceeds 1.2 × primary 200");
  });

  it("omits the failing section when nothing failed and reports no data as such", () => {
    const { failing: _f, ...rest } = base;
    const q = buildSlackPayload(buildMessage({ ...rest, event: "Promoted", severity: "info" }, ref)) as {
      attachments: { blocks: Block[] }[];
    };
    assert.deepEqual(
      q.attachments[0]?.blocks.map((b) => b.type),
      ["section", "context"],
    );
    const nodata = buildSlackPayload(
      buildMessage({ ...base, failing: { metric: "x", verdict: "Inconclusive", threshold: ">= 99" } }, ref),
    );
    assert.match(JSON.stringify(nodata), /\*Value\*\\nno data/);
  });
});

describe("buildWebhookPayload and buildMessage", () => {
  it("carries the whole message with a versioned kind and a rollout-scoped id", () => {
    const m = buildMessage(base, ref, new Date("2026-01-02T03:04:05Z"));
    assert.equal(m.id, "u1/5d9c/RolledBack");
    assert.equal(
      buildMessage(base, { namespace: "shop", name: "checkout" }).id,
      "shop/checkout/5d9c/RolledBack",
    );
    const w = buildWebhookPayload(m);
    assert.equal(w.apiVersion, "vireo.dev/v1alpha1");
    assert.equal(w.kind, "RolloutNotification");
    assert.deepEqual(w.weights, { primary: 100, canary: 0 });
    assert.equal(w.at, "2026-01-02T03:04:05.000Z");
    assert.equal((w.failing as { value: number }).value, 312.45678);
  });
});

describe("checkAnswer and parseRetryAfter", () => {
  const classify = (status: number, body = "", retryAfter?: string) => {
    try {
      checkAnswer(
        { outcome: outcomeOfStatus(status), status, body, ...(retryAfter ? { retryAfter } : {}) },
        "slack",
        new Set(["channel_is_archived"]),
      );
      return "ok";
    } catch (e) {
      assert.ok(e instanceof DeliveryError);
      return `${e.retryable ? "retry" : "permanent"}${e.retryAfterMs !== undefined ? ` after ${e.retryAfterMs}` : ""}`;
    }
  };
  it("passes 2xx, retries 5xx/408/429, stops on other 4xx and on permanent Slack answers", () => {
    assert.equal(classify(200, "ok"), "ok");
    assert.equal(classify(503), "retry");
    assert.equal(classify(408), "retry");
    assert.equal(classify(429, "", "3"), "retry after 3000");
    assert.equal(classify(400, "invalid_payload"), "permanent");
    assert.equal(classify(404, "channel_not_found"), "permanent");
    assert.equal(classify(500, "channel_is_archived"), "permanent");
  });
  it("parses delta seconds and HTTP dates, ignoring junk", () => {
    assert.equal(parseRetryAfter("1"), 1000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter("99999"), 600_000, "capped at 10 minutes");
  });
  it("tells the tenant only the outcome class; the status and a Slack token go to the operator's detail", () => {
    const thrown = (answer: Parameters<typeof checkAnswer>[0]) => {
      try {
        checkAnswer(answer, "webhook", new Set(["channel_not_found"]));
      } catch (e) {
        assert.ok(e instanceof DeliveryError);
        return e;
      }
      assert.fail("no error");
    };
    const html = thrown({ outcome: "4xx", status: 400, body: "<html>https://hooks.example/secret</html>" });
    assert.equal(html.message, "webhook: 4xx");
    assert.equal(html.detail, "HTTP 400", "free text is not even kept for the log");
    const slack = thrown({ outcome: "4xx", status: 404, body: "channel_not_found" });
    assert.equal(slack.message, "webhook: 4xx");
    assert.equal(slack.detail, "HTTP 404 channel_not_found");
    assert.equal(slack.retryable, false);
    const refused = thrown({ outcome: "refused-by-policy", detail: "127.0.0.1 is loopback" });
    assert.equal(refused.message, "webhook: refused-by-policy");
    assert.equal(refused.retryable, false);
    assert.equal(thrown({ outcome: "network", detail: "ECONNREFUSED" }).message, "webhook: network");
    assert.equal(thrown({ outcome: "network" }).retryable, true);
    assert.equal(thrown({ outcome: "timeout" }).retryable, true);
    assert.equal(thrown({ outcome: "invalid-url" }).retryable, false);
    assert.equal(thrown({ outcome: "3xx", status: 302 }).retryable, false, "redirects are not followed");
  });
});
