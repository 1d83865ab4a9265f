// Reusable analysis templates end to end: a real control plane with the generated template CRDs, a real Prometheus
// scraping the traffic simulator, and the controller (shipped RBAC, --scope-queries) resolving AnalysisTemplates
// and a ClusterAnalysisTemplate into its analysis.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import type { Behaviour } from "./simulator/backend.ts";
import { brief, deploySimulated, history, rollOutPair } from "./support/analysis-app.ts";
import {
  apply,
  appManifests,
  canaryWeight,
  deploymentReplicas,
  getJson,
  getRollout,
  setImage,
  waitForRollout,
} from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const NEW_IMAGE = "ghcr.io/stefanprodan/podinfo:6.0.1";
const HEALTHY: Partial<Behaviour> = { errorRate: 0, latencyMs: 50, jitterMs: 5 };
/** Enough steps that a template edit lands while the rollout is still under way. */
const STEPS = [{ setWeight: 10 }, { setWeight: 20 }, { setWeight: 30 }, { setWeight: 40 }, { setWeight: 50 }];

/** The success rate of Linkerd's inbound responses, the failure class an argument (the builtin, written by hand). */
const SUCCESS_QUERY =
  '(sum(rate(response_total{direction="inbound",namespace="{{ namespace }}",deployment="{{ target }}",classification!="{{ args.failure }}"}[{{ interval }}])) or vector(0)) / sum(rate(response_total{direction="inbound",namespace="{{ namespace }}",deployment="{{ target }}"}[{{ interval }}])) * 100';

const namespace = (name: string) =>
  JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
const template = (
  kind: "AnalysisTemplate" | "ClusterAnalysisTemplate",
  name: string,
  min: number,
  ns?: string,
) =>
  JSON.stringify({
    apiVersion: "vireo.dev/v1alpha1",
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}) },
    spec: {
      args: [
        { name: "failure", default: "failure" },
        { name: "window", type: "duration" },
      ],
      metrics: [
        {
          name: "template-success",
          query: SUCCESS_QUERY.replaceAll("{{ interval }}", "{{ args.window }}"),
          thresholdRange: { min },
        },
      ],
    },
  });

interface EventJson {
  reason?: string;
  note?: string;
  regarding?: { name?: string };
}

let cluster: Cluster;
let controller: ControllerProcess;

const rollout = (ns: string) => getRollout(cluster, ns, NAME) as Promise<Rollout>;
const events = async (ns: string) =>
  (await getJson<{ items: EventJson[] }>(cluster, ["events.events.k8s.io", "-n", ns]))?.items ?? [];

/** Deploys the app naming `templates`, Healthy, with simulated traffic. */
const setUp = (ns: string, templates: unknown[], canary: Partial<Behaviour> = HEALTHY) =>
  deploySimulated(cluster, {
    namespace: ns,
    name: NAME,
    steps: STEPS,
    analysis: { interval: "5s", failureLimit: 1, templates },
    primary: HEALTHY,
    canary,
  });

