// Notifications end to end: the controller (restricted ServiceAccount) reads webhook URLs from Secrets in the Rollout's
// namespace and posts to loopback receivers: through a 30 s outage, restarts, SIGKILLs right after deliveries, and a
// retry after a rollback.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { annotate, apply, appManifests, setImage, waitFor } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

const NS = "notify-rollout";
const NAME = "podinfo";
const HOOK_PATH = "/services/T0E2E/B0E2E/rolloutHookToken";
const OUTAGE_MS = 30_000;
/** Pause steps keep the rollout in flight long enough for the outage to cover several notifications. */
// Four weights, so three StepAdvanced notifications (timed pauses are not announced).
const STEPS = [
  { setWeight: 20 },
  { pause: { duration: "4s" } },
  { setWeight: 40 },
  { pause: { duration: "4s" } },
  { setWeight: 60 },
  { pause: { duration: "4s" } },
  { setWeight: 80 },
  { pause: { duration: "4s" } },
];

/** One Slack message as the receiver got it. */
interface SlackMessage {
  /** `<namespace>/<name>` of the Rollout. */
  who: string;
  event: string;
  revision: string;
  text: string;
  at: number;
}

/** A Slack-like webhook on a fixed loopback port that can be taken down (connection refused) and brought back. */
class SlackReceiver {
  readonly messages: SlackMessage[] = [];
  /** Requests that were not a well-formed Slack message for our path. */
  readonly rejected: string[] = [];
  /** Called after each accepted message was answered. */
  onMessage: ((m: SlackMessage) => void) | undefined;
  #server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}${HOOK_PATH}`;
  }

  async up(): Promise<void> {
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString("utf8");
      // Slack's fallback text: "<event>: <ns>/<name> (revision <rev>, canary <w>%): <message>".
      const text = (() => {
        try {
          return String((JSON.parse(raw) as { text?: unknown }).text ?? "");
        } catch {
          return "";
        }
      })();
      const m = /^(\w+): ([^ ]+) \(revision ([^,]+), canary \d+%\): (.*)$/s.exec(text);
      if (req.method !== "POST" || req.url !== HOOK_PATH || !m) {
        this.rejected.push(`${req.method} ${req.url} ${raw.slice(0, 200)}`);
        res.writeHead(400).end("invalid_payload");
        return;
      }
      const message = { who: m[2]!, event: m[1]!, revision: m[3]!, text: m[4]!, at: Date.now() };
      this.messages.push(message);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      this.onMessage?.(message);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(new Error(`receiver cannot listen on 127.0.0.1:${this.port}: ${(err as Error).message}`)),
      );
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Closes the listener and every open connection: senders get connection refused/reset. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  of(revision: string): SlackMessage[] {
    return this.messages.filter((m) => m.revision === revision);
  }
}

/** A JSON webhook receiver that de-duplicates by Idempotency-Key, as docs/notifications.md#delivery-guarantee asks receivers to. */
class DedupingWebhook {
  /** Every request: its Idempotency-Key, event and arrival time. */
  readonly raw: { key: string; event: string; at: number }[] = [];
  /** First accepted request per Idempotency-Key. */
  readonly accepted = new Map<string, { event: string; at: number }>();
  #server: Server | undefined;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/vireo`;
  }

  async up(): Promise<void> {
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { event?: string };
      const key = String(req.headers["idempotency-key"] ?? "");
      const hit = { key, event: String(body.event), at: Date.now() };
      this.raw.push(hit);
      if (key && !this.accepted.has(key)) this.accepted.set(key, hit);
      // A duplicate is acknowledged like the original, so the sender stops; it is just not acted on again.
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  of(prefix: string): string[] {
    return [...this.accepted.keys()].filter((k) => k.startsWith(prefix));
  }
}

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;
const rx = new SlackReceiver();
const wh = new DedupingWebhook();

