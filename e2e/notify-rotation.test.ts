// A rotated webhook Secret on a real control plane: the controller cached the old URL (destinations are reused for a
// minute), the old URL is revoked and answers a permanent error, the Secret names a new receiver — every
// notification must arrive there, and none may be marked failed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, getRollout, setImage, waitFor, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";
import { bodyText, LoopbackServer } from "./support/loopback-server.ts";

const NS = "rotation";

/** A loopback webhook receiver; `revoked` makes it answer 404, as a deleted webhook does. */
class Receiver extends LoopbackServer {
  readonly keys: string[] = [];
  readonly refused: string[] = [];
  revoked = false;
  constructor() {
    super(async (req, res) => {
      await bodyText(req);
      const key = String(req.headers["idempotency-key"] ?? "");
      if (this.revoked) {
        this.refused.push(key);
        res.writeHead(404, { "content-type": "text/plain" }).end("no_service");
        return;
      }
      this.keys.push(key);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  }
}

let cluster: Cluster;
let controller: ControllerProcess;
const oldHook = new Receiver();
const newHook = new Receiver();

/** The webhook Secret, opted in for reference by Rollouts. */
const secret = (url: string) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "hook", namespace: NS, labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
    stringData: { url },
  });

describe("a rotated webhook Secret loses no notification", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    await Promise.all([oldHook.up(), newHook.up()]);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
    await Promise.all([oldHook.down(), newHook.down()]);
  });

  it("the old URL answers 404 after the rotation: the notifications go to the new URL, none is marked failed", async () => {
    const manifests = appManifests({
      namespace: NS,
      steps: [
        { setWeight: 20 },
        { pause: { duration: "2s" } },
        { setWeight: 40 },
        { pause: { duration: "2s" } },
        { setWeight: 60 },
      ],
      extraSpec: { notifications: { webhook: { secretRef: { name: "hook" } } } },
    });
    const [namespace, ...rest] = manifests.split("\n---\n");
    await apply(cluster, namespace!);
    await apply(cluster, secret(oldHook.url("/old")));
    await apply(cluster, rest.join("\n---\n"));
    await waitForRollout(cluster, NS, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    // The rollout's first notification reaches the old URL: from now on the controller has it cached.
    oldHook.keys.length = 0;
    await setImage(cluster, NS, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    await waitFor(
      "Started at the old URL",
      async () => oldHook.keys.length,
      (n) => n >= 1,
      30_000,
      50,
    );
    // The Secret names the new receiver before the old URL is revoked. (Revoked first, a message refused before the
    // Secret changes finds the same URL when the controller reads the Secret again, and fails for good: at load 15-20
    // kubectl's apply left that gap open long enough.)
    await apply(cluster, secret(newHook.url("/new")));
    const rotatedAt = Date.now();
    oldHook.revoked = true;
    const done = await waitForRollout(
      cluster,
      NS,
      "podinfo",
      "promoted with every notification settled",
      (r) =>
        r.status?.phase === "Healthy" &&
        r.status.canaryRevision === r.status.stableRevision &&
        (r.status.notifications?.pending ?? []).length === 0,
      90_000,
    );
    const failed = done.status?.notifications?.failed ?? [];
    const delivered = done.status?.notifications?.delivered ?? [];
    console.log(
      `rotation: ${oldHook.refused.length} refused by the revoked URL, ${newHook.keys.length} delivered to the new one within ${Date.now() - rotatedAt} ms, ${failed.length} marked failed`,
    );
    assert.deepEqual(failed, [], "no notification marked failed");
    assert.ok(oldHook.refused.length >= 1, "the cached old URL was tried (and refused) after the rotation");
    for (const key of oldHook.refused)
      assert.ok(newHook.keys.includes(key), `${key}, refused by the old URL, reached the new one`);
    const after = delivered.filter((k) => !oldHook.keys.some((sent) => sent.endsWith(`/${k}`)));
    assert.ok(after.length >= 3, `steps and promotion were announced after the rotation: ${after}`);
    for (const key of after)
      assert.ok(
        newHook.keys.includes(`${NS}/podinfo/${key}`),
        `${key} delivered to the new URL (got ${newHook.keys})`,
      );
    const events = await cluster.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"]);
    const reasons = (JSON.parse(events.stdout) as { items: { reason: string }[] }).items.map((e) => e.reason);
    assert.ok(!reasons.includes("NotificationFailed"), "no NotificationFailed Event");
    assert.ok((await getRollout(cluster, NS, "podinfo"))?.status?.phase === "Healthy");
  });
});
