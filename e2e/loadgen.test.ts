// e2e: the load generator as a Rollout's load source. A Rollout with no organic traffic runs `vireo loadgen` as a
// webhook check step; its load goes through Traefik's weighted route to real pod processes, Prometheus scrapes
// Traefik, and the sequential judge promotes on that evidence alone. A load target in another namespace is refused
// by the load generator and the check fails with its reason.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import type { Cluster } from "./cluster/cluster.ts";
import { podAppDeployment, setEnv } from "./dataplane/real-pod-app.ts";
import { GATEWAY, type RealProxyEnv, startRealProxyEnv } from "./dataplane/real-proxy-env.ts";
import type { Traefik } from "./dataplane/traefik.ts";
import { apply, waitForRollout } from "./support/app.ts";
import {
  type ControllerProcess,
  metricValue,
  prometheusArgs,
  startController,
} from "./support/controller-process.ts";
import { startLoadgen } from "./support/loadgen-process.ts";

const NS = "lg";
const NAME = "podinfo";
const HOST = `${NAME}.${NS}.example.test`;
/** Both versions answer 5 % errors (an A/A canary): the judge has errors to compare, so evidence comes in seconds. */
const ERROR_RATE = "0.05";
const RPS = 50;

interface RunReport {
  run: string;
  state: string;
  sent: number;
  skipped: number;
  achievedRps: number;
  outcomes: Record<string, number>;
  planned: { requests: number };
}

const phaseOf = (r: Rollout | undefined) => r?.status?.phase;

/** A Rollout whose first step is the load check, and (with `app`) its namespace and the app's Deployment. */
function manifests(loadgenUrl: string, metadata: Record<string, string>, app = true): string {
  const rollout = {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: NAME, namespace: NS },
    spec: {
      targetRef: { name: NAME },
      service: { port: 80, targetPort: 9898 },
      provider: "gateway-api",
      gatewayApi: {
        parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace, sectionName: GATEWAY.listener }],
        hostnames: [HOST],
      },
      checks: [{ name: "load", webhook: { url: `${loadgenUrl}/load`, timeout: "5s", retries: 1, metadata } }],
      strategy: { canary: { steps: [{ check: "load" }, { setWeight: 20 }, { setWeight: 50 }] } },
      analysis: {
        interval: "4s",
        failureLimit: 3,
        inconclusiveLimit: 2,
        maxStepDuration: "5m",
        metrics: [{ name: "errors", builtin: "request-success-rate", judge: "sequential" }],
      },
      progressDeadlineSeconds: 300,
    },
  };
  const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } };
  const deployment = podAppDeployment({ namespace: NS, name: NAME, env: { ERROR_RATE } });
  return (app ? [ns, deployment, rollout] : [rollout]).map((x) => JSON.stringify(x)).join("\n---\n");
}

