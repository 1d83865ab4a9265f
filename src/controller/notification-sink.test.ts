// The sink reports settled keys until acknowledged, and records permanent failures, against loopback receivers.

import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { ALLOW_REFERENCE_LABEL } from "../api/constants.ts";
import type { Rollout, RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { type Receiver, startReceiver, waitUntil } from "../notify/testing/receiver.ts";
import { createLogger } from "../telemetry/logger.ts";
import { VireoMetrics } from "../telemetry/metrics.ts";
import { createNotificationSink, type DeliveringSink } from "./notification-sink.ts";
import type { PendingNotification } from "./outbox.ts";

const rollout = {
  apiVersion: "vireo.dev/v1alpha1",
  kind: "Rollout",
  metadata: { namespace: "shop", name: "checkout", uid: "u1", generation: 1 },
} as unknown as Rollout;
const n = (key: string): PendingNotification => ({
  key,
  event: "StepAdvanced",
  severity: "info",
  message: `step ${key}`,
  revision: "r1",
  canaryWeight: 10,
});

/**
 * A sink whose Secrets `slack` and `hook` point at the given URLs (edit `urls` to rotate one); `reads` counts the
 * Secret reads.
 */
function sink(urls: Record<string, string>, wakes: string[], reads: string[] = []): DeliveringSink {
  const clients = {
    request: async ({ path }: { path: string }) => {
      const name = path.split("/").at(-1)!;
      reads.push(name);
      // Opted in: a Rollout may only name Secrets that carry the label (tenant safety).
      return {
        metadata: { labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
        data: { url: Buffer.from(urls[name] ?? "").toString("base64") },
      };
    },
  } as unknown as KubeClients;
  return createNotificationSink({
    egress: loopbackEgress(),
    clients,
    log: createLogger({ level: "error", destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    metrics: new VireoMetrics(),
    onDelivered: (ns, name) => wakes.push(`${ns}/${name}`),
    delivery: { backoffBaseMs: 10, backoffMaxMs: 20 },
  });
}
const spec = (which: ("slack" | "webhook")[]) =>
  ({
    notifications: {
      ...(which.includes("slack") ? { slack: { secretRef: { name: "slack" } } } : {}),
      ...(which.includes("webhook") ? { webhook: { secretRef: { name: "hook" } } } : {}),
    },
  }) as unknown as RolloutSpec;

describe("notification sink", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const receiver = async (reply?: Parameters<typeof startReceiver>[0]): Promise<Receiver> => {
    const rx = await startReceiver(reply);
    cleanup.push(() => rx.close());
    return rx;
  };

  it("reports a delivered key until acknowledged, and reports it again instead of resending when status lost it", async () => {
    const rx = await receiver();
    const wakes: string[] = [];
    const s = sink({ hook: `${rx.url}/hook` }, wakes);
    cleanup.push(() => s.drain(100));
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/1"));
    await waitUntil(() => s.delivered("shop", "checkout").length === 1, 5000, "delivered");
    assert.deepEqual(wakes, ["shop/checkout"], "the Rollout is woken to record it");
    // Peeking does not consume: a status write that fails leaves it reported to the next reconcile.
    assert.deepEqual(s.delivered("shop", "checkout"), [{ key: "r1/a/StepAdvanced/1" }]);
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/1"));
    s.acknowledge("shop", "checkout", ["r1/a/StepAdvanced/1"]);
    assert.deepEqual(s.delivered("shop", "checkout"), []);
    // Pending again after acknowledgement (a write from an older read): reported again, not sent again.
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/1"));
    assert.deepEqual(s.delivered("shop", "checkout"), [{ key: "r1/a/StepAdvanced/1" }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(rx.received.length, 1);
    assert.equal(rx.received[0]?.headers["idempotency-key"], "shop/checkout/r1/a/StepAdvanced/1");
  });

  it("settles a key as failed, with the reason, once every destination is done with it", async () => {
    const slack = await receiver();
    const hook = await receiver(() => ({ status: 404 }));
    const wakes: string[] = [];
    const s = sink({ slack: `${slack.url}/slack`, hook: `${hook.url}/hook` }, wakes);
    cleanup.push(() => s.drain(100));
    s.submit(rollout, spec(["slack", "webhook"]), n("r1/a/StepAdvanced/2"));
    await waitUntil(() => s.delivered("shop", "checkout").length === 1, 5000, "settled");
    assert.equal(slack.received.length, 1, "Slack got it");
    assert.deepEqual(s.delivered("shop", "checkout"), [
      { key: "r1/a/StepAdvanced/2", failure: "webhook: 4xx" },
    ]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hook.received.length, 1, "a 404 is not retried");
    assert.equal(wakes.length, 1);
  });

  it("sends to the rotated Secret's new URL when the old one rejects the message for good, and records it delivered", async () => {
    const revoked = await receiver(() => ({ status: 404, body: "no_service" }));
    const fresh = await receiver();
    const urls = { hook: `${revoked.url}/hook`, slack: `${revoked.url}/slack` };
    const reads: string[] = [];
    const s = sink(urls, [], reads);
    cleanup.push(() => s.drain(100));
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/1"));
    await waitUntil(() => s.delivered("shop", "checkout").length === 1, 5000, "first delivered");
    assert.deepEqual(s.delivered("shop", "checkout"), [
      { key: "r1/a/StepAdvanced/1", failure: "webhook: 4xx" },
    ]);
    assert.deepEqual(
      reads,
      ["hook", "hook"],
      "the Secret was read again before the message was marked failed",
    );
    // Rotated within the cache's minute: the revoked URL still answers 404, the Secret now names the new receiver.
    urls.hook = `${fresh.url}/rotated`;
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/2"));
    await waitUntil(() => s.delivered("shop", "checkout").length === 2, 5000, "second settled");
    assert.deepEqual(
      s.delivered("shop", "checkout")[1],
      { key: "r1/a/StepAdvanced/2" },
      "delivered, not failed",
    );
    assert.deepEqual(
      fresh.received.map((r) => `${r.path} ${r.headers["idempotency-key"]}`),
      ["/rotated shop/checkout/r1/a/StepAdvanced/2"],
    );
    assert.equal(revoked.received.length, 2, "one attempt per message at the revoked URL, none retried");
    // The refreshed destinations are cached: the next message goes straight to the new URL.
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/3"));
    await waitUntil(() => fresh.received.length === 2, 5000, "third delivered");
    assert.equal(revoked.received.length, 2);
  });

  it("forgets a deleted Rollout's destinations and outcomes", async () => {
    const rx = await receiver();
    const reads: string[] = [];
    const s = sink({ hook: `${rx.url}/hook` }, [], reads);
    cleanup.push(() => s.drain(100));
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/1"));
    await waitUntil(() => s.delivered("shop", "checkout").length === 1, 5000, "delivered");
    s.forget("shop", "checkout");
    assert.deepEqual(
      s.delivered("shop", "checkout"),
      [],
      "nothing left to record for a Rollout that is gone",
    );
    s.submit(rollout, spec(["webhook"]), n("r1/a/StepAdvanced/2"));
    await waitUntil(() => rx.received.length === 2, 5000, "second delivered");
    assert.deepEqual(
      reads,
      ["hook", "hook"],
      "its Secret is read again, not served from a cache of the deleted one",
    );
  });
});
