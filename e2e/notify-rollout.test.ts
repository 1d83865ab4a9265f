// Notifications end to end: the controller (restricted ServiceAccount) reads a Slack webhook URL from a Secret in the
// Rollout's namespace and posts to a loopback receiver that is down for 30 s mid-rollout, then through a restart.
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
import { apply, appManifests, setImage, waitFor } from "./support/app.ts";
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
      const m = /^(\w+): [^ ]+ \(revision ([^,]+), canary \d+%\): (.*)$/s.exec(text);
      if (req.method !== "POST" || req.url !== HOOK_PATH || !m) {
        this.rejected.push(`${req.method} ${req.url} ${raw.slice(0, 200)}`);
        res.writeHead(400).end("invalid_payload");
        return;
      }
      this.messages.push({ event: m[1]!, revision: m[2]!, text: m[3]!, at: Date.now() });
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
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

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;
const rx = new SlackReceiver();

async function rollout(): Promise<Rollout | undefined> {
  try {
    return await kubeRequest<Rollout>(
      kc,
      "GET",
      `/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts/${NAME}`,
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
const startVireo = () =>
  startController({ kubeconfigPath: cluster.controllerKubeconfigPath, logDir: join(cluster.dir, "logs") });

/** The message a delivered key stands for: event, revision and, for steps, the step number in the text. */
function expectedFor(key: string): { event: string; revision: string; step?: number } {
  const [revision, event, discriminator] = key.split("/");
  assert.ok(revision && event && discriminator !== undefined, `malformed key ${key}`);
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

describe("notifications through a receiver outage and a controller restart", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    await rx.up();
    controller = await startVireo();
  });
  after(async () => {
    await controller?.stop();
    await rx.down();
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
        delivered(r).some((k) => k.startsWith(`${newRevision}/Promoted/`)),
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
});
