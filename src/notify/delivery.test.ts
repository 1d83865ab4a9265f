import assert from "node:assert/strict";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { inspect } from "node:util";
import { FakeClock } from "../kube/testing/fake-clock.ts";
import { loopbackEgress } from "../net/testing/loopback.ts";
import { createLogger } from "../telemetry/logger.ts";
import { type DeliveryMetrics, type DeliveryOutcome, NotificationDelivery } from "./delivery.ts";
import type { EgressRoute } from "./http-post.ts";
import { buildMessage, type NotificationMessage, type NotifyAction, type RolloutRef } from "./message.ts";
import { DeliveryError, type Notifier } from "./notifier.ts";
import { SlackNotifier } from "./slack.ts";
import { startReceiver, waitUntil } from "./testing/receiver.ts";
import { WebhookNotifier } from "./webhook.ts";

const ROUTE: EgressRoute = { egress: loopbackEgress(), trust: "tenant" };

const REF: RolloutRef = { namespace: "shop", name: "checkout", uid: "7c1e" };
const SECRET_PATH = "/services/T0SECRET01/B0SECRET02/abcdefSECRETtoken123456";

function action(key: string, over: Partial<NotifyAction> = {}): NotifyAction {
  return {
    type: "Notify",
    event: "StepAdvanced",
    severity: "info",
    message: `step ${key}`,
    key,
    weights: { primary: 90, canary: 10 },
    revision: "5d9c7b6f4",
    ...over,
  };
}
const msg = (key: string, over?: Partial<NotifyAction>) => buildMessage(action(key, over), REF);

/** Counts outcomes per destination. */
function counters(): DeliveryMetrics & { get(o: DeliveryOutcome, d?: string): number } {
  const m = new Map<string, number>();
  return {
    inc: (d, o) => m.set(`${d}/${o}`, (m.get(`${d}/${o}`) ?? 0) + 1),
    get: (o, d = "webhook") => m.get(`${d}/${o}`) ?? 0,
  };
}

