import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALLOW_REFERENCE_LABEL } from "../api/constants.ts";
import { type RolloutSpecInput, RolloutSpecSchema } from "../api/rollout-schema.ts";
import type { ReadSecret } from "../api/secret-ref.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { NotificationConfigError, resolveNotifications } from "./from-spec.ts";

const EGRESS = loopbackEgress();

const HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX";
const spec = (notifications?: RolloutSpecInput["notifications"]) =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "istio",
    strategy: { canary: { stepWeight: 10 } },
    ...(notifications ? { notifications } : {}),
  });
const secrets: Record<string, Record<string, string>> = {
  "shop/slack": { url: `${HOOK}\n` },
  "shop/hook": { endpoint: "http://receiver.shop:8080/hook" },
  "shop/bad": { url: "ftp://x" },
};
const OPTED_IN = { [ALLOW_REFERENCE_LABEL]: "true" };
const read: ReadSecret = async (ns, name) => {
  const data = secrets[`${ns}/${name}`];
  if (data) return { data, labels: OPTED_IN };
  // A Secret of the namespace that never opted in, holding a URL the controller would otherwise post to.
  if (name === "private") return { data: { url: "https://internal.example/hook" }, labels: {} };
  return undefined;
};

describe("resolveNotifications", () => {
  it("returns no notifiers when nothing is configured", async () => {
    assert.deepEqual(await resolveNotifications(spec(), "shop", read, EGRESS), { notifiers: [], filter: {} });
  });

  it("builds Slack and webhook notifiers from Secret keys, with the filter", async () => {
    const r = await resolveNotifications(
      spec({
        slack: { secretRef: { name: "slack" } },
        webhook: { secretRef: { name: "hook", key: "endpoint" } },
        events: ["RolledBack"],
        minSeverity: "warning",
      }),
      "shop",
      read,
      EGRESS,
    );
    assert.deepEqual(
      r.notifiers.map((n) => n.name),
      ["slack", "webhook"],
    );
    assert.match(r.notifiers[0]?.destination ?? "", /^slack:[0-9a-f]{12}$/);
    assert.deepEqual(r.filter, { events: ["RolledBack"], minSeverity: "warning" });
    assert.ok(!JSON.stringify(r).includes("hooks.slack.com"), "URLs stay private");
  });

  it("names missing Secrets and keys, and rejects non-http URLs, without echoing values", async () => {
    await assert.rejects(
      resolveNotifications(spec({ slack: { secretRef: { name: "nope" } } }), "shop", read, EGRESS),
      /Secret shop\/nope not found/,
    );
    await assert.rejects(
      resolveNotifications(spec({ webhook: { secretRef: { name: "hook" } } }), "shop", read, EGRESS),
      /Secret shop\/hook has no key url/,
    );
    await assert.rejects(
      resolveNotifications(spec({ slack: { secretRef: { name: "bad" } } }), "shop", read, EGRESS),
      (e: unknown) =>
        e instanceof Error && /must be an http\(s\) URL/.test(e.message) && !e.message.includes("ftp"),
    );
  });

  it("refuses Slack and webhook Secrets without vireo.dev/allow-reference=true", async () => {
    for (const n of [
      { slack: { secretRef: { name: "private" } } },
      { webhook: { secretRef: { name: "private" } } },
    ]) {
      await assert.rejects(
        resolveNotifications(spec(n), "shop", read, EGRESS),
        (e: unknown) =>
          e instanceof NotificationConfigError &&
          e.message.startsWith("Secret shop/private lacks label vireo.dev/allow-reference=true") &&
          !e.message.includes("internal.example"),
      );
    }
  });
});
