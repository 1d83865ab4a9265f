// judge: sequential end to end: a real control plane, a real Prometheus scraping the traffic simulator at 5 rps,
// and the controller counting errors since each step started. An A/A canary promotes; a canary with 3× the primary's
// error rate rolls back on the evidence, and status says what the judge saw.
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
const RPS = 5;
/** A 5 % baseline keeps the e2e short: at 5 rps a 3× canary gives the judge about one error every 2 s. */
const BASELINE: Behaviour = { errorRate: 0.05, latencyMs: 20, jitterMs: 5, errorStatus: 500 };
const SAW =
  /^canary \d+\/[\d,]+ errors vs primary \d+\/[\d,]+ in step \d+; evidence [\d.,<> ]+ of 100 needed to fail/;

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess;

const rollout = (ns: string) =>
  getOrUndefined<Rollout>(
    kc,
    `/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts/${NAME}`,
  ) as Promise<Rollout>;
const sequential = (r: Rollout | undefined): Measurement[] =>
  (r?.status?.analysis?.history ?? []).filter((m) => m.metric === "errors" && m.sequential);
const brief = (r: Rollout | undefined) =>
  JSON.stringify({
    phase: r?.status?.phase,
    step: r?.status?.currentStepIndex,
    message: r?.status?.message,
    history: sequential(r).slice(-4),
  });

/** Deploys the app judged by `metric`, waits for Healthy, and starts a 5 rps simulator scraped by Prometheus. */
async function setUp(
  ns: string,
  steps: { setWeight: number }[],
  metric: Record<string, unknown>,
  canary: Behaviour,
): Promise<{ simulator: Simulator; stable: string }> {
  await apply(
    cluster,
    appManifests({
      namespace: ns,
      image: OLD_IMAGE,
      steps,
      analysis: { interval: "5s", failureLimit: 3, inconclusiveLimit: 100, metrics: [metric] },
    }),
  );
  const healthy = await waitFor(
    `${ns}: Healthy after adoption`,
    () => rollout(ns),
    (r) => r?.status?.phase === "Healthy",
    90_000,
  );
  const simulator = await startSimulator({
    kubeconfigPath: cluster.kubeconfigPath,
    namespace: ns,
    service: NAME,
    rps: RPS,
    primary: BASELINE,
    canary,
    pollMs: 250,
  });
  await cluster.addScrapeTarget(simulator.metricsUrl, { job: `sim-${ns}` });
  return { simulator, stable: healthy?.status?.stableRevision ?? "" };
}

describe("judge: sequential against a real Prometheus at 5 rps", () => {
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

  it("promotes an A/A canary, carrying the evidence from step to step", async (t) => {
    const ns = "seq-aa";
    const { simulator, stable } = await setUp(
      ns,
      [{ setWeight: 20 }, { setWeight: 50 }],
      { name: "errors", builtin: "request-success-rate", judge: "sequential", minSamples: 20 },
      BASELINE,
    );
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const done = await waitFor(
        `${ns}: promoted on analysis`,
        () => rollout(ns),
        (r) => r?.status?.phase === "Healthy" && r.status.stableRevision !== stable,
        180_000,
        500,
      );
      assert.equal(done.status?.promotedBy, "Analysis", brief(done));
      assert.equal(done.status?.analysis?.failedChecks, 0, brief(done));
      const seen = sequential(done);
      assert.deepEqual([...new Set(seen.map((m) => m.sequential?.step))], [0, 1], brief(done));
      for (const m of seen) assert.match(m.message ?? "", SAW);
      t.diagnostic(`last tick: ${seen.at(-1)?.message}`);
      const passes = seen.filter((m) => m.verdict === "Pass");
      assert.ok(passes.length >= 2, brief(done));
      for (const p of passes) {
        // A pass needs minSamples canary requests in its step, and both workloads served traffic.
        assert.ok((p.sequential?.canaryRequests ?? 0) >= 20, JSON.stringify(p));
        assert.ok(
          (p.sequential?.primaryRequests ?? 0) > (p.sequential?.canaryRequests ?? 0) * 0.5,
          JSON.stringify(p),
        );
        assert.ok((p.sequential?.logEvidence ?? 99) < Math.log(100), JSON.stringify(p));
      }
      // The step at 50 % starts from what the step at 20 % ended with.
      const lastOfFirst = seen.filter((m) => m.sequential?.step === 0).at(-1);
      const firstOfSecond = seen.find((m) => m.sequential?.step === 1);
      assert.equal(
        firstOfSecond?.sequential?.carriedLogEvidence,
        lastOfFirst?.sequential?.logEvidence,
        brief(done),
      );
    } finally {
      await simulator.stop();
    }
  });

  it("rolls back a canary with 3× the primary's error rate, the evidence in status", async (t) => {
    const ns = "seq-bad";
    const { simulator, stable } = await setUp(
      ns,
      [{ setWeight: 50 }],
      // minSamples holds the step long enough for the evidence to build at this traffic (see docs/analysis/sequential-judge.md#benchmark).
      { name: "errors", builtin: "request-success-rate", judge: "sequential", minSamples: 1500 },
      { ...BASELINE, errorRate: 3 * BASELINE.errorRate },
    );
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const r = await waitFor(
        `${ns}: RolledBack`,
        () => rollout(ns),
        (x) => x?.status?.phase === "RolledBack",
        400_000,
        1000,
      );
      assert.equal(r.status?.stableRevision, stable, "the stable revision stays");
      assert.equal(r.status?.analysis?.failedChecks, 1, `one conclusive Fail is enough: ${brief(r)}`);
      const degraded = r.status?.conditions?.find((c) => c.type === "Degraded");
      assert.equal(degraded?.reason, "AnalysisFailed", brief(r));
      assert.match(
        degraded?.message ?? "",
        /analysis failed \(conclusive\): errors canary \d+\/[\d,]+ errors vs primary/,
      );
      const fail = sequential(r).at(-1);
      assert.equal(fail?.verdict, "Fail", brief(r));
      assert.match(fail?.message ?? "", SAW);
      assert.match(fail?.message ?? "", /: the canary is worse than the primary$/);
      t.diagnostic(`status said: ${fail?.message}`);
      const s = fail?.sequential;
      assert.ok(s && s.logEvidence >= Math.log(100), brief(r));
      // Roughly 3× the errors per request on the canary.
      const ratio = s.canaryEvents / s.canaryRequests / (s.primaryEvents / s.primaryRequests);
      assert.ok(ratio > 1.8 && ratio < 5, `error-rate ratio ${ratio}: ${brief(r)}`);
      assert.ok(s.canaryRequests < 1500, "caught before the step could pass on minSamples");
      await simulator.waitForWeights((w) => w.canary === 0, 30_000);
    } finally {
      await simulator.stop();
    }
  });
});
