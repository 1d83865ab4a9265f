// Argo Rollouts' own analysis templates end to end: a real control plane, Argo's upstream AnalysisTemplate and
// ClusterAnalysisTemplate CRDs (argoproj.io, from the Go module cache) installed while the controller runs, a real
// Prometheus scraping the traffic simulator, and the controller (shipped RBAC, --scope-queries) reading them.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { installCrdObjects } from "./cluster/manifests.ts";
import { argoTemplateCrds } from "./cluster/upstream-crds.ts";
import type { Behaviour } from "./simulator/backend.ts";
import { brief, deploySimulated, history, rollOutPair } from "./support/analysis-app.ts";
import {
  apply,
  appManifests,
  canaryWeight,
  getJson,
  getRollout,
  setImage,
  waitForRollout,
} from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const HEALTHY: Partial<Behaviour> = { errorRate: 0, latencyMs: 50, jitterMs: 5 };
const STEPS = [{ setWeight: 20 }, { setWeight: 50 }];
const ANALYSIS = { interval: "5s", failureLimit: 1 };

/** The success rate of the simulator's Linkerd-style responses, written the Argo way: everything through args. */
const ARGO_QUERY =
  '(sum(rate(response_total{direction="inbound",namespace="{{args.namespace}}",deployment="{{args.service-name}}",classification!="failure"}[{{args.window}}])) or vector(0)) / sum(rate(response_total{direction="inbound",namespace="{{args.namespace}}",deployment="{{args.service-name}}"}[{{args.window}}])) * 100';

/** An Argo ClusterAnalysisTemplate as an Argo user writes it (Argo's failureLimit 0 is Vireo's failureLimit 1). */
const SUCCESS_RATE = JSON.stringify({
  apiVersion: "argoproj.io/v1alpha1",
  kind: "ClusterAnalysisTemplate",
  metadata: { name: "success-rate" },
  spec: {
    args: [{ name: "namespace" }, { name: "service-name" }, { name: "window", value: "10s" }],
    metrics: [
      {
        name: "argo-success",
        interval: "5s",
        failureLimit: 0,
        successCondition: "result[0] >= 95",
        provider: { prometheus: { query: ARGO_QUERY } },
      },
    ],
  },
});
/** An Argo template with a job provider, which Vireo refuses. */
const SMOKE = JSON.stringify({
  apiVersion: "argoproj.io/v1alpha1",
  kind: "ClusterAnalysisTemplate",
  metadata: { name: "smoke" },
  spec: {
    metrics: [
      {
        name: "smoke",
        provider: {
          job: {
            spec: {
              template: {
                spec: {
                  restartPolicy: "Never",
                  containers: [{ name: "t", image: "busybox", command: ["true"] }],
                },
              },
            },
          },
        },
      },
    ],
  },
});

const argoRef = (name: string, args: { name: string; value: string }[] = []) => ({
  apiGroup: "argoproj.io",
  kind: "ClusterAnalysisTemplate",
  name,
  args,
});

let cluster: Cluster;
let controller: ControllerProcess;

const eventNotes = async (ns: string) =>
  (
    (
      await getJson<{ items: { reason?: string; note?: string }[] }>(cluster, [
        "events.events.k8s.io",
        "-n",
        ns,
      ])
    )?.items ?? []
  ).map((e) => `${e.reason}: ${e.note}`);

