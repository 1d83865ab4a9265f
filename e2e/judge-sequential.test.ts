// judge: sequential end to end: a real control plane, a real Prometheus scraping the traffic simulator, and the
// controller counting errors since each step started. An A/A canary promotes on evidence that it is no worse; a canary
// with 3× the primary's error rate rolls back on the evidence; a canary at 1 rps is held with InsufficientTraffic
// (said in advance, then paused when its maxStepDuration runs out) instead of promoted on no evidence, and
// `kubectl vireo get` and the dashboard show its evidence bar. Status says what the judge saw.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { chromium } from "playwright-core";
import type { Measurement, Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { getOrUndefined } from "./cluster/kube-request.ts";
import type { Behaviour } from "./simulator/backend.ts";
import { type Simulator, startSimulator } from "./simulator/simulator.ts";
import { apply, appManifests, setImage, waitFor } from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";
import { runPlugin, startPlugin } from "./support/plugin.ts";

const NAME = "podinfo";
const OLD_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.0";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const RPS = 5;
/** A 5 % baseline keeps the e2e short: at 5 rps a 3× canary gives the judge about one error every 2 s. */
const BASELINE: Behaviour = { errorRate: 0.05, latencyMs: 20, jitterMs: 5, errorStatus: 500 };
const SAW =
  /^canary \d+\/[\d,]+ errors vs primary \d+\/[\d,]+ in step \d+; evidence [\d.,<> ]+ of 100 needed to fail, [\d.,<> ]+ of 20 needed to pass/;

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

/** Deploys the app judged by `metric`, waits for Healthy, and starts a simulator (5 rps) scraped by Prometheus. */
async function setUp(
  ns: string,
  steps: { setWeight: number }[],
  metric: Record<string, unknown>,
  canary: Behaviour,
  options: { rps?: number; analysis?: Record<string, unknown> } = {},
): Promise<{ simulator: Simulator; stable: string }> {
  await apply(
    cluster,
    appManifests({
      namespace: ns,
      image: OLD_IMAGE,
      steps,
      analysis: { interval: "5s", failureLimit: 3, metrics: [metric], ...options.analysis },
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
    rps: options.rps ?? RPS,
    primary: BASELINE,
    canary,
    pollMs: 250,
  });
  await cluster.addScrapeTarget(simulator.metricsUrl, { job: `sim-${ns}` });
  return { simulator, stable: healthy?.status?.stableRevision ?? "" };
}

describe("judge: sequential against a real Prometheus", () => {
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

  it("promotes an A/A canary on evidence that it is no worse, carrying the evidence from step to step", async (t) => {
    const ns = "seq-aa";
    const { simulator, stable } = await setUp(
      ns,
      [{ setWeight: 20 }, { setWeight: 50 }],
      { name: "errors", builtin: "request-success-rate", judge: "sequential" },
      BASELINE,
      // Only evidence passes a step here: a tick that merely did not fail is still gathering, and no longer silence.
      { analysis: { inconclusiveLimit: 2 } },
    );
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const done = await waitFor(
        `${ns}: promoted on analysis`,
        () => rollout(ns),
        (r) => r?.status?.phase === "Healthy" && r.status.stableRevision !== stable,
        300_000,
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
        // A pass is evidence: the canary shown under 3× the primary (or its errors under the floor), at 1/beta = 20.
        assert.match(
          p.message ?? "",
          /; shown no worse \(under 3× the primary or its errors under 0\.1 %\)$/,
        );
        assert.equal(p.sequential?.passed, true, JSON.stringify(p));
        assert.ok(
          (p.sequential?.primaryRequests ?? 0) > (p.sequential?.canaryRequests ?? 0) * 0.5,
          JSON.stringify(p),
        );
        assert.ok((p.sequential?.logEvidence ?? 99) < Math.log(100), JSON.stringify(p));
      }
      // Ticks before a pass gathered evidence; they were not "no data", so they never paused the rollout.
      for (const g of seen.filter((m) => m.verdict === "Inconclusive"))
        assert.match(g.message ?? "", /; about [\d,]+ more canary requests needed$/);
      // The step at 50 % starts from what the step at 20 % ended with, for both evidences.
      const lastOfFirst = seen.filter((m) => m.sequential?.step === 0).at(-1);
      const firstOfSecond = seen.find((m) => m.sequential?.step === 1);
      assert.equal(
        firstOfSecond?.sequential?.carriedLogEvidence,
        lastOfFirst?.sequential?.logEvidence,
        brief(done),
      );
      assert.equal(
        firstOfSecond?.sequential?.carriedNoWorseLogEvidence,
        lastOfFirst?.sequential?.noWorseLogEvidence,
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
      // No minSamples: a 3× canary sits on the pass rule's null, so the step waits for evidence either way.
      { name: "errors", builtin: "request-success-rate", judge: "sequential" },
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
      assert.equal(
        sequential(r).filter((m) => m.verdict === "Pass").length,
        0,
        `never passed on the way: ${brief(r)}`,
      );
      await simulator.waitForWeights((w) => w.canary === 0, 30_000);
    } finally {
      await simulator.stop();
    }
  });

  it("holds a 1 rps canary with InsufficientTraffic, said in advance, instead of promoting it on no evidence", async (t) => {
    const ns = "seq-low";
    const budget = "45s";
    const { simulator, stable } = await setUp(
      ns,
      [{ setWeight: 20 }, { setWeight: 50 }],
      { name: "errors", builtin: "request-success-rate", judge: "sequential" },
      BASELINE,
      { rps: 1, analysis: { maxStepDuration: budget } },
    );
    const dashboard = startPlugin(cluster.kubeconfigPath, ["dashboard", "-A"]);
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    try {
      const url = (await dashboard.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/)/))[1] ?? "";
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      // In advance: the step's first ticks already say its evidence is due long after the 45 s budget.
      const warned = await waitFor(
        `${ns}: InsufficientTraffic before the budget runs out`,
        () => rollout(ns),
        (r) =>
          r?.status?.phase === "Progressing" &&
          r.status.conditions?.some(
            (c) => c.type === "InsufficientTraffic" && c.reason === "EtaPastBudget",
          ) === true,
        120_000,
        500,
      );
      const condition = warned.status?.conditions?.find((c) => c.type === "InsufficientTraffic");
      t.diagnostic(`condition while progressing: ${condition?.message}`);
      assert.equal(condition?.status, "True");
      assert.match(
        condition?.message ?? "",
        /^step 1: \d+ of about [\d,]+ canary requests, evidence due at \S+Z at [\d.]+ requests\/min \(errors\); its maxStepDuration 45s runs out at /,
      );
      const e = warned.status?.analysis?.evidence;
      assert.equal(e?.metric, "errors", brief(warned));
      assert.equal(e?.step, 0);
      assert.ok(e?.requestsNeeded !== undefined && e.requestsNeeded > e.canaryRequests, JSON.stringify(e));
      assert.ok(e?.eta && e.eta > e.budgetEndsAt, JSON.stringify(e));
      assert.ok(
        (e?.canaryRequestsPerMinute ?? 99) < 30,
        `about 12 canary requests a minute: ${JSON.stringify(e)}`,
      );
      // kubectl vireo get draws the bar with the ETA, in red words when piped too.
      const get = await runPlugin(cluster.kubeconfigPath, ["get", NAME, "-n", ns]);
      assert.equal(get.code, 0, get.stderr);
      t.diagnostic(get.stdout.split("\n").find((l) => l.startsWith("Evidence")) ?? get.stdout);
      assert.match(
        get.stdout,
        /Evidence:\s+[█░]{20} \d+\/~[\d,]+ canary requests \(errors\) · ETA \S+: InsufficientTraffic · \d+s of maxStepDuration left/,
      );
      // So does the dashboard.
      const page = await browser.newPage();
      await page.goto(`${url}rollouts/${ns}/${NAME}`);
      const bar = await page.waitForSelector('[data-testid="evidence"].late', { timeout: 30_000 });
      assert.match(
        (await bar.textContent()) ?? "",
        /canary requests \(errors\) · (ETA \S+|no ETA): InsufficientTraffic · /,
      );
      // The budget runs out without a verdict: paused for a person, not promoted, the canary still at 20 %.
      const held = await waitFor(
        `${ns}: paused with NoEvidence`,
        () => rollout(ns),
        (r) => r?.status?.phase === "Paused",
        120_000,
        500,
      );
      assert.equal(held.status?.pauseReason, "NoEvidence", brief(held));
      assert.equal(held.status?.stableRevision, stable, "not promoted");
      assert.equal(held.status?.canaryWeight, 20);
      assert.equal(sequential(held).filter((m) => m.verdict === "Pass").length, 0, brief(held));
      const elapsed = Date.parse(held.status?.pausedAt ?? "") - Date.parse(held.status?.stepStartedAt ?? "");
      assert.ok(elapsed >= 45_000 && elapsed < 60_000, `paused ${elapsed} ms into the step`);
      const spent = held.status?.conditions?.find((c) => c.type === "InsufficientTraffic");
      assert.equal(spent?.reason, "NoEvidence", brief(held));
      assert.match(
        held.status?.message ?? "",
        /no verdict within maxStepDuration 45s; set vireo\.dev\/resume/,
      );
      await page.waitForSelector('[data-testid="phase"]:has-text("Paused")', { timeout: 30_000 });
      await simulator.waitForWeights((w) => w.canary === 20, 10_000);
    } finally {
      await browser.close();
      await dashboard.stop();
      await simulator.stop();
    }
  });
});
