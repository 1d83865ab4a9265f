// The controller's analysis end to end: a real control plane, a real Prometheus scraping the traffic simulator
// every second, and the controller (restricted ServiceAccount) judging canaries every 5 s over a 10 s window.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Measurement, Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { getOrUndefined } from "./cluster/kube-request.ts";
import type { Behaviour } from "./simulator/backend.ts";
import { type Simulator, startSimulator } from "./simulator/simulator.ts";
import { apply, appManifests, setImage, waitFor } from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const OLD_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const INTERVAL_MS = 5000;
/** Steps of every rollout here: the first weight step is where a bad canary must be caught. */
const STEPS = [{ setWeight: 20 }, { setWeight: 50 }];
/** Same latency on both sides (100 ms sits mid-bucket for Linkerd's 100/200 bounds, far from timer noise). */
const HEALTHY: Partial<Behaviour> = { errorRate: 0, latencyMs: 100, jitterMs: 5 };

const success = (min: number) => ({
  name: "success",
  builtin: "request-success-rate",
  window: "10s",
  thresholdRange: { min },
});
const latencyVsPrimary = (maxRatio: number) => ({
  name: "latency",
  builtin: "request-duration",
  window: "10s",
  thresholdRange: { max: 1000 },
  compareToPrimary: { maxRatio },
});

interface Split {
  spec: { backends: { service: string; weight: number | string }[] };
}
interface EventJson {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { name?: string; kind?: string };
}

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;

const get = <T>(path: string) => getOrUndefined<T>(kc, path);
const rollout = (ns: string) =>
  get<Rollout>(`/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts/${NAME}`) as Promise<Rollout>;
async function canaryWeight(ns: string): Promise<number | undefined> {
  const split = await get<Split>(`/apis/split.smi-spec.io/v1alpha4/namespaces/${ns}/trafficsplits/${NAME}`);
  const b = split?.spec.backends.find((x) => x.service.endsWith("-canary"));
  return b === undefined ? undefined : Number(b.weight);
}
const replicas = async (ns: string, name: string) =>
  (await get<{ spec: { replicas?: number } }>(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`))?.spec
    .replicas;
const events = async (ns: string) =>
  (await get<{ items: EventJson[] }>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`))?.items ?? [];
const condition = (r: Rollout | undefined, type: string) =>
  r?.status?.conditions?.find((c) => c.type === type);
const history = (r: Rollout | undefined, metric?: string): Measurement[] =>
  (r?.status?.analysis?.history ?? []).filter((m) => metric === undefined || m.metric === metric);
const brief = (r: Rollout | undefined) =>
  JSON.stringify({
    phase: r?.status?.phase,
    pauseReason: r?.status?.pauseReason,
    step: r?.status?.currentStepIndex,
    weight: r?.status?.canaryWeight,
    message: r?.status?.message,
    analysis: { ...r?.status?.analysis, history: history(r).slice(-6) },
  });

