// Checks during analysis (Flagger's rollout webhooks) end to end on the real control plane: a loopback receiver is
// called at every analysis tick with its own Idempotency-Key per tick; a receiver answering 200 lets the rollout
// promote (a controller SIGKILLed while a tick's call is in flight repeats that tick's call with the same key), and
// one that starts answering 500 rolls it back after failureLimit failed ticks.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakePrometheus, startFakePrometheus, vector } from "../src/analysis/testing/prom-server.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import {
  apply,
  appManifests,
  setImage,
  waitFor,
  waitForPromotion,
  waitForRollback,
  waitForRollout,
} from "./support/app.ts";
import { CheckReceiver } from "./support/check-receiver.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

/** One analysis call: its key, the payload's tick, and what it answered. */
interface Hit {
  key: string;
  tick: number | undefined;
  status: number;
}

/** Answer per namespace (the payload's), default 200. */
const answers = new Map<string, number>();
/** Milliseconds to hold the next answer for a namespace (once). */
const holdNext = new Map<string, number>();
const receiver = new CheckReceiver((body) => {
  const ns = String(body.namespace ?? "");
  const delayMs = holdNext.get(ns);
  holdNext.delete(ns);
  return { status: answers.get(ns) ?? 200, ...(delayMs ? { delayMs } : {}) };
});

/** The analysis calls made for namespace `ns`. */
const callsOf = (ns: string): Hit[] =>
  receiver.hits
    .filter((h) => h.body.namespace === ns && h.body.point === "analysis")
    .map((h) => ({
      key: h.key,
      tick: typeof h.body.tick === "number" ? h.body.tick : undefined,
      status: h.status,
    }));

/** Ticks called with more than one key, and keys used for more than one tick: both must be empty. */
function keyPerTick(hits: Hit[]): { ticks: number; keys: number; clashes: string[] } {
  const byTick = new Map<number, Set<string>>();
  const byKey = new Map<string, Set<number>>();
  for (const h of hits) {
    assert.ok(h.tick !== undefined, "an analysis call carries its tick");
    byTick.set(h.tick, (byTick.get(h.tick) ?? new Set()).add(h.key));
    byKey.set(h.key, (byKey.get(h.key) ?? new Set()).add(h.tick));
  }
  const clashes = [
    ...[...byTick].filter(([, k]) => k.size > 1).map(([t, k]) => `tick ${t}: keys ${[...k]}`),
    ...[...byKey].filter(([, t]) => t.size > 1).map(([k, t]) => `key ${k}: ticks ${[...t]}`),
  ];
  return { ticks: byTick.size, keys: byKey.size, clashes };
}

const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
let cluster: Cluster;
let controller: ControllerProcess;
let prom: FakePrometheus;

const startVireo = () =>
  startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    args: [`--allowed-check-urls=${receiver.url("/tick")}`, `--allowed-prometheus-urls=${prom.url}`],
  });

/** A Rollout of `ns` whose analysis (a metric that always passes) runs the webhook check `load` at every tick. */
async function startRollout(ns: string, steps: Record<string, unknown>[]): Promise<void> {
  await apply(
    cluster,
    appManifests({
      namespace: ns,
      steps,
      analysis: {
        interval: "3s",
        failureLimit: 2,
        prometheus: { address: prom.url, timeout: "10s" },
        metrics: [{ name: "score", query: "sum(score)", thresholdRange: { min: 90 } }],
        checks: ["load"],
      },
      extraSpec: {
        // 30 s: the run in flight at the SIGKILL must outlive the successor's take-over (a 15 s Lease, and a start
        // that took 17 s at load 20); past its deadline (timeout + 10 s grace) it fails as timed out, never re-called.
        checks: [{ name: "load", webhook: { url: receiver.url("/tick"), timeout: "30s", retries: 0 } }],
      },
    }),
  );
  await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
  await setImage(cluster, ns, "podinfo", NEW_IMAGE);
}

describe("checks during analysis on the real control plane", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    prom = await startFakePrometheus(() => ({ body: vector("100") }));
    await receiver.up();
    controller = await startVireo();
  });
  after(async () => {
    await controller?.stop();
    await receiver.down();
    await prom?.close();
    await cluster?.stop();
  });

  it("a receiver answering 200 is called at every tick, one key per tick (also across a SIGKILL), and the rollout promotes", async () => {
    const ns = "tick-checks-pass";
    // The first tick's answer is held 6 s: the controller is killed while that call is in flight.
    holdNext.set(ns, 6000);
    await startRollout(ns, [{ setWeight: 20 }, { setWeight: 40 }, { setWeight: 60 }]);
    await waitFor(
      "the first tick's call",
      async () => callsOf(ns).length,
      (n) => n >= 1,
    );
    await controller.kill();
    controller = await startVireo();
    const r: Rollout = await waitForPromotion(cluster, ns, "promoted", 180_000);
    const hits = callsOf(ns);
    const { ticks, keys, clashes } = keyPerTick(hits);
    const first = hits[0]!;
    const repeats = hits.filter((h) => h.tick === first.tick).length;
    console.log(
      `analysis checks, receiver 200: ${hits.length} calls over ${ticks} ticks with ${keys} keys; tick ${first.tick} called ${repeats}× (killed mid-call)`,
    );
    assert.deepEqual(clashes, []);
    // Each of the three steps needs a run that passed during it.
    assert.ok(ticks >= 3, `${ticks} ticks called`);
    assert.equal(keys, ticks);
    assert.ok(repeats >= 2, "the tick in flight at the kill is called again, with its key");
    assert.equal(r.status?.analysis?.failedChecks ?? 0, 0);
  });

  it("a receiver that starts answering 500 rolls the rollout back after failureLimit failed ticks", async () => {
    const ns = "tick-checks-fail";
    await startRollout(ns, [{ setWeight: 20 }, { setWeight: 40 }, { setWeight: 60 }]);
    await waitFor(
      "a passing tick",
      async () => callsOf(ns).length,
      (n) => n >= 1,
    );
    answers.set(ns, 500);
    const r: Rollout = await waitForRollback(cluster, ns);
    const hits = callsOf(ns);
    const failed = hits.filter((h) => h.status === 500);
    const { ticks, keys, clashes } = keyPerTick(hits);
    console.log(
      `analysis checks, receiver 500: ${hits.length} calls (${failed.length} answered 500) over ${ticks} ticks with ${keys} keys; status: ${r.status?.message}`,
    );
    assert.deepEqual(clashes, []);
    assert.equal(keys, ticks);
    assert.ok(failed.length >= 2, `${failed.length} failed ticks`);
    assert.ok((r.status?.analysis?.failedChecks ?? 0) >= 2);
    assert.match(JSON.stringify(r.status), /analysis check load \(tick \d+\)/);
    // Rolled back: the canary no longer holds traffic, and no further tick calls the receiver.
    const after = hits.length;
    await new Promise((res) => setTimeout(res, 8000));
    assert.equal(callsOf(ns).length, after, "no calls after the rollback");
  });
});
