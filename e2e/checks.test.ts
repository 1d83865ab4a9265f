// Checks end to end on the real control plane: webhook checks called on loopback receivers (a failing preRollout
// hook rolls back before the canary gets traffic; a URL outside --allowed-check-urls is never called; a URL from a
// Secret is called only when the Secret opted in, and never shows in status or Events), and Job checks
// run by the real kube-controller-manager Job controller (kwok completes their pods): a passing Job survives a
// SIGKILL of the controller as exactly one Job, a Job past its deadline fails the rollout, a create the API server
// refuses (a quota) fails its run once and is never retried; an approval gate holds promotion through a SIGKILL and
// a restart of the controller until `kubectl vireo approve` releases it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CheckRun } from "../src/api/check-schema.ts";
import { ALLOW_JOBS_LABEL, ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import {
  apply,
  appManifests,
  canaryWeight,
  getJson,
  getRollout,
  setImage,
  waitFor,
  waitForPromotion,
  waitForRollback,
  waitForRollout,
} from "./support/app.ts";
import { CheckReceiver } from "./support/check-receiver.ts";
import { type ControllerProcess, metricValue, startController } from "./support/controller-process.ts";
import { applyApprovalGate, applyWithChecks } from "./support/gated-app.ts";
import { runPlugin } from "./support/plugin.ts";

const NS = "checks";
const NODE_LABEL = "e2e.vireo.dev/checks";
let cluster: Cluster;
let controller: ControllerProcess;
const failing = new CheckReceiver(500);
const passing = new CheckReceiver(200);
const outside = new CheckReceiver(200);

const startVireo = () =>
  startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    // The allow-list names the failing and passing receivers' ports only: `outside` is not on it.
    args: [`--allowed-check-urls=${failing.url("/")}`, `--allowed-check-urls=${passing.url("/")}`],
  });