/** Polls the TrafficSplit in the background and remembers every canary weight the mesh was told. */
function recordWeights(ns: string): { seen: Set<number>; max(): number; stop(): Promise<void> } {
  const seen = new Set<number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const w = await canaryWeight(ns).catch(() => undefined);
      if (w !== undefined) seen.add(w);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    seen,
    max: () => Math.max(0, ...seen),
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Deploys the app with `analysis`, waits for Healthy, and starts a simulator scraped by Prometheus. */
async function setUp(
  ns: string,
  analysis: Record<string, unknown>,
  sim: { canary?: Partial<Behaviour>; primary?: Partial<Behaviour>; followRoutes?: boolean } = {},
): Promise<{ simulator: Simulator; stable: string }> {
  await apply(
    cluster,
    appManifests({
      namespace: ns,
      image: OLD_IMAGE,
      steps: STEPS,
      analysis: { interval: "5s", ...analysis },
    }),
  );
  const healthy = await waitFor(
    `${ns}: Healthy after adoption`,
    () => rollout(ns),
    (r) => r?.status?.phase === "Healthy",
    90_000,
  );
  const simulator = await startSimulator({
    // Without a kubeconfig the simulator sends everything to the primary, whatever the TrafficSplit says.
    ...(sim.followRoutes === false ? {} : { kubeconfigPath: cluster.kubeconfigPath }),
    namespace: ns,
    service: NAME,
    rps: 40,
    primary: sim.primary ?? HEALTHY,
    canary: sim.canary ?? HEALTHY,
    pollMs: 250,
  });
  await cluster.addScrapeTarget(simulator.metricsUrl, { job: `sim-${ns}` });
  return { simulator, stable: healthy?.status?.stableRevision ?? "" };
}

/** Waits for the end of a failed rollout and checks it left nothing behind on the canary. */
async function assertRolledBack(ns: string, stable: string, metric: string): Promise<Rollout> {
  const r = await waitFor(
    `${ns}: RolledBack`,
    () => rollout(ns),
    (x) => x?.status?.phase === "RolledBack",
    90_000,
  );
  const degraded = condition(r, "Degraded");
  assert.equal(degraded?.status, "True", brief(r));
  assert.equal(degraded?.reason, "AnalysisFailed", brief(r));
  assert.match(degraded?.message ?? "", new RegExp(`rolled back: analysis failed .*${metric}`));
  assert.equal(r.status?.stableRevision, stable, "the stable revision stays");
  assert.equal(r.status?.canaryWeight, 0);
  await waitFor(
    `${ns}: TrafficSplit back to 0% canary`,
    () => canaryWeight(ns),
    (w) => w === 0,
    30_000,
  );
  await waitFor(
    `${ns}: canary Deployment scaled to 0`,
    () => replicas(ns, NAME),
    (n) => n === 0,
    30_000,
  );
  assert.equal(await replicas(ns, `${NAME}-primary`), 2, "the primary keeps serving");
  const evs = await events(ns);
  const warn = evs.filter((e) => e.reason === "AnalysisFailed" && e.type === "Warning");
  assert.ok(
    warn.some((e) => /rolled back/.test(e.note ?? "") && (e.note ?? "").includes(metric)),
    `no AnalysisFailed rollback Event naming ${metric}: ${JSON.stringify(evs.map((e) => [e.reason, e.note]))}`,
  );
  return r;
}

describe("analysis-driven rollouts against a real Prometheus", () => {
  before(async () => {
    cluster = await startCluster();
    kc = cluster.kubeConfig();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [...prometheusArgs(cluster.prometheusUrl, "linkerd")],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("promotes a canary that behaves like the primary, every step on a passing analysis", async () => {
    const ns = "good";
    const { simulator, stable } = await setUp(ns, {
      failureLimit: 1,
      // p99 comes from histogram buckets: equal latencies may still land one Linkerd bucket apart (199 vs 299 ms)
      // on a loaded CPU, so the healthy case tolerates 2×; the slow canary below is judged at 1.5×.
      metrics: [success(99), latencyVsPrimary(2)],
    });
    const weights = recordWeights(ns);
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const done = await waitFor(
        "promotion on analysis",
        () => rollout(ns),
        (r) => r?.status?.phase === "Healthy" && r.status.stableRevision !== stable,
        120_000,
        500,
      );
      assert.equal(done.status?.promotedBy, "Analysis", brief(done));
      assert.equal(done.status?.analysis?.failedChecks, 0, brief(done));
      assert.ok(weights.seen.has(20) && weights.seen.has(50), `weights seen: ${[...weights.seen]}`);
      assert.equal(await canaryWeight(ns), 0, "the promoted primary takes all traffic again");
      for (const weight of [20, 50]) {
        const passes = history(done).filter((m) => m.weight === weight && m.verdict === "Pass");
        assert.ok(
          passes.some((m) => m.metric === "success") && passes.some((m) => m.metric === "latency"),
          `no passing tick of both metrics at ${weight}%: ${brief(done)}`,
        );
      }
      assert.ok(
        history(done).every((m) => m.verdict !== "Fail" && m.verdict !== "Error"),
        `a healthy canary never fails or errors: ${brief(done)}`,
      );
      const lastSuccess = history(done, "success").at(-1);
      assert.ok((lastSuccess?.value ?? 0) >= 99.9, `success rate ${JSON.stringify(lastSuccess)}`);
      const lastLatency = history(done, "latency").at(-1);
      assert.ok(
        typeof lastLatency?.value === "number" && typeof lastLatency.primaryValue === "number",
        `latency measured on both sides: ${JSON.stringify(lastLatency)}`,
      );
      assert.ok(
        lastLatency.value > 100 && lastLatency.value <= 2 * lastLatency.primaryValue,
        `p99 canary ${lastLatency.value} vs primary ${lastLatency.primaryValue}`,
      );
      assert.match(lastLatency.threshold, /<= 2 × primary/);
      assert.ok(simulator.stats().byVersion.canary.requests > 0, "the canary did get traffic");
    } finally {
      await weights.stop();
      await simulator.stop();
    }
  });

  it("rolls back a canary with 30 % 5xx against a clean primary; value and threshold in status", async () => {
    const ns = "errors";
    const { simulator, stable } = await setUp(
      ns,
      { failureLimit: 2, metrics: [success(95)] },
      // 30 %, not 10 %: the first tick sees ~40 canary requests, and with 10 % errors a fixed threshold of 95 %
      // passes such a sample 22 % of the time (≤ 2 errors), which moved a CI run on to 50 %. At 30 % that is
      // about 10⁻⁴; the statistics of small samples are the sequential judge's test (e2e/judge-sequential).
      { canary: { ...HEALTHY, errorRate: 0.3 } },
    );
    const weights = recordWeights(ns);
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const r = await assertRolledBack(ns, stable, "success");
      assert.equal(weights.max(), 20, `the canary never got past the first step: ${[...weights.seen]}`);
      assert.equal(r.status?.analysis?.failedChecks, 2, brief(r));
      const fails = history(r, "success").filter((m) => m.verdict === "Fail");
      assert.equal(fails.length, 2, brief(r));
      for (const f of fails) {
        // The canary gets ~8 requests/s at 20 %, and the first tick sees only ~5 s of them: sampling and rate()
        // extrapolation over so few requests move the ratio: one standard deviation is ~7 points, so ± 25.
        assert.ok(
          typeof f.value === "number" && Math.abs(f.value - 70) <= 25,
          `measured ${f.value}, expected ≈ 70`,
        );
        assert.equal(f.threshold, ">= 95");
        assert.match(f.message ?? "", /< 95/);
        assert.equal(f.weight, 20);
      }
      await simulator.waitForWeights((w) => w.canary === 0, 10_000);
    } finally {
      await weights.stop();
      await simulator.stop();
    }
  });

  it("rolls back a canary three times slower than the primary (p99 compared to the primary)", async () => {
    const ns = "latency";
    const { simulator, stable } = await setUp(
      ns,
      { failureLimit: 1, metrics: [latencyVsPrimary(1.5)] },
      { canary: { ...HEALTHY, latencyMs: 300 } },
    );
    const weights = recordWeights(ns);
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const r = await assertRolledBack(ns, stable, "latency");
      assert.equal(weights.max(), 20, `weights seen: ${[...weights.seen]}`);
      const fail = history(r, "latency").find((m) => m.verdict === "Fail");
      assert.ok(fail, brief(r));
      assert.ok(
        typeof fail.value === "number" && typeof fail.primaryValue === "number",
        JSON.stringify(fail),
      );
      // Linkerd buckets: ~300 ms lands in (300, 400], ~100 ms in (100, 200] — one bucket higher on a loaded machine
      // (460 seen), so only the lower bounds are exact; the ratio below is the point.
      assert.ok(fail.value > 300 && fail.value <= 500, `canary p99 ${fail.value}`);
      assert.ok(fail.primaryValue > 100 && fail.primaryValue <= 300, `primary p99 ${fail.primaryValue}`);
      assert.ok(fail.value > 1.5 * fail.primaryValue);
      assert.match(fail.threshold, /<= 1\.5 × primary \(\d+(\.\d+)?\)/);
      assert.match(fail.message ?? "", /exceeds 1\.5 × primary/);
    } finally {
      await weights.stop();
      await simulator.stop();
    }
  });

  it("never promotes a canary without traffic: holds the first step, then pauses as Inconclusive", async () => {
    const ns = "silent";
    // The mesh never sends the canary anything: only the primary has series in Prometheus.
    const { simulator, stable } = await setUp(
      ns,
      { inconclusiveLimit: 3, metrics: [success(99)] },
      { followRoutes: false },
    );
    const weights = recordWeights(ns);
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const paused = await waitFor(
        "pause as Inconclusive",
        () => rollout(ns),
        (r) => r?.status?.phase === "Paused",
        90_000,
        500,
      );
      assert.equal(paused.status?.pauseReason, "Inconclusive", brief(paused));
      assert.equal(paused.status?.currentStepIndex, 0, brief(paused));
      assert.equal(paused.status?.analysis?.inconclusiveCount, 3, brief(paused));
      const ticks = history(paused, "success");
      assert.equal(ticks.length, 3, brief(paused));
      for (const m of ticks) {
        assert.equal(m.verdict, "Inconclusive");
        assert.equal(m.value, undefined, "no value is made up for silence");
        assert.match(m.message ?? "", /no data/);
      }
      assert.ok(
        (await events(ns)).some((e) => e.reason === "Paused" && /inconclusive/.test(e.note ?? "")),
        "a Paused Event says why",
      );
      // Analysis keeps ticking while paused; after two more ticks nothing has moved.
      const lastRun = paused.status?.analysis?.lastRunAt ?? "";
      const later = await waitFor(
        "two more analysis ticks while paused",
        () => rollout(ns),
        (r) => history(r, "success").filter((m) => m.at > lastRun).length >= 2,
        4 * INTERVAL_MS + 10_000,
        500,
      );
      assert.equal(later.status?.phase, "Paused", brief(later));
      assert.equal(later.status?.currentStepIndex, 0);
      assert.equal(later.status?.stableRevision, stable);
      assert.equal(later.status?.promotedBy, undefined);
      assert.ok(
        history(later).every((m) => m.verdict === "Inconclusive"),
        `still no data, never a pass: ${brief(later)}`,
      );
      assert.equal(weights.max(), 20, `weights seen: ${[...weights.seen]}`);
      assert.equal(await canaryWeight(ns), 20);
      assert.equal(simulator.stats().byVersion.canary.requests, 0);
    } finally {
      await weights.stop();
      await simulator.stop();
    }
  });

  it("Prometheus down mid-rollout: steps hold while ticks error, then the rollout promotes once it is back", async () => {
    const ns = "promdown";
    const { simulator, stable } = await setUp(ns, {
      consecutiveErrorLimit: 30,
      metrics: [success(99)],
    });
    const weights = recordWeights(ns);
    let down = false;
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      // Stop Prometheus as soon as the first step routes traffic, before its first tick (one interval later).
      await waitFor(
        "first step",
        () => rollout(ns),
        (r) => r?.status?.phase === "Progressing" && r.status.stepStartedAt !== undefined,
        60_000,
        100,
      );
      await cluster.stopPrometheus();
      down = true;
      // A tick already in flight when Prometheus stopped may still pass; from the first erroring tick on, the
      // rollout must stand still.
      const firstError = await waitFor(
        "the first erroring tick",
        () => rollout(ns),
        (r) => (r?.status?.analysis?.consecutiveErrors ?? 0) >= 1,
        30_000,
        250,
      );
      const stepWhenDown = firstError.status?.currentStepIndex;
      const weightWhenDown = firstError.status?.canaryWeight;
      const lastPassWhenDown = firstError.status?.analysis?.lastPassAt;
      const erroring = await waitFor(
        "three erroring ticks in a row while Prometheus is down",
        () => rollout(ns),
        (r) => (r?.status?.analysis?.consecutiveErrors ?? 0) >= 3,
        60_000,
        500,
      );
      assert.equal(erroring.status?.phase, "Progressing", brief(erroring));
      assert.equal(stepWhenDown, 0, `Prometheus was down before the first tick: ${brief(firstError)}`);
      assert.equal(
        erroring.status?.currentStepIndex,
        stepWhenDown,
        "no step advanced while Prometheus was down",
      );
      assert.equal(erroring.status?.canaryWeight, weightWhenDown);
      assert.equal(erroring.status?.analysis?.lastPassAt, lastPassWhenDown, brief(erroring));
      const errs = history(erroring, "success").filter((m) => m.verdict === "Error");
      assert.ok(errs.length >= 3, brief(erroring));
      assert.ok(
        errs.every((m) => (m.message ?? "").length > 0),
        "errors say what went wrong",
      );
      assert.ok(
        (await events(ns)).some((e) => e.reason === "AnalysisErrors"),
        "an AnalysisErrors Event is recorded",
      );
      assert.equal(weights.max(), weightWhenDown, `weights seen while down: ${[...weights.seen]}`);

      await cluster.restartPrometheus();
      down = false;
      const restartedAt = new Date().toISOString();
      const done = await waitFor(
        "promotion after Prometheus is back",
        () => rollout(ns),
        (r) => r?.status?.phase === "Healthy" && r.status.stableRevision !== stable,
        120_000,
        500,
      );
      assert.equal(done.status?.promotedBy, "Analysis", brief(done));
      assert.equal(done.status?.analysis?.consecutiveErrors, 0, "a pass resets the error streak");
      const passes = history(done, "success").filter((m) => m.verdict === "Pass");
      assert.ok(passes.length >= 2, brief(done));
      assert.ok(
        passes.every((m) => m.at >= restartedAt),
        `every pass came after the restart (${restartedAt}): ${brief(done)}`,
      );
      assert.ok(weights.seen.has(50), `weights seen: ${[...weights.seen]}`);
    } finally {
      if (down) await cluster.restartPrometheus().catch(() => {});
      await weights.stop();
      await simulator.stop();
    }
  });
});
