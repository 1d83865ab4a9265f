// e2e: notifications configured through real Secrets, delivered to a loopback Slack-like receiver.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import { RolloutSpecSchema } from "../src/api/rollout-schema.ts";
import type { ReadSecret } from "../src/api/secret-ref.ts";
import { loopbackEgress } from "../src/net/testing/loopback.ts";
import { NotificationDelivery } from "../src/notify/delivery.ts";
import { resolveNotifications } from "../src/notify/from-spec.ts";
import { buildMessage, type NotifyAction } from "../src/notify/message.ts";
import { type Receiver, startReceiver, waitUntil } from "../src/notify/testing/receiver.ts";
import { createLogger } from "../src/telemetry/logger.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";

const NS = "notify";
const SECRET_PATH = "/services/T0E2E/B0E2E/e2eSECRETwebhookToken42";

describe("notifications from real Secrets", () => {
  let cluster: Cluster;
  let rx: Receiver;
  let readSecret: ReadSecret;

  before(async () => {
    cluster = await startCluster({ prometheus: false });
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    // The first Slack request is rate limited, like a busy webhook.
    rx = await startReceiver((r, i) =>
      r.path.startsWith("/services") && i === 0 ? { status: 429, headers: { "retry-after": "1" } } : {},
    );
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: "slack", labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
        stringData: { url: `${rx.url}${SECRET_PATH}` },
      },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: "hook", labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
        stringData: { endpoint: `${rx.url}/hook` },
      },
    });
    // What the controller's adapter does: read the Secret, base64-decode its data, keep its labels.
    readSecret = async (namespace, name) => {
      const s = await core.readNamespacedSecret({ namespace, name }).catch(() => undefined);
      if (!s) return undefined;
      const data = Object.fromEntries(
        Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
      );
      return { data, labels: s.metadata?.labels ?? {} };
    };
  });

  after(async () => {
    await rx?.close();
    await cluster?.stop();
  });

  it("delivers each event once, in order, to Slack and the webhook, honouring filters and 429", async () => {
    const spec = RolloutSpecSchema.parse({
      targetRef: { name: "checkout" },
      service: { port: 80 },
      provider: "linkerd",
      strategy: { canary: { stepWeight: 10 } },
      notifications: {
        slack: { secretRef: { name: "slack" } },
        webhook: { secretRef: { name: "hook", key: "endpoint" } },
        minSeverity: "info",
        events: ["Started", "StepAdvanced", "RolledBack"],
      },
    });
    const { notifiers, filter } = await resolveNotifications(spec, NS, readSecret, loopbackEgress());
    let logs = "";
    const logger = createLogger({
      level: "debug",
      destination: new Writable({
        write(c, _e, cb) {
          logs += String(c);
          cb();
        },
      }),
    });
    const delivered: string[] = [];
    const d = new NotificationDelivery({
      logger,
      backoffBaseMs: 50,
      onDelivered: (_ref, key, dest) => delivered.push(`${dest} ${key}`),
    });
    const ref = { namespace: NS, name: "checkout", uid: "e2e-uid" };
    const action = (event: NotifyAction["event"], key: string): NotifyAction => ({
      type: "Notify",
      event,
      severity: event === "RolledBack" ? "error" : "info",
      message: `${event} ${key}`,
      key,
      weights: { primary: 90, canary: 10 },
      revision: "abc123",
    });
    const events = [
      action("Started", "abc123/Started"),
      action("StepAdvanced", "abc123/StepAdvanced/1"),
      action("Paused", "abc123/Paused"),
      action("StepAdvanced", "abc123/StepAdvanced/1"),
      action("RolledBack", "abc123/RolledBack"),
    ];
    for (const a of events) for (const n of notifiers) d.enqueue(n, buildMessage(a, ref), filter);
    await waitUntil(() => delivered.length === 6, 10_000, "six deliveries");
    const keysAt = (prefix: string) =>
      rx.received.filter((r) => r.path.startsWith(prefix)).map((r) => (r.body as { text: string }).text);
    const slackTexts = keysAt("/services");
    assert.equal(slackTexts.length, 4, "3 messages + one 429'd attempt");
    assert.deepEqual(
      slackTexts.slice(1).map((t) => t.split(":")[0]),
      ["Started", "StepAdvanced", "RolledBack"],
    );
    // Slack's ~1 message/s per webhook: requests to it are spaced by at least a second (Retry-After included).
    const slackAt = rx.received.filter((r) => r.path.startsWith("/services")).map((r) => r.at);
    for (let i = 1; i < slackAt.length; i++) {
      const gap = (slackAt[i] ?? 0) - (slackAt[i - 1] ?? 0);
      assert.ok(gap >= 990, `Slack requests ${i - 1}→${i} only ${gap.toFixed(0)} ms apart`);
    }
    const hook = rx.received.filter((r) => r.path === "/hook").map((r) => (r.body as { key: string }).key);
    assert.deepEqual(hook, ["abc123/Started", "abc123/StepAdvanced/1", "abc123/RolledBack"]);
    const { undelivered } = await d.drain(1000);
    assert.equal(undelivered, 0);
    assert.ok(!logs.includes("SECRET") && !logs.includes(SECRET_PATH), logs);
  });
});
