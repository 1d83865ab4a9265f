// Analysis off the worker path, end to end: six Rollouts whose Prometheus answers after 25 s keep measurements in
// flight on all four workers' worth of Rollouts, while another Rollout starts at once and a failing canary on
// another Prometheus is rolled back one interval after its step began.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { type FakePrometheus, startFakePrometheus, vector } from "../src/analysis/testing/prom-server.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { apply, appManifests, setImage, waitFor } from "./support/app.ts";
import { type ControllerProcess, metricValue, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const SLOW_MS = 25_000;
const INTERVAL_MS = 5_000;
const SLOW = Array.from({ length: 6 }, (_, i) => `slow-${i}`);

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;
let slowProm: FakePrometheus;
let failingProm: FakePrometheus;
/** When each query reached the slow Prometheus. */
const slowArrivals: number[] = [];

async function rollout(ns: string): Promise<Rollout | undefined> {
  try {
    return await kubeRequest<Rollout>(
      kc,
      "GET",
      `/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts/${NAME}`,
    );
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** One custom-query metric against `address`; the fakes answer every query the same way. */
function analysis(address: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    interval: `${INTERVAL_MS / 1000}s`,
    prometheus: { address, timeout: "60s" },
    metrics: [{ name: "score", query: "sum(score)", thresholdRange: { min: 90 } }],
    ...extra,
  };
}

/** Slow-Prometheus queries that arrived within the last SLOW_MS, i.e. still unanswered. */
const slowInFlight = () => slowArrivals.filter((at) => Date.now() - at < SLOW_MS).length;

describe("analysis measurements do not hold the workers", () => {
  before(async () => {
    // The slow one answers passing values after 25 s, the other failing ones at once.
    slowProm = await startFakePrometheus(() => {
      slowArrivals.push(Date.now());
      return { body: vector("100"), delayMs: SLOW_MS };
    });
    failingProm = await startFakePrometheus(() => ({ body: vector("50") }));
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      // Both fakes are addresses Rollouts name themselves, so the operator allows them (tenant safety).
      args: [
        "--workers=4",
        "--log-level=info",
        `--allowed-prometheus-urls=${slowProm.url},${failingProm.url}`,
      ],
    });
    const manifests = [
      ...SLOW.map((ns) =>
        appManifests({
          namespace: ns,
          // Many steps, each needing a 25 s tick: these keep measuring for the whole test.
          steps: [10, 20, 30, 40, 50, 60].map((w) => ({ setWeight: w })),
          analysis: analysis(slowProm.url),
          extraSpec: { progressDeadlineSeconds: 600 },
        }),
      ),
      appManifests({ namespace: "starter", analysis: analysis(failingProm.url) }),
      appManifests({ namespace: "failing", analysis: analysis(failingProm.url, { failureLimit: 1 }) }),
    ];
    await apply(cluster, manifests.join("\n---\n"));
    for (const ns of [...SLOW, "starter", "failing"]) {
      await waitFor(
        `${ns}: Healthy`,
        () => rollout(ns),
        (r) => r?.status?.phase === "Healthy",
        90_000,
        500,
      );
    }
    // Start the slow rollouts and wait until each has a measurement waiting on the slow Prometheus.
    for (const ns of SLOW) await setImage(cluster, ns, NAME, NEW_IMAGE);
    await waitFor(
      "six slow measurements in flight",
      async () => slowInFlight(),
      (n) => n >= SLOW.length,
      60_000,
      200,
    );
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
    await slowProm?.close();
    await failingProm?.close();
  });

  it("starts another Rollout at once while six measurements wait on a 25 s Prometheus", async () => {
    assert.ok(slowInFlight() >= SLOW.length, `slow queries in flight: ${slowInFlight()}`);
    const before = await rollout("starter");
    const pushed = Date.now();
    await setImage(cluster, "starter", NAME, NEW_IMAGE);
    const started = await waitFor(
      "starter: rollout of the new revision started",
      () => rollout("starter"),
      (r) => r?.status?.phase === "Progressing" && r.status.canaryRevision !== before?.status?.stableRevision,
      30_000,
      100,
    );
    const delayMs = Date.now() - pushed;
    assert.ok(slowInFlight() >= 4, `the slow measurements were still running: ${slowInFlight()}`);
    // Before the change the 4 workers sat in those queries and a start waited for up to 15-25 s.
    assert.ok(delayMs < 5_000, `start took ${delayMs} ms: ${started?.status?.message}`);
  });

  it("rolls back a failing canary on another Prometheus one interval after its step began", async () => {
    await setImage(cluster, "failing", NAME, NEW_IMAGE);
    const atStep = await waitFor(
      "failing: first step",
      () => rollout("failing"),
      (r) => r?.status?.stepStartedAt !== undefined,
      60_000,
      100,
    );
    const due = Date.parse(atStep!.status!.stepStartedAt!) + INTERVAL_MS;
    const rolledBack = await waitFor(
      "failing: RolledBack",
      () => rollout("failing"),
      (r) => r?.status?.phase === "RolledBack",
      60_000,
      100,
    );
    const seenAfterDueMs = Date.now() - due;
    assert.ok(slowInFlight() >= 4, `the slow measurements were still running: ${slowInFlight()}`);
    const fail = rolledBack?.status?.analysis?.history?.find((m) => m.verdict === "Fail");
    assert.ok(fail, JSON.stringify(rolledBack?.status?.analysis));
    assert.equal(fail.value, 50);
    const tickLateMs = Date.parse(fail.at) - due;
    assert.ok(tickLateMs >= 0 && tickLateMs < 2_000, `the failing tick started ${tickLateMs} ms after due`);
    assert.ok(seenAfterDueMs < 5_000, `rollback seen ${seenAfterDueMs} ms after the tick was due`);
    assert.equal(rolledBack?.status?.analysis?.failedChecks, 1);
  });

  it("the slow Rollouts still progress on their 25 s ticks; no result was charged across revisions", async () => {
    const r = await waitFor(
      "slow-0: past its first step",
      () => rollout("slow-0"),
      (x) => (x?.status?.currentStepIndex ?? 0) >= 1,
      90_000,
      500,
    );
    const pass = r?.status?.analysis?.history?.find((m) => m.verdict === "Pass");
    assert.ok(pass, JSON.stringify(r?.status?.analysis));
    assert.equal(pass.value, 100);
    const text = await controller.metrics();
    assert.match(text, /# TYPE vireo_analysis_measurements_discarded_total counter/);
    assert.equal(
      metricValue(text, "vireo_analysis_measurements_discarded_total", { reason: "revision-changed" }),
      0,
      "no revision changed while one of its measurements ran",
    );
  });
});