async function rollout(ns = NS, name = NAME): Promise<Rollout | undefined> {
  try {
    return await kubeRequest<Rollout>(
      kc,
      "GET",
      `/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts/${name}`,
    );
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}
const pending = (r: Rollout | undefined) => r?.status?.notifications?.pending ?? [];
const delivered = (r: Rollout | undefined) => r?.status?.notifications?.delivered ?? [];
const brief = (r: Rollout | undefined) =>
  JSON.stringify({
    phase: r?.status?.phase,
    canaryRevision: r?.status?.canaryRevision,
    stableRevision: r?.status?.stableRevision,
    pending: pending(r).map((p) => p.key),
    delivered: delivered(r),
  });
/** Delivery → status-write times seen by the crash and retry tests. */
const recordWindows: number[] = [];
/** How long each status poll took (the resolution of those times). */
const pollLatencies: number[] = [];
const describeWindows = (w: readonly number[]) => {
  const sorted = [...w].sort((a, b) => a - b);
  const polls = [...pollLatencies].sort((a, b) => a - b);
  return `(upper bounds; status polled every 10 ms, a poll takes median ${polls[Math.floor(polls.length / 2)]} ms) median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${sorted.length} deliveries`;
};

/** Polls a Rollout every 10 ms and notes when each key first shows up in status.notifications.delivered. */
function recordDelivered(ns: string, name: string): { at: Map<string, number>; stop(): Promise<void> } {
  const at = new Map<string, number>();
  let polling = true;
  const loop = (async () => {
    while (polling) {
      const sent = Date.now();
      const r = await rollout(ns, name).catch(() => undefined);
      const now = Date.now();
      pollLatencies.push(now - sent);
      // The write happened before this GET was answered: `now` is an upper bound.
      for (const k of delivered(r)) if (!at.has(k)) at.set(k, now);
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  return {
    at,
    stop: async () => {
      polling = false;
      await loop;
    },
  };
}

const startVireo = (args: string[] = []) =>
  startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    args,
  });

/** The message a delivered key (revision/attempt/event/discriminator) stands for: event, revision, step number. */
function expectedFor(key: string): { event: string; revision: string; step?: number } {
  const [revision, attempt, event, discriminator] = key.split("/");
  assert.ok(revision && attempt && event && discriminator !== undefined, `malformed key ${key}`);
  return event === "StepAdvanced"
    ? { event, revision, step: Number(discriminator) + 1 }
    : { event, revision };
}

/** Every delivered key of `revision` matches exactly one received message, and nothing else arrived for it. */
function assertExactlyOnce(r: Rollout | undefined, revision: string): void {
  const keys = delivered(r).filter((k) => k.startsWith(`${revision}/`));
  const got = rx.of(revision);
  const describeGot = () => JSON.stringify(got.map((m) => `${m.event}: ${m.text}`));
  assert.equal(got.length, keys.length, `received ${describeGot()} for delivered keys ${keys}`);
  for (const key of keys) {
    const e = expectedFor(key);
    const matching = got.filter(
      (m) => m.event === e.event && (e.step === undefined || m.text.startsWith(`step ${e.step}/`)),
    );
    assert.equal(matching.length, 1, `${key}: ${matching.length} messages in ${describeGot()}`);
  }
}

describe("notifications through outages, restarts, crashes and retries", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    await rx.up();
    await wh.up();
    controller = await startVireo();
  });
  after(async () => {
    await controller?.stop();
    await rx.down();
    await wh.down();
    await cluster?.stop();
  });

  it("receiver down for 30 s mid-rollout: every notification arrives exactly once after it recovers", async () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      // Rollouts may only name Secrets that opt in.
      metadata: { name: "slack", namespace: NS, labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
      stringData: { url: rx.url },
    };
    await apply(
      cluster,
      `${appManifests({
        namespace: NS,
        steps: STEPS,
        extraSpec: { notifications: { slack: { secretRef: { name: "slack" } } } },
      })}\n---\n${JSON.stringify(secret)}`,
    );
    const healthy = await waitFor(
      "Healthy after adoption",
      rollout,
      (r) => r?.status?.phase === "Healthy",
      90_000,
      500,
    );
    const stable = healthy?.status?.stableRevision;
    assert.equal(rx.messages.length, 0, "adoption notifies nothing");

    await rx.down();
    const downAt = Date.now();
    await setImage(cluster, NS, NAME, "ghcr.io/stefanprodan/podinfo:6.0.1");
    // The rollout goes on during the outage; its notifications wait in status.
    const waiting = await waitFor(
      "notifications piling up during the outage",
      rollout,
      (r) => pending(r).filter((p) => p.event === "StepAdvanced").length >= 2,
      OUTAGE_MS - 2000,
      500,
    );
    const revision = waiting?.status?.canaryRevision ?? "";
    assert.notEqual(revision, stable, "a rollout of the new revision is in flight");
    assert.deepEqual(
      pending(waiting)
        .slice(0, 3)
        .map((p) => p.event),
      ["Started", "StepAdvanced", "StepAdvanced"],
      brief(waiting),
    );
    assert.deepEqual(delivered(waiting), [], "nothing counts as delivered while the receiver is down");
    // Keep the receiver down for the full outage (a duration, not a condition to poll for).
    await new Promise((r) => setTimeout(r, Math.max(0, downAt + OUTAGE_MS - Date.now())));
    assert.equal(rx.messages.length, 0);
    await rx.up();
    const upAt = Date.now();

    const done = await waitFor(
      "promotion, and every notification delivered and recorded",
      rollout,
      (r) =>
        r?.status?.phase === "Healthy" &&
        r.status.stableRevision === revision &&
        pending(r).length === 0 &&
        delivered(r).length === 5,
      120_000,
      500,
    );
    assert.ok(
      delivered(done).every((k) => k.startsWith(`${revision}/`)),
      `delivered keys ${delivered(done)}`,
    );
    // Nothing still in flight may arrive twice: a quiet period after the last one was recorded.
    await new Promise((r) => setTimeout(r, 5000));
    assertExactlyOnce(done, revision);
    assert.deepEqual(
      rx
        .of(revision)
        .map((m) => m.event)
        .sort(),
      ["Promoted", "Started", "StepAdvanced", "StepAdvanced", "StepAdvanced"],
    );
    assert.deepEqual(rx.rejected, []);
    console.log(
      `outage ${OUTAGE_MS / 1000} s: ${rx.messages.length} messages in ${((Math.max(...rx.messages.map((m) => m.at)) - upAt) / 1000).toFixed(1)} s after recovery, order ${rx.messages.map((m) => m.event).join(", ")}`,
    );
  });

  it("a controller restart resends nothing delivered and delivers what was still pending, once", async () => {
    const before = await rollout();
    const oldRevision = before?.status?.stableRevision ?? "";
    const oldCount = rx.of(oldRevision).length;
    assert.equal(oldCount, 5, "the previous test delivered five messages");

    // Plain restart: the new controller re-reads status and must not resend any delivered key.
    assert.equal(await controller.stop(), 0, "clean SIGTERM exit");
    controller = await startVireo();

    // A new revision while the receiver is down, and a restart before anything could be delivered.
    await rx.down();
    await setImage(cluster, NS, NAME, "ghcr.io/stefanprodan/podinfo:6.0.2");
    const started = await waitFor(
      "the new revision's Started notification is pending",
      rollout,
      (r) => r?.status?.canaryRevision !== oldRevision && pending(r).some((p) => p.event === "StepAdvanced"),
      60_000,
      250,
    );
    const newRevision = started?.status?.canaryRevision ?? "";
    assert.equal(await controller.stop(), 0, "clean SIGTERM exit with undeliverable notifications");
    assert.equal(rx.messages.length, oldCount, "nothing could arrive while down");
    controller = await startVireo();
    await rx.up();

    const done = await waitFor(
      "the new revision promoted and all its notifications delivered",
      rollout,
      (r) =>
        r?.status?.phase === "Healthy" &&
        r.status.stableRevision === newRevision &&
        pending(r).length === 0 &&
        delivered(r).some((k) => k.startsWith(`${newRevision}/`) && k.includes("/Promoted/")),
      120_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 5000));
    assertExactlyOnce(done, newRevision);
    assert.deepEqual(
      rx
        .of(newRevision)
        .map((m) => m.event)
        .sort(),
      ["Promoted", "Started", "StepAdvanced", "StepAdvanced", "StepAdvanced"],
    );
    assert.equal(rx.of(oldRevision).length, oldCount, "no message of the earlier rollout was resent");
    assert.deepEqual(
      delivered(done).filter((k) => k.startsWith(`${oldRevision}/`)).length,
      5,
      "delivered keys of the earlier rollout are kept",
    );
    assert.deepEqual(rx.rejected, []);
  });

  it("SIGKILL right after deliveries: a receiver deduping by Idempotency-Key sees each notification once", async () => {
    const ns = "notify-kill";
    const KILLS = 3;
    const secrets = [
      { name: "slack", url: rx.url },
      { name: "hook", url: wh.url },
    ].map((x) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: x.name, namespace: ns, labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
        stringData: { url: x.url },
      }),
    );
    // Without leader election a restarted controller leads at once instead of after the killed one's lease expires.
    assert.equal(await controller.stop(), 0);
    controller = await startVireo(["--leader-elect=false"]);
    await apply(
      cluster,
      [
        appManifests({
          namespace: ns,
          steps: STEPS,
          extraSpec: {
            notifications: {
              slack: { secretRef: { name: "slack" } },
              webhook: { secretRef: { name: "hook" } },
            },
          },
        }),
        ...secrets,
      ].join("\n---\n"),
    );
    const healthy = await waitFor(
      "Healthy after adoption",
      () => rollout(ns),
      (r) => r?.status?.phase === "Healthy",
    );
    const stable = healthy?.status?.stableRevision ?? "";

    // Kill the controller the moment the Slack receiver has answered a StepAdvanced (the last destination to get
    // it: Slack is paced to one message a second), i.e. between the delivery and the status write that records it.
    let current: ControllerProcess | undefined = controller;
    const kills: { text: string; done: Promise<void> }[] = [];
    rx.onMessage = (m) => {
      if (m.who !== `${ns}/${NAME}` || m.event !== "StepAdvanced" || !current || kills.length >= KILLS)
        return;
      if (kills.some((k) => k.text === m.text)) return;
      kills.push({ text: m.text, done: current.kill() });
      current = undefined;
    };
    const recorder = recordDelivered(ns, NAME);
    const recordedAt = recorder.at;
    try {
      await setImage(cluster, ns, NAME, "ghcr.io/stefanprodan/podinfo:6.0.3");
      for (let k = 0; k < KILLS; k++) {
        await waitFor(`kill ${k + 1}`, async () => kills.length > k, Boolean, 120_000, 10);
        await kills[k]!.done;
        controller = await startVireo(["--leader-elect=false"]);
        current = controller;
      }
      const done = await waitFor(
        "promotion after the kills, every notification recorded",
        () => rollout(ns),
        (r) =>
          r?.status?.phase === "Healthy" &&
          r.status.stableRevision !== stable &&
          pending(r).length === 0 &&
          delivered(r).some((k) => k.includes("/Promoted/")),
        180_000,
        250,
      );
      await new Promise((r) => setTimeout(r, 5000));
      rx.onMessage = undefined;
      const revision = done?.status?.stableRevision ?? "";
      const keys = delivered(done).filter((k) => k.startsWith(`${revision}/`));
      const prefix = `${ns}/${NAME}/`;
      // After de-duplication: exactly the delivered keys, one each; resends carried the original's key.
      assert.deepEqual(wh.of(prefix).sort(), keys.map((k) => `${prefix}${k}`).sort());
      assert.deepEqual(
        wh
          .of(prefix)
          .map((k) => wh.accepted.get(k)?.event)
          .sort(),
        ["Promoted", "Started", "StepAdvanced", "StepAdvanced", "StepAdvanced"],
      );
      const raw = wh.raw.filter((h) => h.key.startsWith(prefix));
      assert.ok(
        raw.every((h) => wh.accepted.has(h.key)),
        "every request had an Idempotency-Key",
      );
      const slack = rx.messages.filter((m) => m.who === `${ns}/${NAME}`);
      const slackDuplicates = slack.length - new Set(slack.map((m) => `${m.event} ${m.text}`)).size;
      assert.deepEqual(
        [...new Set(slack.map((m) => `${m.event} ${m.text}`))].length,
        5,
        "every notification reached Slack",
      );
      assert.ok(
        slackDuplicates <= kills.length,
        `at most one Slack duplicate per crash, got ${slackDuplicates}`,
      );
      // Delivery → recorded in status, for keys whose delivery no kill interrupted.
      const killedTexts = new Set(kills.map((k) => k.text));
      const windows: number[] = [];
      for (const key of keys) {
        const e = expectedFor(key);
        const slackHit = slack.find(
          (m) => m.event === e.event && (e.step === undefined || m.text.startsWith(`step ${e.step}/`)),
        );
        const hookHit = wh.accepted.get(`${prefix}${key}`);
        const at = recordedAt.get(key);
        if (!slackHit || !hookHit || at === undefined || killedTexts.has(slackHit.text)) continue;
        windows.push(at - Math.max(slackHit.at, hookHit.at));
      }
      recordWindows.push(...windows);
      console.log(
        `${kills.length} SIGKILLs right after a Slack delivery: webhook ${raw.length} requests, ${raw.length - wh.of(prefix).length} duplicates dropped by Idempotency-Key, 0 after dedupe; Slack ${slack.length} messages, ${slackDuplicates} duplicates; delivery → status write ${describeWindows(windows)}`,
      );
    } finally {
      rx.onMessage = undefined;
      await recorder.stop();
    }
  });

  it("a retry after a rollback delivers the retry's own RolledBack notification", async (t) => {
    const ns = "notify-kill";
    const name = "stuck";
    await apply(
      cluster,
      appManifests({
        namespace: ns,
        name,
        steps: [{ setWeight: 50 }],
        extraSpec: {
          progressDeadlineSeconds: 10,
          notifications: { slack: { secretRef: { name: "slack" } } },
        },
      }),
    );
    await waitFor(
      "Healthy after adoption",
      () => rollout(ns, name),
      (r) => r?.status?.phase === "Healthy",
    );
    const recorder = recordDelivered(ns, name);
    t.after(() => recorder.stop());
    // A pod template no node can take: the canary never becomes ready and the progress deadline rolls it back.
    const patched = await cluster.kubectl([
      "patch",
      "deployment",
      name,
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { template: { spec: { nodeSelector: { "vireo.dev/e2e": "no-such-node" } } } } }),
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    const rolledBackKeys = (r: Rollout | undefined) => delivered(r).filter((k) => k.includes("/RolledBack/"));
    const first = await waitFor(
      "the first rollback delivered",
      () => rollout(ns, name),
      (r) => r?.status?.phase === "RolledBack" && rolledBackKeys(r).length === 1,
      90_000,
      500,
    );
    await annotate(cluster, ns, name, "vireo.dev/retry", "1");
    const second = await waitFor(
      "the retry rolled back and its RolledBack delivered",
      () => rollout(ns, name),
      (r) => r?.status?.phase === "RolledBack" && rolledBackKeys(r).length === 2 && pending(r).length === 0,
      90_000,
      500,
    );
    assert.notEqual(rolledBackKeys(second)[1], rolledBackKeys(first)[0]);
    await recorder.stop();
    const got = rx.messages.filter((m) => m.who === `${ns}/${name}`).map((m) => m.event);
    // Each attempt's RolledBack arrives once, the second after the retry's Started.
    assert.equal(got.filter((e) => e === "RolledBack").length, 2, `got ${got}`);
    assert.ok(got.lastIndexOf("Started") > got.indexOf("RolledBack"), `got ${got}`);
    assert.equal(got.at(-1), "RolledBack", `got ${got}`);
    // Delivery → status write, pairing the n-th key of an event with the n-th message of that event.
    const windows: number[] = [];
    const messages = rx.messages.filter((m) => m.who === `${ns}/${name}`);
    for (const event of ["Started", "RolledBack"]) {
      const keys = delivered(second).filter((k) => k.split("/")[2] === event);
      const hits = messages.filter((m) => m.event === event);
      keys.forEach((k, i) => {
        const at = recorder.at.get(k);
        const hit = hits[i];
        if (at !== undefined && hit) windows.push(at - hit.at);
      });
    }
    recordWindows.push(...windows);
    console.log(
      `retry: delivery → status write ${describeWindows(windows)}; both tests: ${describeWindows(recordWindows)}`,
    );
  });
});