describe("the load generator feeds the sequential judge through Traefik", () => {
  let env: RealProxyEnv | undefined;
  let cluster: Cluster;
  let traefik: Traefik;
  let controller: ControllerProcess | undefined;
  let loadgen: (ControllerProcess & { url: string }) | undefined;
  const report: string[] = [];

  before(async () => {
    env = await startRealProxyEnv();
    ({ cluster, traefik } = env);
    const logDir = join(cluster.dir, "logs");
    // The load generator of namespace lg connects through the Gateway (as --via), Host naming the target Service.
    loadgen = await startLoadgen({
      namespace: NS,
      logDir,
      args: [`--via=${traefik.webUrl}`, "--target-host={service}.{namespace}.example.test", "--max-rps=100"],
    });
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir,
      args: [
        ...prometheusArgs(cluster.prometheusUrl, "traefik"),
        `--allowed-gateways=${GATEWAY.namespace}/${GATEWAY.name}`,
        "--allowed-hosts=*.example.test",
        `--allowed-check-urls=${loadgen.url}/`,
      ],
    });
  });

  after(async () => {
    await controller?.stop();
    await loadgen?.stop();
    if (report.length > 0) console.log(`\n[loadgen] measured:\n${report.join("\n")}\n`);
    await env?.stop();
  });

  const runs = async () => (await (await fetch(`${loadgen!.url}/runs/`)).json()) as RunReport[];
  const traefikRequests = async (backend: string) =>
    metricValue(await (await fetch(traefik.metricsUrl)).text(), "traefik_service_requests_total", {
      service: `${NS}-${backend}-http-80@kubernetesgateway`,
    });

  it("a Rollout with no organic traffic is promoted by the sequential judge on the load generator's load", async () => {
    await apply(cluster, manifests(loadgen!.url, { service: NAME, rps: String(RPS), duration: "150s" }));
    const healthy = await waitForRollout(
      cluster,
      NS,
      NAME,
      "Healthy",
      (r) => phaseOf(r) === "Healthy",
      90_000,
    );
    assert.equal(
      await traefikRequests(`${NAME}-primary`),
      0,
      "no organic traffic: nothing but the load generator",
    );
    const t0 = Date.now();
    await setEnv(cluster, NS, NAME, "VERSION=v2");
    const done = await waitForRollout(
      cluster,
      NS,
      NAME,
      "promoted",
      (r) => phaseOf(r) === "Healthy" && r?.status?.stableRevision !== healthy.status?.stableRevision,
      240_000,
    );
    const verdictS = (Date.now() - t0) / 1000;
    const [run] = await runs();
    assert.ok(run, "one run");
    assert.equal((await runs()).length, 1, "one run for the check (a retried call never starts a second)");
    const check = done.status?.checks?.find((c) => c.name === "load");
    assert.equal(check?.phase, "Passed", JSON.stringify(check));
    assert.equal(done.status?.promotedBy, "Analysis");
    const seq = (done.status?.analysis?.history ?? []).filter((m) => m.metric === "errors" && m.sequential);
    const passes = seq.filter((m) => m.verdict === "Pass");
    assert.ok(passes.length >= 2, `a sequential pass at each weight: ${JSON.stringify(seq.slice(-3))}`);
    for (const p of passes) assert.equal(p.sequential?.passed, true, JSON.stringify(p));
    const canaryN = Math.max(...passes.map((p) => p.sequential?.canaryRequests ?? 0));
    // Every request Traefik served the app came from the load generator, split by the weighted route.
    const canary = await traefikRequests(`${NAME}-canary`);
    const primary = await traefikRequests(`${NAME}-primary`);
    const sent = (await runs())[0]!.sent;
    assert.ok(canary > 0 && primary > 0, `both backends served load: canary ${canary}, primary ${primary}`);
    assert.ok(
      canary + primary <= sent,
      `Traefik served ${canary + primary}, the load generator sent ${sent}`,
    );
    assert.ok(canary + primary >= sent - RPS, `Traefik served ${canary + primary} of ${sent} sent`);
    const load = await loadgen!.metrics();
    report.push(
      `  time to sequential verdict (promotion): ${verdictS.toFixed(1)} s after the new template`,
      `  load generator: ${sent} requests sent by then at ${run.achievedRps} rps achieved (asked ${RPS}), ` +
        `skipped ${run.skipped}; classes ${JSON.stringify((await runs())[0]!.outcomes)}`,
      `  Traefik served canary ${canary}, primary ${primary}; judge's last pass counted ${Math.round(canaryN)} canary requests`,
      `  runs_total started=${metricValue(load, "vireo_loadgen_runs_total", { outcome: "started" })} ` +
        `existing=${metricValue(load, "vireo_loadgen_runs_total", { outcome: "existing" })}`,
    );
    assert.ok(run.achievedRps > RPS * 0.9, `achieved ${run.achievedRps} rps`);
  });

  it("a load target in another namespace is refused, and the check fails with the load generator's reason", async () => {
    const before = await runs();
    const refusedBefore = metricValue(await loadgen!.metrics(), "vireo_loadgen_runs_total", {
      outcome: "refused",
    });
    // Only the Rollout changes: re-applying the Deployment (VERSION=v1) would start a canary of its own.
    await apply(
      cluster,
      manifests(loadgen!.url, { service: NAME, namespace: "infra", rps: "10", duration: "10s" }, false),
    );
    // The new template only once the controller has seen the new spec (else it may start with the old check).
    const seen = await waitForRollout(
      cluster,
      NS,
      NAME,
      "new spec observed",
      (r) => r?.status?.observedGeneration === r?.metadata?.generation && phaseOf(r) === "Healthy",
      30_000,
    );
    const stable = seen.status?.stableRevision;
    await setEnv(cluster, NS, NAME, "VERSION=v3");
    const failed = await waitForRollout(
      cluster,
      NS,
      NAME,
      "RolledBack",
      (r) => phaseOf(r) === "RolledBack",
      90_000,
    );
    const check = failed.status?.checks?.find((c) => c.name === "load");
    assert.equal(check?.phase, "Failed", JSON.stringify(check));
    assert.match(check?.message ?? "", /4xx: load goes to Services of namespace lg only, not infra/);
    assert.equal(failed.status?.stableRevision, stable);
    assert.equal((await runs()).length, before.length, `no run started: ${JSON.stringify(await runs())}`);
    const refused = metricValue(await loadgen!.metrics(), "vireo_loadgen_runs_total", { outcome: "refused" });
    assert.ok(refused > refusedBefore);
    report.push(`  refused: status.checks says "${check?.message}"`);
  });
});
