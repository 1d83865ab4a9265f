// Slow-Prometheus benchmark: 50 Rollouts measured against a Prometheus that answers after 30 s, and one Rollout
// whose canary fails on another (fast) Prometheus. Measures how long after its failing tick became due that one is
// rolled back (target: within its interval + 2 s) and how long its rollout took to start.
//
//   npm run bench:analysis-slow
//
// Environment: VIREO_SLOW_N (slow Rollouts, default 50), VIREO_SLOW_DELAY (their Prometheus's answer time,
// default 30s), VIREO_SLOW_RUNS (rollbacks measured, default 3), VIREO_E2E_KEEP=1 keeps logs.
import { join } from "node:path";
import { startCluster } from "../e2e/cluster/cluster.ts";
import { startController } from "../e2e/support/controller-process.ts";
import { startFakePrometheus, vector } from "../src/analysis/testing/prom-server.ts";
import { parseDuration } from "../src/api/duration.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { createKubeClients, type KubeClients } from "../src/kube/clients.ts";
import { type AppRef, addServiceRange, appRefs, forEachLimit, pushRevision } from "./scale/fixtures.ts";

const N = Number(process.env.VIREO_SLOW_N ?? "50");
const DELAY_MS = parseDuration(process.env.VIREO_SLOW_DELAY ?? "30s");
const RUNS = Number(process.env.VIREO_SLOW_RUNS ?? "3");
const INTERVAL = "10s";
const INTERVAL_MS = parseDuration(INTERVAL);
const TARGET_MS = INTERVAL_MS + 2_000;
const POLL_MS = 100;
const FAILING: AppRef = { namespace: "failing", name: "app" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sec = (ms: number) => (ms / 1000).toFixed(2);

function manifests(app: AppRef, analysis: Record<string, unknown>): unknown[] {
  const labels = { app: app.name };
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: app.name, namespace: app.namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { "bench.vireo.dev/revision": "1" } },
          spec: { containers: [{ name: "app", image: "ghcr.io/stefanprodan/podinfo:6.0.0" }] },
        },
      },
    },
    {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: app.name, namespace: app.namespace },
      spec: {
        targetRef: { name: app.name },
        service: { port: 80, targetPort: 9898 },
        provider: "smi",
        strategy: { canary: { steps: [{ setWeight: 20 }, { setWeight: 50 }] } },
        analysis: {
          interval: INTERVAL,
          metrics: [{ name: "score", query: "sum(score)", thresholdRange: { min: 90 } }],
          ...analysis,
        },
        progressDeadlineSeconds: 3600,
      },
    },
  ];
}

async function create(clients: KubeClients, app: AppRef, analysis: Record<string, unknown>): Promise<void> {
  const ns = encodeURIComponent(app.namespace);
  const [deployment, rollout] = manifests(app, analysis);
  await clients.request({
    method: "POST",
    path: `/apis/apps/v1/namespaces/${ns}/deployments`,
    body: deployment,
  });
  await clients.request({
    method: "POST",
    path: `/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts`,
    body: rollout,
  });
}