async function waitForEvent(ns: string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const notes = await eventNotes(ns);
    if (notes.some((n) => pattern.test(n))) return;
    if (Date.now() > deadline) assert.fail(`no Event matching ${pattern}: ${JSON.stringify(notes)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Deploys the app analysed by the Argo template, Healthy, with simulated traffic. */
const setUp = (ns: string, canary: Partial<Behaviour>) =>
  deploySimulated(cluster, {
    namespace: ns,
    name: NAME,
    steps: STEPS,
    analysis: {
      ...ANALYSIS,
      templates: [
        argoRef("success-rate", [
          { name: "namespace", value: ns },
          { name: "service-name", value: NAME },
        ]),
      ],
    },
    primary: HEALTHY,
    canary,
  });

describe("Argo Rollouts' AnalysisTemplates (argoproj.io) against a real Prometheus", () => {
  before(async () => {
    cluster = await startCluster();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [...prometheusArgs(cluster.prometheusUrl, "linkerd"), "--scope-queries=true"],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("before Argo's CRDs are served a Rollout naming an Argo template gets a clear error; a job provider then makes it Invalid; no traffic moves", async () => {
    const ns = "argo-job";
    await apply(
      cluster,
      appManifests({ namespace: ns, steps: STEPS, analysis: { ...ANALYSIS, metrics: [] } }),
    );
    const healthy = await waitForRollout(cluster, ns, NAME, "Healthy", (r) => r.status?.phase === "Healthy");
    const patch = await cluster.kubectl([
      "patch",
      `rollout.vireo.dev/${NAME}`,
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { analysis: { templates: [argoRef("smoke")] } } }),
    ]);
    assert.equal(patch.code, 0, patch.stderr);
    await setImage(cluster, ns, NAME, NEW_IMAGE);
    await waitForEvent(
      ns,
      /ReconcileError: argoproj\.io ClusterAnalysisTemplates are not listed yet: is the CRD clusteranalysistemplates\.argoproj\.io installed/,
    );
    assert.equal(await canaryWeight(cluster, ns), 0, "no traffic while the templates cannot be read");

    // Argo's upstream CRDs appear while the controller runs (as when Argo Rollouts is installed later).
    await installCrdObjects(cluster.kubeConfig(), argoTemplateCrds());
    await apply(cluster, `${SMOKE}\n---\n${SUCCESS_RATE}`);
    const invalid = await waitForRollout(cluster, ns, NAME, "Invalid naming the job provider", (r) =>
      /provider\.job is not supported/.test(r.status?.message ?? ""),
    );
    assert.equal(invalid.status?.phase, "Invalid", brief(invalid));
    assert.match(
      invalid.status?.message ?? "",
      /Argo ClusterAnalysisTemplate smoke cannot be used: spec\.metrics\[0\] \(metric smoke\)\.provider\.job is not supported/,
    );
    await waitForEvent(ns, /InvalidSpec: .*Argo ClusterAnalysisTemplate smoke cannot be used/);
    assert.equal(await canaryWeight(cluster, ns), 0, "no traffic moved");
    assert.equal(
      (await getRollout(cluster, ns, NAME))?.status?.stableRevision,
      healthy.status?.stableRevision,
    );
  });

  it("one Argo ClusterAnalysisTemplate with args: its Prometheus metric promotes the good canary and rolls back the bad one", async () => {
    const [bad, good] = await Promise.all([
      setUp("argo-bad", { ...HEALTHY, errorRate: 0.3 }),
      setUp("argo-good", HEALTHY),
    ]);
    try {
      const { rolledBack, promoted } = await rollOutPair(cluster, NAME, NEW_IMAGE, "argo-bad", {
        namespace: "argo-good",
        stable: good.stable,
      });
      const fail = history(rolledBack, "argo-success").find((m) => m.verdict === "Fail");
      assert.ok(fail, brief(rolledBack));
      assert.equal(fail.threshold, ">= 95", "Argo's successCondition result[0] >= 95");
      assert.ok(typeof fail.value === "number" && fail.value < 95, JSON.stringify(fail));
      assert.equal(rolledBack.status?.stableRevision, bad.stable);
      assert.equal(await canaryWeight(cluster, "argo-bad"), 0);
      assert.equal(promoted.status?.promotedBy, "Analysis", brief(promoted));
      assert.ok(
        history(promoted, "argo-success").some((m) => m.verdict === "Pass" && (m.value ?? 0) >= 95),
        brief(promoted),
      );
    } finally {
      await Promise.all([bad.simulator.stop(), good.simulator.stop()]);
    }
  });
});