/** A pino logger (the production one, with its redaction) writing into a string. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; output: () => string } {
  let out = "";
  const destination = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), output: () => out };
}

const fast = { backoffBaseMs: 20, backoffMaxMs: 100, minIntervalMs: 0 };

describe("NotificationDelivery against a loopback receiver", () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const track = <T extends { close(): Promise<void> } | NotificationDelivery>(x: T): T => {
    cleanup.push(() => (x instanceof NotificationDelivery ? x.drain(100) : x.close()));
    return x;
  };

  it("delivers a Slack message (200), records it and counts it sent", async () => {
    const rx = track(await startReceiver());
    const metrics = counters();
    const delivered: string[] = [];
    const d = track(
      new NotificationDelivery({
        ...fast,
        metrics,
        onDelivered: (ref, key, dest) => delivered.push(`${ref.namespace}/${ref.name} ${key} ${dest}`),
      }),
    );
    const m = msg("rev1/AnalysisFailed", {
      event: "AnalysisFailed",
      severity: "error",
      failing: {
        metric: "success",
        verdict: "Fail",
        value: 91.234567,
        threshold: ">= 99",
        message: "91.235 < 99",
      },
    });
    assert.equal(d.enqueue(new SlackNotifier(rx.url + SECRET_PATH, ROUTE), m), "queued");
    await waitUntil(() => delivered.length === 1);
    assert.deepEqual(delivered, ["shop/checkout rev1/AnalysisFailed slack"]);
    assert.equal(metrics.get("sent", "slack"), 1);
    assert.equal(rx.received.length, 1);
    const body = rx.received[0]?.body as { text: string; attachments: { color: string }[] };
    assert.match(body.text, /AnalysisFailed: shop\/checkout/);
    assert.equal(body.attachments[0]?.color, "danger");
    assert.match(JSON.stringify(body), /91\.235.*&gt;= 99/, "value and threshold, mrkdwn-escaped");
    assert.equal(rx.received[0]?.headers["content-type"], "application/json");
  });

  it("retries a 500 and delivers exactly once", async () => {
    const rx = track(await startReceiver((_r, i) => (i === 0 ? { status: 500, body: "oops" } : {})));
    const metrics = counters();
    const d = track(new NotificationDelivery({ ...fast, metrics }));
    d.enqueue(new WebhookNotifier(rx.url, ROUTE), msg("a"));
    await waitUntil(() => metrics.get("sent") === 1);
    assert.equal(rx.received.length, 2);
    assert.equal(metrics.get("retried"), 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(rx.received.length, 2, "nothing more after success");
    assert.deepEqual(
      rx.received.map((r) => (r.body as NotificationMessage).key),
      ["a", "a"],
    );
  });

  it("honours 429 Retry-After: 1 (waits at least a second) and then delivers", async () => {
    const rx = track(
      await startReceiver((_r, i) =>
        i === 0 ? { status: 429, headers: { "retry-after": "1" }, body: "rate_limited" } : {},
      ),
    );
    const metrics = counters();
    const d = track(new NotificationDelivery({ ...fast, metrics }));
    d.enqueue(new SlackNotifier(rx.url + SECRET_PATH, ROUTE, { minIntervalMs: 0 }), msg("a"));
    await waitUntil(() => metrics.get("sent", "slack") === 1, 4000);
    const [first, second] = rx.received;
    assert.ok(first && second);
    const gap = second.at - first.at;
    assert.ok(gap >= 1000, `retried after ${gap.toFixed(0)} ms`);
    assert.ok(gap < 1500, `but not much later: ${gap.toFixed(0)} ms`);
  });

  it("never blocks enqueue on a hanging receiver; times out, retries, drops and counts", async () => {
    const rx = track(await startReceiver(() => ({ hang: true })));
    const metrics = counters();
    const d = track(
      new NotificationDelivery({ ...fast, metrics, capacity: 5, maxAttempts: 3, requestTimeoutMs: 200 }),
    );
    const notifier = new WebhookNotifier(rx.url, ROUTE);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      assert.equal(d.enqueue(notifier, msg(`k${i}`)), "queued");
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const max = latencies.at(-1) ?? 0;
    const p50 = latencies[10] ?? 0;
    console.log(
      `enqueue latency with a hanging receiver: p50 ${p50.toFixed(3)} ms, max ${max.toFixed(3)} ms`,
    );
    // Waiting on the receiver would take the request timeout (200 ms); well below it, whatever the machine's load.
    assert.ok(max < 150, `enqueue took up to ${max.toFixed(1)} ms`);
    // 1 in flight + 5 waiting; the other 14 were dropped oldest-first.
    assert.equal(metrics.get("dropped"), 14);
    assert.equal(d.pending(), 6);
    // The first message: 3 attempts of 200 ms, 2 retries, then given up.
    await waitUntil(() => metrics.get("dropped") === 15, 3000, "first message given up");
    assert.equal(metrics.get("retried"), 2);
    assert.equal(rx.received.length >= 3, true);
    assert.deepEqual(
      rx.received.slice(0, 3).map((r) => (r.body as NotificationMessage).key),
      ["k0", "k0", "k0"],
    );
    // Next in line is the oldest survivor: the newest five were kept, in order.
    await waitUntil(() => rx.received.length >= 4, 1000, "next message attempted");
    assert.equal((rx.received[3]?.body as NotificationMessage | undefined)?.key, "k15");
    const t0 = performance.now();
    const { undelivered } = await d.drain(50);
    assert.ok(performance.now() - t0 < 500, "drain honours its timeout");
    assert.equal(undelivered, 5);
    assert.equal(metrics.get("dropped"), 20);
    assert.equal(metrics.get("sent"), 0);
    assert.equal(d.enqueue(notifier, msg("late")), "closed");
  });

  it("delivers every message exactly once and in order when the receiver is down for a while", async () => {
    const port = await freePort();
    const metrics = counters();
    const d = track(new NotificationDelivery({ ...fast, metrics, maxAttempts: 50 }));
    const notifier = new WebhookNotifier(`http://127.0.0.1:${port}/hook`, ROUTE);
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (const k of keys.slice(0, 5)) d.enqueue(notifier, msg(k));
    await new Promise((r) => setTimeout(r, 300));
    for (const k of keys.slice(5)) d.enqueue(notifier, msg(k));
    assert.equal(metrics.get("sent"), 0);
    assert.ok(metrics.get("retried") >= 2, "retried while down");
    const rx = track(await startReceiver(() => ({}), port));
    await waitUntil(() => metrics.get("sent") === 10, 5000);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      rx.received.map((r) => (r.body as NotificationMessage).key),
      keys,
    );
    assert.equal(metrics.get("dropped"), 0);
  });

  it("de-duplicates by key in memory and via alreadyDelivered; each destination gets its copy", async () => {
    const rx = track(await startReceiver());
    const delivered = new Set<string>(["7c1e rev1/Started"]);
    const d = track(
      new NotificationDelivery({
        ...fast,
        alreadyDelivered: (ref, key, dest) => delivered.has(`${ref.uid} ${key}`) && dest === "webhook",
        onDelivered: (ref, key) => delivered.add(`${ref.uid} ${key}`),
      }),
    );
    const hookA = new WebhookNotifier(`${rx.url}/a`, ROUTE);
    const hookA2 = new WebhookNotifier(`${rx.url}/a`, ROUTE);
    const slack = new SlackNotifier(`${rx.url}/slack`, ROUTE, { minIntervalMs: 0 });
    assert.equal(d.enqueue(hookA, msg("rev1/Started")), "already-delivered");
    assert.equal(d.enqueue(hookA, msg("rev2/Started")), "queued");
    assert.equal(d.enqueue(hookA2, msg("rev2/Started")), "duplicate", "same URL, new notifier object");
    assert.equal(d.enqueue(slack, msg("rev2/Started")), "queued", "another destination");
    await waitUntil(() => rx.received.length === 2);
    assert.equal(d.enqueue(hookA, msg("rev2/Started")), "duplicate", "after delivery too");
    // The same key of a different rollout (uid) is a different message.
    const other = buildMessage(action("rev2/Started"), { ...REF, uid: "other" });
    assert.equal(d.enqueue(hookA, other), "queued");
    await waitUntil(() => rx.received.length === 3);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(rx.received.map((r) => r.path).sort(), ["/a", "/a", "/slack"]);
  });

  it("reports a permanent 4xx once through onFailed and never retries it; 408 and 429 are retried", async () => {
    const answers: Record<string, number[]> = {
      "/gone": [404],
      "/bad": [400],
      "/slow": [408],
      "/busy": [429],
    };
    const rx = track(
      await startReceiver((r) => {
        const left = answers[r.path] ?? [];
        return left.length > 0 ? { status: left.shift()! } : {};
      }),
    );
    const metrics = counters();
    const failed: string[] = [];
    const delivered: string[] = [];
    const d = track(
      new NotificationDelivery({
        ...fast,
        metrics,
        onFailed: (ref, key, dest, reason) => failed.push(`${ref.name} ${key} ${dest} ${reason}`),
        onDelivered: (_ref, key) => delivered.push(key),
      }),
    );
    for (const path of ["/gone", "/bad", "/slow", "/busy"])
      d.enqueue(new WebhookNotifier(`${rx.url}${path}`, ROUTE), msg(`rev1${path}`));
    await waitUntil(() => failed.length === 2 && delivered.length === 2);
    assert.deepEqual(failed.sort(), [
      "checkout rev1/bad webhook webhook: 4xx",
      "checkout rev1/gone webhook webhook: 4xx",
    ]);
    assert.deepEqual(delivered.sort(), ["rev1/busy", "rev1/slow"]);
    assert.equal(metrics.get("failed"), 2);
    assert.equal(metrics.get("retried"), 2, "408 and 429 were tried again");
    // A permanent rejection is remembered: enqueuing it again sends nothing and reports nothing again.
    assert.equal(d.enqueue(new WebhookNotifier(`${rx.url}/gone`, ROUTE), msg("rev1/gone")), "duplicate");
    await new Promise((r) => setTimeout(r, 150));
    const hits = (path: string) => rx.received.filter((r) => r.path === path).length;
    assert.deepEqual(["/gone", "/bad", "/slow", "/busy"].map(hits), [1, 1, 2, 2]);
    assert.equal(failed.length, 2);
  });

  it("asks for the destination again before a permanent rejection is final: a changed one gets the message, at most three times", async () => {
    const rx = track(await startReceiver((r) => (r.path.startsWith("/revoked") ? { status: 404 } : {})));
    const metrics = counters();
    const failed: string[] = [];
    const delivered: string[] = [];
    let rotations = 0;
    let next = "/revoked-0";
    const d = track(
      new NotificationDelivery({
        ...fast,
        metrics,
        onFailed: (_ref, key) => failed.push(key),
        onDelivered: (_ref, key, dest) => delivered.push(`${key} ${dest}`),
        refresh: async (ref, notifier) => {
          assert.equal(ref.name, "checkout");
          assert.equal(notifier.name, "webhook");
          rotations++;
          return new WebhookNotifier(`${rx.url}${next}`, ROUTE);
        },
      }),
    );
    // Rotated once: the second URL takes it.
    next = "/live";
    d.enqueue(new WebhookNotifier(`${rx.url}/revoked-0`, ROUTE), msg("rev1/rotated"));
    await waitUntil(() => delivered.length === 1);
    assert.deepEqual(delivered, ["rev1/rotated webhook"]);
    assert.equal(failed.length, 0);
    assert.equal(metrics.get("failed"), 0);
    // Unchanged: the same destination comes back, so the rejection stands.
    next = "/revoked-1";
    d.enqueue(new WebhookNotifier(`${rx.url}/revoked-1`, ROUTE), msg("rev1/unchanged"));
    await waitUntil(() => failed.length === 1);
    assert.deepEqual(failed, ["rev1/unchanged"]);
    // A Secret that changes on every read to another revoked URL cannot hold a message forever.
    rotations = 0;
    let n = 2;
    const moving = new NotificationDelivery({
      ...fast,
      onFailed: (_ref, key) => failed.push(key),
      refresh: async () => {
        rotations++;
        return new WebhookNotifier(`${rx.url}/revoked-${n++}`, ROUTE);
      },
    });
    track(moving);
    moving.enqueue(new WebhookNotifier(`${rx.url}/revoked-x`, ROUTE), msg("rev1/moving"));
    await waitUntil(() => failed.length === 2);
    assert.equal(rotations, 3, "three moves, then the fourth rejection is final");
    assert.equal(rx.received.filter((r) => r.path.startsWith("/revoked")).length, 2 + 4);
  });

  it("reports an invalid URL through onFailed without any request", async () => {
    const failed: string[] = [];
    const d = track(
      new NotificationDelivery({
        ...fast,
        onFailed: (_r, key, _d, reason) => failed.push(`${key}: ${reason}`),
      }),
    );
    d.enqueue(new WebhookNotifier("ftp://127.0.0.1/hook", ROUTE), msg("rev1/Started"));
    d.enqueue(new SlackNotifier("not a url", ROUTE, { minIntervalMs: 0 }), msg("rev1/Started"));
    await waitUntil(() => failed.length === 2);
    assert.deepEqual(failed.sort(), [
      "rev1/Started: slack: invalid-url",
      "rev1/Started: webhook: invalid-url",
    ]);
  });

  it("sends the same Idempotency-Key on every attempt of a webhook notification, and none to Slack", async () => {
    const rx = track(await startReceiver((_r, i) => (i === 0 ? { status: 503 } : {})));
    const d = track(new NotificationDelivery(fast));
    d.enqueue(new WebhookNotifier(`${rx.url}/hook`, ROUTE), msg("5d9c7b6f4/mi6k9x2c/StepAdvanced/1"));
    await waitUntil(() => rx.received.length === 2);
    const keys = rx.received.map((r) => r.headers["idempotency-key"]);
    assert.deepEqual(keys, [
      "shop/checkout/5d9c7b6f4/mi6k9x2c/StepAdvanced/1",
      "shop/checkout/5d9c7b6f4/mi6k9x2c/StepAdvanced/1",
    ]);
    // Another notification of the same rollout gets another key; a restart (new delivery) resends the same one.
    const again = track(new NotificationDelivery(fast));
    again.enqueue(new WebhookNotifier(`${rx.url}/hook`, ROUTE), msg("5d9c7b6f4/mi6k9x2c/StepAdvanced/1"));
    again.enqueue(new WebhookNotifier(`${rx.url}/hook`, ROUTE), msg("5d9c7b6f4/mi6k9x2c/StepAdvanced/2"));
    again.enqueue(
      new SlackNotifier(`${rx.url}/slack`, ROUTE, { minIntervalMs: 0 }),
      msg("5d9c7b6f4/mi6k9x2c/Promoted/once"),
    );
    await waitUntil(() => rx.received.length === 5);
    assert.deepEqual(
      rx.received
        .slice(2)
        .map((r) => `${r.path} ${r.headers["idempotency-key"]}`)
        .sort(),
      [
        "/hook shop/checkout/5d9c7b6f4/mi6k9x2c/StepAdvanced/1",
        "/hook shop/checkout/5d9c7b6f4/mi6k9x2c/StepAdvanced/2",
        "/slack undefined",
      ],
    );
  });

  it("applies the event and severity filter", async () => {
    const d = track(new NotificationDelivery(fast));
    const n = new WebhookNotifier("http://127.0.0.1:9/", ROUTE);
    assert.equal(d.enqueue(n, msg("a"), { minSeverity: "warning" }), "filtered");
    assert.equal(d.enqueue(n, msg("b", { event: "Promoted" }), { events: ["RolledBack"] }), "filtered");
  });

  it("keeps webhook URLs and tokens out of logs and thrown errors", async () => {
    const rx = track(
      await startReceiver((r) =>
        r.path.includes("dead") ? { status: 404, body: "channel_not_found" } : { hang: true },
      ),
    );
    const { logger, output } = capturedLogger();
    const metrics = counters();
    const d = track(
      new NotificationDelivery({ ...fast, logger, metrics, maxAttempts: 2, requestTimeoutMs: 100 }),
    );
    const refused = await freePort();
    const urls = [
      `${rx.url}/dead${SECRET_PATH}?token=qwertySECRET`,
      `${rx.url}/hang${SECRET_PATH}?token=qwertySECRET`,
      `http://user:hunter2SECRET@127.0.0.1:${refused}${SECRET_PATH}?token=qwertySECRET`,
    ];
    for (const u of urls) {
      d.enqueue(new SlackNotifier(u, ROUTE, { minIntervalMs: 0 }), msg("x"));
      d.enqueue(new WebhookNotifier(u, ROUTE), msg("x"));
    }
    await waitUntil(() => metrics.get("failed", "slack") + metrics.get("dropped", "slack") === 3, 3000);
    await waitUntil(() => metrics.get("failed") + metrics.get("dropped") === 3, 3000);
    const thrown: string[] = [];
    for (const u of urls) {
      const n = new SlackNotifier(u, ROUTE);
      const err = await n.send(msg("y"), AbortSignal.timeout(150)).catch((e: unknown) => e);
      assert.ok(err instanceof DeliveryError, String(err));
      thrown.push(String(err), JSON.stringify(err), inspect(err, { depth: 6 }), String(err.stack));
      thrown.push(inspect(n), JSON.stringify(n));
    }
    const logs = output();
    assert.match(logs, /notification rejected by destination/);
    // The operator's log says what the destination answered; what the tenant reads (onFailed) only its class.
    assert.match(logs, /"message":"slack: 4xx"\},"detail":"HTTP 404 channel_not_found"/);
    assert.match(logs, /notification dropped/);
    for (const text of [logs, ...thrown]) {
      for (const secret of ["SECRET", "hunter2", "qwerty", "/services/", "127.0.0.1:"]) {
        assert.ok(!text.includes(secret), `leaked ${secret}: ${text.slice(0, 2000)}`);
      }
    }
  });
});

describe("NotificationDelivery timing on a fake clock", () => {
  /** A notifier whose answers are scripted and whose calls are stamped with the fake time. */
  function scripted(
    clock: FakeClock,
    answers: (Error | undefined)[],
    minIntervalMs?: number,
  ): Notifier & { calls: number[] } {
    const calls: number[] = [];
    return {
      name: "fake",
      destination: "fake:1",
      ...(minIntervalMs !== undefined ? { minIntervalMs } : {}),
      calls,
      async send() {
        calls.push(clock.now());
        const a = answers.shift();
        if (a) throw a;
      },
    };
  }
  const flush = () => new Promise((r) => setImmediate(r));

  it("backs off exponentially with jitter (equal jitter, random = 0.5 → 0.75 × ceiling)", async () => {
    const clock = new FakeClock(0);
    const retryable = () => new DeliveryError("HTTP 503", { retryable: true });
    const n = scripted(clock, [retryable(), retryable(), retryable(), undefined]);
    const d = new NotificationDelivery({
      clock,
      random: () => 0.5,
      backoffBaseMs: 1000,
      backoffMaxMs: 60_000,
    });
    d.enqueue(n, msg("a"));
    await flush();
    assert.deepEqual(n.calls, [0]);
    await clock.advanceAsync(749);
    assert.deepEqual(n.calls, [0]);
    await clock.advanceAsync(1);
    assert.deepEqual(n.calls, [0, 750]);
    await clock.advanceAsync(1500);
    assert.deepEqual(n.calls, [0, 750, 2250]);
    await clock.advanceAsync(3000);
    assert.deepEqual(n.calls, [0, 750, 2250, 5250]);
    await d.drain(0);
  });

  it("waits exactly Retry-After on a 429, and spaces requests by the destination's minimum interval", async () => {
    const clock = new FakeClock(0);
    const n = scripted(
      clock,
      [new DeliveryError("429", { retryable: true, retryAfterMs: 7000, status: 429 })],
      1000,
    );
    const d = new NotificationDelivery({ clock, random: () => 0 });
    d.enqueue(n, msg("a"));
    d.enqueue(n, msg("b"));
    d.enqueue(n, msg("c"));
    await flush();
    await clock.advanceAsync(6999);
    assert.deepEqual(n.calls, [0]);
    await clock.advanceAsync(1);
    assert.deepEqual(n.calls, [0, 7000]);
    await clock.advanceAsync(999);
    assert.deepEqual(n.calls, [0, 7000]);
    await clock.advanceAsync(1);
    await clock.advanceAsync(1000);
    assert.deepEqual(n.calls, [0, 7000, 8000, 9000]);
    assert.equal(d.pending(), 0);
  });

  it("does not retry a permanent rejection, and times out a notifier that ignores its signal", async () => {
    const clock = new FakeClock(0);
    const metrics = counters();
    const permanent = scripted(clock, [new DeliveryError("HTTP 404", { retryable: false, status: 404 })]);
    const d = new NotificationDelivery({
      clock,
      metrics,
      requestTimeoutMs: 5000,
      maxAttempts: 2,
      backoffBaseMs: 100,
    });
    d.enqueue(permanent, msg("a"));
    await clock.advanceAsync(10_000, 10);
    assert.deepEqual(permanent.calls, [0]);
    assert.equal(metrics.get("failed", "fake"), 1);

    let calls = 0;
    const deaf: Notifier = {
      name: "deaf",
      destination: "deaf:1",
      send: () => {
        calls++;
        return new Promise<void>(() => {});
      },
    };
    d.enqueue(deaf, msg("b"));
    await flush();
    await clock.advanceAsync(5000, 5);
    assert.equal(calls, 1);
    await clock.advanceAsync(200, 4);
    assert.equal(calls, 2, "timed out, retried after the backoff");
    await clock.advanceAsync(5000, 5);
    assert.equal(metrics.get("dropped", "deaf"), 1);
    assert.equal(metrics.get("retried", "deaf"), 1);
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("NotificationDelivery: a destination shared by namespaces (the default Slack)", () => {
  const flush = () => new Promise((r) => setImmediate(r));
  /** A notifier that records which Rollout each accepted message was for. */
  function recording(clock: FakeClock): Notifier & { sent: string[] } {
    const sent: string[] = [];
    return {
      name: "slack",
      destination: "slack:shared",
      minIntervalMs: 1000,
      sent,
      async send(m) {
        sent.push(`${m.rollout.namespace}/${m.key}@${clock.now()}`);
      },
    };
  }
  const from = (namespace: string, key: string) =>
    buildMessage(action(key), { namespace, name: "app", uid: `${namespace}-uid` });

  it("a flooding namespace drops only its own messages and delays another's by at most one of its own", async () => {
    const clock = new FakeClock(0);
    const metrics = counters();
    const d = new NotificationDelivery({ clock, metrics, capacity: 100, namespaceCapacity: 20 });
    const slack = recording(clock);
    for (let i = 0; i < 200; i++) d.enqueue(slack, from("noisy", `n${i}`));
    assert.equal(
      metrics.get("dropped", "slack"),
      200 - 21,
      "the noisy namespace keeps 20 waiting + 1 in flight",
    );
    await flush();
    clock.advance(3000);
    await flush();
    d.enqueue(slack, from("victim", "rolled-back"));
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      await flush();
    }
    const victimAt = slack.sent.findIndex((s) => s.startsWith("victim/"));
    const sentSinceEnqueue = slack.sent.slice(4, victimAt);
    assert.ok(victimAt >= 0, slack.sent.join(", "));
    assert.ok(sentSinceEnqueue.length <= 1, `the victim waited behind ${sentSinceEnqueue.join(", ")}`);
  });

  it("when the lane is full, the namespace with the most waiting loses its oldest", () => {
    const clock = new FakeClock(0);
    const metrics = counters();
    const d = new NotificationDelivery({ clock, metrics, capacity: 5, namespaceCapacity: 5 });
    const slack = recording(clock);
    for (const [ns, k] of [
      ["a", "1"],
      ["a", "2"],
      ["a", "3"],
      ["b", "1"],
      ["b", "2"],
      ["c", "1"],
    ] as const) {
      d.enqueue(slack, from(ns, k));
    }
    // a/1 went in flight at once; a, b and c wait 2, 2 and 1: full at 5; the next message costs a or b one.
    d.enqueue(slack, from("c", "2"));
    assert.equal(metrics.get("dropped", "slack"), 1);
    assert.equal(d.pending(), 6);
  });
});
