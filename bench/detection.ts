// Detection-time benchmark: how long from the moment a canary starts failing until the TrafficSplit sends it
// nothing. One local cluster (Prometheus scraping every 1 s), one controller, one app; each run pushes a new
// revision, waits for the first weight step, turns the canary bad and times the rollback.
//
//   npm run bench:detection                       20 runs (≈ 10 min)
//   VIREO_DETECTION_RUNS=5 npm run bench:detection
//
// Environment: VIREO_DETECTION_RUNS (default 20), VIREO_DETECTION_WINDOW (query window, default 10s),
// VIREO_DETECTION_ERROR_RATE (share of failing canary requests once bad, default 0.1),
// VIREO_DETECTION_MAX_TOTAL (stop starting runs after this long, default 14m), VIREO_E2E_KEEP=1 keeps logs.
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { type Cluster, startCluster } from "../e2e/cluster/cluster.ts";
import { getOrUndefined, kubeRequest } from "../e2e/cluster/kube-request.ts";
import { promQuery } from "../e2e/cluster/prometheus.ts";
import { type Simulator, startSimulator } from "../e2e/simulator/simulator.ts";
import { apply, appManifests, waitFor } from "../e2e/support/app.ts";
import { type ControllerProcess, startController } from "../e2e/support/controller-process.ts";
import { parseDuration } from "../src/api/duration.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { bad, HEALTHY, SCRAPE_MS, vireoDetectionAnalysis, vireoDetectionArgs } from "./detection/settings.ts";
import { median } from "./detection/stats.ts";

const NS = "detection";
const NAME = "podinfo";
const INTERVAL = "5s";
const INTERVAL_MS = parseDuration(INTERVAL);
const RUNS = Number(process.env.VIREO_DETECTION_RUNS ?? "20");
const WINDOW = process.env.VIREO_DETECTION_WINDOW ?? "10s";
const WINDOW_MS = parseDuration(WINDOW);
const ERROR_RATE = Number(process.env.VIREO_DETECTION_ERROR_RATE ?? "0.1");
const MAX_TOTAL_MS = parseDuration(process.env.VIREO_DETECTION_MAX_TOTAL ?? "14m");
/** The bound a detection should stay within: one tick interval, a full query window and two scrapes. */
const BOUND_MS = INTERVAL_MS + WINDOW_MS + 2 * SCRAPE_MS;
const POLL_MS = 100;

if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 200)
  throw new Error(`VIREO_DETECTION_RUNS: 1–200, got ${RUNS}`);
const BAD = bad(ERROR_RATE);

interface RunResult {
  run: number;
  /** Canary weight when it turned bad. */
  weight: number;
  /** How long after the step started the canary turned bad. */
  delayMs: number;
  /** Bad → the analysis tick that failed (controller's timestamp). */
  toTickMs: number;
  /** That tick → the TrafficSplit at 0 % canary. */
  tickToRouteMs: number;
  /** Bad → TrafficSplit at 0 % canary. */
  detectionMs: number;
  /** The failing measurement. */
  value: number | undefined;
  /** Ticks after the canary turned bad that did not fail yet (its errors not yet visible enough in the window). */
  missed: number;
}

let kc: KubeConfig;