async function kubectl(args: string[]): Promise<string> {
  const r = await cluster.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The operator's opt-in of `ns` to Job checks, and the ServiceAccount the checks name. */
async function optIn(ns: string): Promise<void> {
  await kubectl(["create", "namespace", ns]);
  await kubectl(["label", "namespace", ns, `${ALLOW_JOBS_LABEL}=true`]);
  await kubectl(["create", "serviceaccount", "tester", "-n", ns]);
}

/** Check Jobs of a Rollout, as the API server lists them. */
async function checkJobs(ns: string, name: string) {
  const list = await getJson<{ items: { metadata: { name: string; uid: string } }[] }>(cluster, [
    "jobs",
    "-n",
    ns,
    "-l",
    `vireo.dev/rollout=${name},vireo.dev/role=check`,
  ]);
  return list?.items ?? [];
}

async function events(ns: string, reason: string): Promise<number> {
  const list = await getJson<{ items: { reason?: string; series?: { count?: number } }[] }>(cluster, [
    "events.events.k8s.io",
    "-n",
    ns,
  ]);
  return (list?.items ?? []).filter((e) => e.reason === reason).length;
}

const JOB_TEMPLATE = (nodeSelector: Record<string, string>) => ({
  template: {
    spec: {
      nodeSelector,
      tolerations: [{ operator: "Exists" }],
      containers: [{ name: "test", image: "registry.example/e2e-tests:1" }],
    },
  },
});

/**
 * Opts `ns` in (unless done already), applies a Rollout whose second step runs a Job check (its pod scheduled only on a node labelled
 * `NODE_LABEL=<node>`), waits for Healthy and starts a new revision.
 */
async function startJobRollout(ns: string, node: string, timeout: string, optingIn = true): Promise<void> {
  if (optingIn) await optIn(ns);
  await apply(
    cluster,
    appManifests({
      namespace: ns,
      steps: [{ setWeight: 20 }, { check: "e2e" }, { setWeight: 50 }],
      extraSpec: {
        checks: [
          {
            name: "e2e",
            job: { serviceAccountName: "tester", timeout, spec: JOB_TEMPLATE({ [NODE_LABEL]: node }) },
          },
        ],
      },
    }),
  );
  await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
  await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
}

/** Waits for the Job rollout of `ns` to roll back, and returns its check run, which must have failed. */
async function failedJobRun(ns: string): Promise<CheckRun | undefined> {
  const r: Rollout = await waitForRollback(cluster, ns);
  const run = r.status?.checks?.find((c) => c.name === "e2e");
  assert.equal(run?.phase, "Failed");
  return run;
}

describe("checks on the real control plane", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    await Promise.all([failing.up(), passing.up(), outside.up()]);
    controller = await startVireo();
  });
  after(async () => {
    await controller?.stop();
    await Promise.all([failing.down(), passing.down(), outside.down()]);
    await cluster?.stop();
  });

  it("a failing preRollout webhook rolls back with the canary never above weight 0", async () => {
    const ns = `${NS}-pre`;
    await applyWithChecks(
      cluster,
      ns,
      [{ name: "smoke", webhook: { url: failing.url("/smoke"), timeout: "2s", retries: 1 } }],
      { preRollout: ["smoke"] },
    );
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const weights: number[] = [];
    let done = false;
    const sampler = (async () => {
      while (!done) {
        weights.push((await canaryWeight(cluster, ns)) ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const r = await waitForRollback(cluster, ns);
    done = true;
    await sampler;
    const positive = weights.filter((w) => w > 0).length;
    console.log(`preRollout webhook failing: ${weights.length} weight samples, ${positive} above 0`);
    assert.equal(positive, 0, `canary weight above 0 in ${positive} samples`);
    const run = r.status?.checks?.find((c) => c.name === "smoke");
    assert.equal(run?.phase, "Failed");
    assert.match(run?.message ?? "", /check webhook: 5xx \(after 2 tries\)/);
    assert.ok(
      !JSON.stringify(r.status).includes("secret-body-text"),
      "the response body stays out of status",
    );
    // Two tries (retries: 1), one run: every request carried the same Idempotency-Key.
    const keys = new Set(failing.hits.filter((h) => h.body.check === "smoke").map((h) => h.key));
    assert.equal(keys.size, 1, `keys ${[...keys]}`);
    const payload = failing.hits[0]?.body ?? {};
    assert.equal(payload.name, "podinfo");
    assert.equal(payload.namespace, ns);
    assert.equal(payload.checksum, r.status?.canaryRevision);
  });

  it("a check URL outside --allowed-check-urls is refused at once and receives 0 requests", async () => {
    const ns = `${NS}-outside`;
    await applyWithChecks(cluster, ns, [{ name: "smoke", webhook: { url: outside.url("/x") } }], {
      preRollout: ["smoke"],
    });
    const r = await waitForRollout(cluster, ns, "podinfo", "Invalid", (x) =>
      (x.status?.conditions ?? []).some((c) => /allowed-check-urls/.test(c.message)),
    );
    assert.ok(r);
    await new Promise((res) => setTimeout(res, 3000));
    assert.equal(outside.hits.length, 0);
  });

  it("a webhook URL from an opted-in Secret is called; from an unlabelled one: 0 requests, a clear message", async () => {
    const ns = `${NS}-secret`;
    const token = "tok-3f9a1c";
    const secret = (name: string, labelled: boolean) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: ns, ...(labelled ? { labels: { [ALLOW_REFERENCE_LABEL]: "true" } } : {}) },
      stringData: { url: passing.url(`/from-secret?token=${token}`) },
    });
    const hook = (name: string) => ({
      name,
      webhook: { urlFrom: { secretKeyRef: { name: `hook-${name}` } }, timeout: "2s", retries: 0 },
    });
    await apply(
      cluster,
      appManifests({
        namespace: ns,
        steps: [{ check: "opted" }, { setWeight: 20 }, { check: "bare" }, { setWeight: 50 }],
        extraSpec: { checks: [hook("opted"), hook("bare")] },
      }),
    );
    await apply(
      cluster,
      [secret("hook-opted", true), secret("hook-bare", false)].map((x) => JSON.stringify(x)).join("\n---\n"),
    );
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const r = await waitForRollback(cluster, ns);
    const calls = (check: string) =>
      passing.hits.filter((h) => h.body.namespace === ns && h.body.check === check);
    const opted = r.status?.checks?.find((c) => c.name === "opted");
    const bare = r.status?.checks?.find((c) => c.name === "bare");
    assert.equal(opted?.phase, "Passed", JSON.stringify(opted));
    assert.equal(calls("opted").length, 1, "the opted-in Secret's URL got the call");
    assert.equal(bare?.phase, "Failed", JSON.stringify(bare));
    assert.match(
      bare?.message ?? "",
      new RegExp(`^check webhook: Secret ${ns}/hook-bare lacks label ${ALLOW_REFERENCE_LABEL}=true`),
    );
    assert.equal(calls("bare").length, 0, "the unlabelled Secret's URL got nothing");
    const events = await getJson<unknown>(cluster, ["events.events.k8s.io", "-n", ns]);
    for (const text of [JSON.stringify(r.status), JSON.stringify(events)])
      assert.ok(
        !text.includes(token) && !text.includes("/from-secret"),
        "the URL stays out of status and Events",
      );
  });

  it("a Job check passes once through a controller SIGKILL: exactly one Job, verdict recorded once", async () => {
    const ns = `${NS}-job`;
    await startJobRollout(ns, "go", "5m");
    // The Job's pod cannot be scheduled until a node carries the label: the Job runs as long as the test wants.
    await waitForRollout(cluster, ns, "podinfo", "the check's Job running", (r) =>
      (r.status?.checks ?? []).some((c) => c.name === "e2e" && c.phase === "Running"),
    );
    assert.equal((await checkJobs(ns, "podinfo")).length, 1);
    await controller.kill();
    controller = await startVireo();
    await new Promise((res) => setTimeout(res, 3000));
    const nodes = await getJson<{ items: { metadata: { name: string } }[] }>(cluster, ["nodes"]);
    const node = nodes?.items[0]?.metadata.name;
    assert.ok(node, "a kwok node");
    await kubectl(["label", "node", node, `${NODE_LABEL}=go`, "--overwrite"]);
    const r = await waitForPromotion(cluster, ns, "Healthy after the check passed", 180_000);
    const jobs = await checkJobs(ns, "podinfo");
    const passed = await events(ns, "CheckPassed");
    console.log(
      `Job check through a SIGKILL: ${jobs.length} Job(s) for 1 run, ${passed} CheckPassed Event(s)`,
    );
    assert.equal(jobs.length, 1, "exactly one Job for the run");
    assert.equal(passed, 1, "verdict recorded once");
    assert.equal(r.status?.checks?.find((c) => c.name === "e2e")?.phase, "Passed");
  });

  it("a Job past its deadline fails the check and rolls back; the Job's condition is in status", async () => {
    const ns = `${NS}-jobfail`;
    await startJobRollout(ns, "never", "5s");
    const run = await failedJobRun(ns);
    assert.match(run?.message ?? "", /DeadlineExceeded|timed out/);
    assert.ok((await canaryWeight(cluster, ns)) === 0);
  });

  it("a Job create the API server refuses fails the run with its reason, once, and is never tried again", async () => {
    const ns = `${NS}-quota`;
    await optIn(ns);
    // No Job may exist in the namespace: the quota admission refuses the create.
    await kubectl(["create", "quota", "no-jobs", "-n", ns, "--hard=count/jobs.batch=0"]);
    await startJobRollout(ns, "go", "5m", false);
    const run = await failedJobRun(ns);
    assert.match(run?.message ?? "", /could not create its Job: .*(exceeded quota|forbidden)/);
    assert.ok(run?.jobRequestedAt, "status recorded that the Job was asked for");
    // The quota lifted, the run stays failed and its Job is not created late.
    await kubectl(["delete", "quota", "no-jobs", "-n", ns]);
    await new Promise((res) => setTimeout(res, 5000));
    assert.equal((await checkJobs(ns, "podinfo")).length, 0);
    assert.equal((await getRollout(cluster, ns, "podinfo"))?.status?.phase, "RolledBack");
  });

  it("an approval gate holds promotion through a controller SIGKILL and restart; kubectl vireo approve releases it", async () => {
    const ns = `${NS}-approve`;
    const healthy = await applyApprovalGate(cluster, ns);
    const stable = healthy.status?.stableRevision;
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    const waiting = await waitForRollout(cluster, ns, "podinfo", "waiting for the approval", (r) =>
      (r.status?.checks ?? []).some((c) => c.name === "release" && c.phase === "Pending"),
    );
    const held = await canaryWeight(cluster, ns);
    assert.equal(held, 50, "the gate waits after the last step, at its weight");

    // Held: from before the kill to well after the new process has reconciled the Rollout (several 5 s ticks), no
    // weight change, no promotion, the stable revision unchanged, the approval still waiting.
    const samples: { weight: number | undefined; phase?: string; stable?: string; approval?: string }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [weight, r] = await Promise.all([
          canaryWeight(cluster, ns),
          getRollout(cluster, ns, "podinfo"),
        ]);
        const approval = r?.status?.checks?.find((c) => c.name === "release")?.phase;
        samples.push({ weight, phase: r?.status?.phase, stable: r?.status?.stableRevision, approval });
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    await controller.kill();
    await new Promise((res) => setTimeout(res, 2000));
    controller = await startVireo();
    const phase = async () =>
      metricValue(await controller.metrics(), "vireo_rollout_phase", { namespace: ns, phase: "Progressing" });
    await waitFor("the restarted controller to reconcile the Rollout", phase, (v) => v === 1, 60_000);
    await new Promise((res) => setTimeout(res, 12_000));
    // A sample is two kubectl calls: on a loaded machine 12 s may hold fewer than enough; sample on until then.
    await waitFor(
      "enough samples",
      async () => samples.length,
      (n) => n > 20,
      120_000,
    );
    sampling = false;
    await sampler;
    const moved = samples.filter(
      (x) =>
        x.weight !== held || x.phase !== "Progressing" || x.stable !== stable || x.approval !== "Pending",
    );
    console.log(`approval gate through a SIGKILL: ${samples.length} samples, ${moved.length} moved`);
    assert.ok(samples.length > 20, `only ${samples.length} samples`);
    assert.deepEqual(moved, [], "nothing moves while the approval waits");
    const after = await getRollout(cluster, ns, "podinfo");
    assert.equal(after?.status?.canaryRevision, waiting.status?.canaryRevision);

    // Released by the real plugin, with the check named by the one approval that waits.
    const approved = await runPlugin(cluster.kubeconfigPath, ["approve", "podinfo", "-n", ns]);
    assert.equal(approved.code, 0, approved.stdout + approved.stderr);
    assert.match(approved.stdout, new RegExp(`^approve ${ns}/podinfo \\(vireo.dev/approve=release/`));
    const r = await waitForPromotion(cluster, ns, "promoted after the approval");
    assert.notEqual(r.status?.stableRevision, stable);
    const run = r.status?.checks?.find((c) => c.name === "release");
    assert.equal(run?.phase, "Passed");
    assert.match(run?.message ?? "", /approved by request \(vireo.dev\/approve=release\//);
    assert.equal(await canaryWeight(cluster, ns), 0);
  });
});