async function main(): Promise<number> {
  if (!(Number.isInteger(N) && N >= 1 && RUNS >= 1))
    throw new Error("VIREO_SLOW_N and VIREO_SLOW_RUNS: >= 1");
  const t0 = Date.now();
  const slowArrivals: number[] = [];
  const slowProm = await startFakePrometheus(() => {
    slowArrivals.push(Date.now());
    return { body: vector("100"), delayMs: DELAY_MS };
  });
  const failingProm = await startFakePrometheus(() => ({ body: vector("50") }));
  const inFlight = () => slowArrivals.filter((at) => Date.now() - at < DELAY_MS).length;
  const cluster = await startCluster({ prometheus: false, timeoutMs: 180_000 });
  const admin = createKubeClients(cluster.kubeConfig(), {
    qps: Number.POSITIVE_INFINITY,
    burst: 1,
    userAgent: "vireo-bench",
  });
  const get = (app: AppRef) =>
    admin.request<Rollout>({
      path: `/apis/vireo.dev/v1alpha1/namespaces/${app.namespace}/rollouts/${app.name}`,
    });
  const waitFor = async (what: string, app: AppRef, ok: (r: Rollout) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await get(app);
      if (ok(r)) return r;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${r.status?.message}`);
      await sleep(POLL_MS);
    }
  };
  const rows: string[][] = [];
  let worstMs = 0;
  try {
    await addServiceRange(admin);
    const controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      entry: "bundle",
      // The slow Rollouts use the controller's default Prometheus; the failing one names its own.
      // The failing canary names its own Prometheus, which the operator must allow (tenant safety).
      args: [
        "--log-level=info",
        `--prometheus-url=${slowProm.url}`,
        `--allowed-prometheus-urls=${failingProm.url}`,
      ],
    });
    const slow = appRefs(N, 10);
    const namespaces = [...new Set([...slow, FAILING].map((a) => a.namespace))];
    await forEachLimit(namespaces, 16, (ns) =>
      admin.request({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: ns } } }),
    );
    // Slow ticks end at the 30 s deadline as errors: allow plenty before a rollback.
    await forEachLimit(slow, 16, (app) =>
      create(admin, app, { consecutiveErrorLimit: 100, prometheus: { timeout: "60s" } }),
    );
    await create(admin, FAILING, { failureLimit: 1, prometheus: { address: failingProm.url } });
    await forEachLimit([...slow, FAILING], 16, async (app) => {
      await waitFor(
        `${app.namespace}/${app.name} Healthy`,
        app,
        (r) => r.status?.phase === "Healthy",
        180_000,
      );
    });
    console.error(`${N + 1} Rollouts Healthy after ${sec(Date.now() - t0)} s; starting the slow rollouts`);
    await pushRevision(admin, slow, "2");
    const deadline = Date.now() + 60_000;
    while (inFlight() < Math.min(N, 16) && Date.now() < deadline) await sleep(200);
    console.error(`${inFlight()} measurements waiting on the slow Prometheus`);

    for (let run = 1; run <= RUNS; run++) {
      const pushed = Date.now();
      await pushRevision(admin, [FAILING], `fail-${run}`);
      const started = await waitFor(
        "the failing rollout's start",
        FAILING,
        (r) => r.status?.phase === "Progressing",
        60_000,
      );
      const startMs = Date.now() - pushed;
      const atStep = await waitFor(
        "its first step",
        FAILING,
        (r) => r.status?.stepStartedAt !== undefined,
        60_000,
      );
      const due = Date.parse(atStep.status!.stepStartedAt!) + INTERVAL_MS;
      const slowAtDue = inFlight();
      const rolledBack = await waitFor(
        "RolledBack",
        FAILING,
        (r) => r.status?.phase === "RolledBack",
        120_000,
      );
      const seenMs = Date.now() - due;
      const fail = rolledBack.status?.analysis?.history?.findLast((m) => m.verdict === "Fail");
      const tickMs = Date.parse(fail?.at ?? "") - due;
      worstMs = Math.max(worstMs, seenMs);
      rows.push([
        String(run),
        sec(startMs),
        sec(tickMs),
        sec(seenMs),
        String(slowAtDue),
        String(started.status?.canaryRevision ?? "").slice(0, 10),
      ]);
      console.error(`run ${run}: rolled back ${sec(seenMs)} s after its tick was due`);
    }
    const text = await controller.metrics();
    const discarded = text
      .split("\n")
      .filter((l) => l.startsWith("vireo_analysis_measurements_discarded_total{"))
      .join(", ");
    await controller.stop();
    console.log(
      `\nSlow Prometheus: ${N} Rollouts on a Prometheus answering after ${sec(DELAY_MS)} s; one failing canary ` +
        `on its own Prometheus, interval ${INTERVAL}, failureLimit 1, 4 workers, --analysis-concurrency 16\n`,
    );
    const header = [
      "run",
      "push→start (s)",
      "due→tick (s)",
      "due→RolledBack seen (s)",
      "slow in flight",
      "rev",
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
    console.log([line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n"));
    console.log(
      `\nworst due→RolledBack ${sec(worstMs)} s; target interval + 2 s = ${sec(TARGET_MS)} s: ${worstMs <= TARGET_MS ? "met" : "MISSED"}`,
    );
    console.log(
      `slow-Prometheus queries received: ${slowArrivals.length}; discarded: ${discarded || "none"}`,
    );
    console.log(`measurement resolution: ${POLL_MS} ms polling; total ${sec(Date.now() - t0)} s`);
  } finally {
    await cluster.stop();
    await slowProm.close();
    await failingProm.close();
  }
  return worstMs <= TARGET_MS ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