const get = <T>(path: string) => getOrUndefined<T>(kc, path);
const rollout = () => get<Rollout>(`/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts/${NAME}`);
async function canaryWeight(): Promise<number | undefined> {
  const split = await get<{ spec: { backends: { service: string; weight: number | string }[] } }>(
    `/apis/split.smi-spec.io/v1alpha4/namespaces/${NS}/trafficsplits/${NAME}`,
  );
  const b = split?.spec.backends.find((x) => x.service.endsWith("-canary"));
  return b === undefined ? undefined : Number(b.weight);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new pod template (revision) without changing the image: an annotation per run. */
async function pushRevision(run: number): Promise<void> {
  await kubeRequest(
    kc,
    "PATCH",
    `/apis/apps/v1/namespaces/${NS}/deployments/${NAME}`,
    { spec: { template: { metadata: { annotations: { "bench.vireo.dev/run": String(run) } } } } },
    "application/merge-patch+json",
  );
}

/** Waits until the canary's earlier (bad) traffic has left the query window, so a run never sees the last one. */
async function waitForCleanWindow(cluster: Cluster): Promise<void> {
  const q = `sum(rate(response_total{namespace="${NS}",deployment="${NAME}",direction="inbound"}[${WINDOW}]))`;
  await waitFor(
    "the canary's old traffic to leave the query window",
    async () => {
      const r = await promQuery(cluster.prometheusUrl!, q);
      return r.length === 0 || !(r[0]!.value > 0) ? "clean" : `rate ${r[0]!.value}`;
    },
    (s) => s === "clean",
    WINDOW_MS + 30_000,
    500,
  );
}

async function oneRun(sim: Simulator, run: number): Promise<RunResult> {
  sim.setBackend("canary", HEALTHY);
  const before = await rollout();
  await pushRevision(run);
  const atStep = await waitFor(
    `run ${run}: the new revision at its first weight step`,
    rollout,
    (r) =>
      r?.status?.phase === "Progressing" &&
      r.status.canaryRevision !== before?.status?.canaryRevision &&
      r.status.stepStartedAt !== undefined,
    90_000,
    POLL_MS,
  );
  await waitFor(`run ${run}: 20 % routed`, canaryWeight, (w) => w === 20, 30_000, POLL_MS);
  // Turn bad at a random point of the tick cycle: detection time depends on it.
  const stepStarted = Date.parse(atStep!.status!.stepStartedAt!);
  const delay = Math.random() * INTERVAL_MS;
  await sleep(Math.max(0, stepStarted + delay - Date.now()));
  const preBad = await rollout();
  if (preBad?.status?.phase !== "Progressing")
    throw new Error(
      `run ${run}: rollout left Progressing before the canary turned bad: ${preBad?.status?.message}`,
    );
  sim.setBackend("canary", BAD);
  const badAt = Date.now();
  const weight = (await canaryWeight()) ?? -1;

  const routedAt = await waitFor(
    `run ${run}: TrafficSplit at 0 % canary`,
    async () => ((await canaryWeight()) === 0 ? Date.now() : undefined),
    (t) => t !== undefined,
    BOUND_MS + 60_000,
    POLL_MS,
  );
  const r = await waitFor(
    `run ${run}: RolledBack`,
    rollout,
    (x) => x?.status?.phase === "RolledBack",
    30_000,
    POLL_MS,
  );
  const degraded = r?.status?.conditions?.find((c) => c.type === "Degraded");
  if (degraded?.reason !== "AnalysisFailed")
    throw new Error(`run ${run}: rolled back for ${degraded?.reason}: ${degraded?.message}`);
  const fail = r?.status?.analysis?.history?.findLast((m) => m.verdict === "Fail");
  const tickAt = Date.parse(fail?.at ?? "");
  if (!(tickAt >= badAt))
    throw new Error(`run ${run}: the failing tick (${fail?.at}) came before the canary turned bad`);
  return {
    run,
    weight,
    delayMs: Math.round(delay),
    toTickMs: tickAt - badAt,
    tickToRouteMs: routedAt! - tickAt,
    detectionMs: routedAt! - badAt,
    value: fail?.value,
    missed: (r?.status?.analysis?.history ?? []).filter(
      (m) => Date.parse(m.at) >= badAt && Date.parse(m.at) < tickAt,
    ).length,
  };
}

const sec = (ms: number) => (ms / 1000).toFixed(2);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const cluster = await startCluster();
  kc = cluster.kubeConfig();
  let controller: ControllerProcess | undefined;
  let sim: Simulator | undefined;
  const results: RunResult[] = [];
  const failures: string[] = [];
  try {
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      entry: "bundle",
      args: [...vireoDetectionArgs(cluster.prometheusUrl!), "--log-level=info"],
    });
    await apply(
      cluster,
      appManifests({
        namespace: NS,
        steps: [{ setWeight: 20 }, { setWeight: 50 }],
        analysis: vireoDetectionAnalysis(INTERVAL, WINDOW),
      }),
    );
    await waitFor("Healthy after adoption", rollout, (r) => r?.status?.phase === "Healthy", 90_000, 500);
    sim = await startSimulator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NS,
      service: NAME,
      rps: 40,
      primary: HEALTHY,
      canary: HEALTHY,
      pollMs: 100,
    });
    await cluster.addScrapeTarget(sim.metricsUrl);
    console.error(
      `detection bench: ${RUNS} runs, interval ${INTERVAL}, window ${WINDOW}, scrape ${SCRAPE_MS} ms, canary errors ${ERROR_RATE * 100} %`,
    );

    for (let run = 1; run <= RUNS; run++) {
      if (Date.now() - t0 > MAX_TOTAL_MS) {
        failures.push(`stopped after ${run - 1} runs: VIREO_DETECTION_MAX_TOTAL reached`);
        break;
      }
      try {
        const r = await oneRun(sim, run);
        results.push(r);
        console.error(
          `run ${run}/${RUNS}: detected in ${sec(r.detectionMs)} s (bad at +${sec(r.delayMs)} s into the step)`,
        );
      } catch (err) {
        failures.push((err as Error).message.slice(0, 400));
        console.error(`run ${run}/${RUNS} failed: ${(err as Error).message.slice(0, 400)}`);
      }
      sim.setBackend("canary", HEALTHY);
      await waitForCleanWindow(cluster);
    }
  } finally {
    await sim?.stop();
    await controller?.stop();
    await cluster.stop();
  }

  console.log(
    `\nDetection time: canary turns bad (${ERROR_RATE * 100} % 5xx, threshold success >= 99 %) → TrafficSplit 0 % canary`,
  );
  console.log(`interval ${INTERVAL}, window ${WINDOW}, scrape ${SCRAPE_MS / 1000} s, failureLimit 1\n`);
  console.log(
    table(
      [
        "run",
        "weight",
        "bad at (s into step)",
        "ticks before",
        "bad→tick (s)",
        "tick→route (s)",
        "detection (s)",
        "value",
      ],
      results.map((r) => [
        String(r.run),
        `${r.weight}%`,
        sec(r.delayMs),
        String(r.missed),
        sec(r.toTickMs),
        sec(r.tickToRouteMs),
        sec(r.detectionMs),
        r.value === undefined ? "-" : r.value.toFixed(2),
      ]),
    ),
  );
  if (results.length > 0) {
    const d = results.map((r) => r.detectionMs);
    const within = d.filter((x) => x <= BOUND_MS).length;
    console.log(
      `\n${table(
        ["", "min (s)", "median (s)", "max (s)"],
        [
          ["detection", sec(Math.min(...d)), sec(median(d)), sec(Math.max(...d))],
          [
            "bad→tick",
            sec(Math.min(...results.map((r) => r.toTickMs))),
            sec(median(results.map((r) => r.toTickMs))),
            sec(Math.max(...results.map((r) => r.toTickMs))),
          ],
          [
            "tick→route",
            sec(Math.min(...results.map((r) => r.tickToRouteMs))),
            sec(median(results.map((r) => r.tickToRouteMs))),
            sec(Math.max(...results.map((r) => r.tickToRouteMs))),
          ],
        ],
      )}`,
    );
    console.log(
      `\nbound interval + window + 2 scrapes = ${sec(INTERVAL_MS)} + ${sec(WINDOW_MS)} + ${sec(2 * SCRAPE_MS)} = ${sec(BOUND_MS)} s: ${within}/${results.length} runs within`,
    );
    console.log(`measurement resolution: ${POLL_MS} ms polling of the TrafficSplit`);
    console.log(
      `"ticks before": ticks after the canary turned bad that still passed (errors not yet visible)`,
    );
  }
  for (const f of failures) console.log(`failed: ${f}`);
  console.log(`${results.length}/${RUNS} runs measured in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return failures.length === 0 && results.every((r) => r.detectionMs <= BOUND_MS) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