describe("analysis templates against a real Prometheus", () => {
  before(async () => {
    cluster = await startCluster();
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [...prometheusArgs(cluster.prometheusUrl, "linkerd"), "--scope-queries=true"],
    });
    await apply(cluster, template("ClusterAnalysisTemplate", "success-rate", 95));
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("one ClusterAnalysisTemplate with args in two namespaces: rolls back the bad canary, promotes the good one", async () => {
    const ref = [
      { name: "success-rate", kind: "ClusterAnalysisTemplate", args: [{ name: "window", value: "10s" }] },
    ];
    const [bad, good] = await Promise.all([
      setUp("tpl-bad", ref, { ...HEALTHY, errorRate: 0.3 }),
      setUp("tpl-good", ref),
    ]);
    try {
      const { rolledBack, promoted } = await rollOutPair(cluster, NAME, NEW_IMAGE, "tpl-bad", {
        namespace: "tpl-good",
        stable: good.stable,
      });
      const fail = history(rolledBack, "template-success").find((m) => m.verdict === "Fail");
      assert.ok(fail, brief(rolledBack));
      assert.equal(fail.threshold, ">= 95");
      assert.ok(typeof fail.value === "number" && fail.value < 95, JSON.stringify(fail));
      assert.equal(rolledBack.status?.stableRevision, bad.stable);
      assert.equal(await canaryWeight(cluster, "tpl-bad"), 0);
      assert.equal(
        await deploymentReplicas(cluster, "tpl-bad", `${NAME}-primary`),
        2,
        "the primary keeps serving",
      );
      assert.equal(promoted.status?.promotedBy, "Analysis", brief(promoted));
      assert.ok(
        history(promoted, "template-success").some((m) => m.verdict === "Pass" && (m.value ?? 0) >= 99),
        brief(promoted),
      );
    } finally {
      await Promise.all([bad.simulator.stop(), good.simulator.stop()]);
    }
  });

  it("an AnalysisTemplate edited mid-rollout takes effect at the next tick: the canary is rolled back", async () => {
    const ns = "tpl-edit";
    await apply(cluster, `${namespace(ns)}\n---\n${template("AnalysisTemplate", "gate", 90, ns)}`);
    const { simulator, stable } = await setUp(ns, [
      { name: "gate", args: [{ name: "window", value: "10s" }] },
    ]);
    try {
      await setImage(cluster, ns, NAME, NEW_IMAGE);
      const passing = await waitForRollout(
        cluster,
        ns,
        NAME,
        "a passing tick of the template's metric",
        (r) => history(r, "template-success").some((m) => m.verdict === "Pass"),
        120_000,
      );
      assert.equal(passing.status?.phase, "Progressing", brief(passing));
      const editedAt = new Date().toISOString();
      // Nothing a healthy canary can reach: the edited template must fail it.
      await apply(cluster, template("AnalysisTemplate", "gate", 101, ns));
      const r = await waitForRollout(
        cluster,
        ns,
        NAME,
        "RolledBack",
        (x) => x.status?.phase === "RolledBack",
        90_000,
      );
      const fail = history(r, "template-success").find((m) => m.verdict === "Fail");
      assert.ok(fail && fail.at >= editedAt, brief(r));
      assert.equal(fail.threshold, ">= 101", "judged by the edited template");
      assert.equal(r.status?.stableRevision, stable);
      assert.notEqual(r.status?.promotedBy, "Analysis");
    } finally {
      await simulator.stop();
    }
  });

  it("a missing, foreign or unconfinable template: Invalid with an Event naming it, no traffic, until it is fixed", async () => {
    const ns = "tpl-missing";
    await apply(
      cluster,
      appManifests({
        namespace: ns,
        steps: STEPS,
        analysis: {
          interval: "5s",
          templates: [
            {
              name: "success-rate",
              kind: "ClusterAnalysisTemplate",
              args: [{ name: "window", value: "10s" }],
            },
          ],
        },
      }),
    );
    const healthy = await waitForRollout(cluster, ns, NAME, "Healthy", (r) => r.status?.phase === "Healthy");
    const patch = (templates: unknown[]) =>
      cluster.kubectl([
        "patch",
        `rollout.vireo.dev/${NAME}`,
        "-n",
        ns,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { analysis: { templates } } }),
      ]);
    const invalid = async (what: string, message: RegExp) => {
      const r = await waitForRollout(
        cluster,
        ns,
        NAME,
        what,
        (x) => x.status?.phase === "Invalid" && message.test(x.status?.message ?? ""),
      );
      const ready = r.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "False", brief(r));
      assert.match(ready?.message ?? "", message);
      const evs = await events(ns);
      assert.ok(
        evs.some((e) => e.reason === "InvalidSpec" && message.test(e.note ?? "")),
        `no InvalidSpec Event matching ${message}: ${JSON.stringify(evs.map((e) => [e.reason, e.note]))}`,
      );
      return r;
    };
    assert.equal((await patch([{ name: "absent", args: [] }])).code, 0);
    await invalid("Invalid: missing template", /AnalysisTemplate tpl-missing\/absent not found/);
    // A new revision while the template is missing is never rolled out: no canary weight, the stable stays.
    await setImage(cluster, ns, NAME, NEW_IMAGE);
    await new Promise((r) => setTimeout(r, 8000));
    const held = await rollout(ns);
    assert.equal(held.status?.phase, "Invalid", brief(held));
    assert.equal(held.status?.stableRevision, healthy.status?.stableRevision);
    assert.equal(await canaryWeight(cluster, ns), 0);

    await apply(
      cluster,
      `${namespace("tpl-other")}\n---\n${template("AnalysisTemplate", "mine", 95, "tpl-other")}`,
    );
    assert.equal(
      (await patch([{ name: "mine", namespace: "tpl-other", args: [{ name: "window", value: "10s" }] }]))
        .code,
      0,
    );
    await invalid(
      "Invalid: another namespace's template",
      /AnalysisTemplate tpl-other\/mine is in another namespace/,
    );

    const foreign = JSON.parse(template("AnalysisTemplate", "peek", 95, ns));
    foreign.spec.metrics[0].query = 'sum(up{namespace="kube-system"})';
    await apply(cluster, JSON.stringify(foreign));
    assert.equal((await patch([{ name: "peek", args: [{ name: "window", value: "10s" }] }])).code, 0);
    await invalid("Invalid: a query --scope-queries refuses", /kube-system/);

    await apply(cluster, template("AnalysisTemplate", "absent", 95, ns));
    assert.equal((await patch([{ name: "absent", args: [{ name: "window", value: "oops" }] }])).code, 0);
    await invalid("Invalid: a badly typed argument", /argument window must be a PromQL duration/);

    // Fixed: the Rollout leaves Invalid and the held revision starts as a canary on the template's metric.
    assert.equal((await patch([{ name: "absent", args: [{ name: "window", value: "10s" }] }])).code, 0);
    await waitForRollout(cluster, ns, NAME, "out of Invalid", (r) => r.status?.phase !== "Invalid", 60_000);
  });

  it("kubectl apply refuses a template whose metrics make no sense (CEL, as for a Rollout)", async () => {
    const bad = JSON.parse(template("ClusterAnalysisTemplate", "nonsense", 95));
    delete bad.spec.metrics[0].thresholdRange;
    const r = await cluster.kubectl(["apply", "-f", "-"], { input: JSON.stringify(bad) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /a metric needs thresholdRange, compareToPrimary or both/);
  });
});
