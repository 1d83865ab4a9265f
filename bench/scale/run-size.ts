// One benchmark run: fresh cluster, N apps adopted, one new revision pushed to all, measured until promoted.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CONTROLLER_NODE_FLAGS } from "../../deploy/bundle.ts";
import { type Cluster, startCluster } from "../../e2e/cluster/cluster.ts";
import { type ControllerProcess, startController } from "../../e2e/support/controller-process.ts";
import { parseDuration } from "../../src/api/duration.ts";
import { createKubeClients } from "../../src/kube/clients.ts";
import { addServiceRange, appRefs, createApps, pushRevision, STAGE_WEIGHTS } from "./fixtures.ts";
import { memory, type ProcessUsage, ProcSampler, systemBusySeconds } from "./proc-sampler.ts";
import { bucketDelta, fractionAtMost, quantile, Scrape } from "./prom-text.ts";
import { RolloutTracker } from "./tracker.ts";
import { type WriteBreakdown, WriteCounter } from "./write-counter.ts";

/** Settings of one run. */
export interface RunOptions {
  n: number;
  /** Pause per stage, e.g. "10s". */
  pause: string;
  /** Controller --kube-qps/--kube-burst; undefined = the controller's defaults (50/100). */
  qps: number | undefined;
  burst: number | undefined;
  workers: number;
  perNamespace: number;
  /** Budget for create + adoption. */
  setupTimeoutMs: number;
  /** Budget for the measured rollout. */
  rolloutTimeoutMs: number;
  logLevel: string;
  /** Node's flags for the controller bundle; undefined: the image's (deploy/bundle.ts, CONTROLLER_NODE_FLAGS). */
  nodeFlags: readonly string[] | undefined;
  /** Environment for the controller (e.g. MALLOC_ARENA_MAX), besides the benchmark's own. */
  env?: Record<string, string>;
  /** Run this bundle instead of the current sources' (a baseline's, for before/after). */
  bundlePath?: string;
  /**
   * Write V8 heap snapshots of the controller here: once settled (before the push) and once after the rollout.
   * A snapshot pauses the controller and doubles its heap for a moment, so the run's peak RSS is not its own.
   */
  heapSnapshotDir?: string;
  /** Progress lines go here. */
  log: (line: string) => void;
}

/** Summary statistics of a sample (seconds). */
export interface Dist {
  count: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

/** Everything measured in one run. */
export interface RunResult {
  n: number;
  qps: string;
  workers: number;
  pauseSeconds: number;
  stages: number;
  completed: boolean;
  promoted: number;
  failed: number;
  setupSeconds: number;
  pushSeconds: number;
  /** Push start → last promotion seen (or the deadline, when incomplete). */
  totalSeconds: number;
  idealSeconds: number;
  /** Push start → each rollout's promotion. */
  perRollout: Dist;
  /** How late a pause step ended after its duration (stepStartedAt of the next step − pause end). */
  pauseLateness: Dist;
  reconciles: number;
  reconcileP50: number;
  reconcileP99: number;
  /** Exact share of reconciles ≤ 200 ms (0.2 is a bucket boundary). */
  reconcileUnder200ms: number | undefined;
  queueWaitP50: number;
  queueWaitP99: number;
  peakQueueDepth: number;
  requestsByVerb: Record<string, number>;
  reads: number;
  writes: number;
  readsPerStepPerRollout: number;
  writesPerStepPerRollout: number;
  /** Controller peak VmRSS while rolling out, and VmHWM over the whole run (bytes). */
  controllerPeakRss: number;
  controllerHwm: number;
  /** Controller VmRSS with every Rollout Healthy and the queue quiet, before the push (bytes): idle at N. */
  controllerSettledRss: number;
  controllerCpuSeconds: number;
  /** CPU seconds of each cluster process (and the bench itself) during the rollout. */
  clusterCpu: { name: string; cpuSeconds: number; peakRss: number }[];
  /** GETs of the kinds only the controller reads, from the API server's counters. */
  readsByResource: Record<string, number>;
  /** Writes attributed by watching what they changed. */
  writeBreakdown: WriteBreakdown;
  /** Every client's non-watch requests as the API server saw them: count and latency quantiles (seconds). */
  apiserverRequests: number;
  apiserverP50: number;
  apiserverP99: number;
  /** Highest per-5 s p99 and max of the controller's event-loop delay (seconds). */
  eventLoopLagP99: number;
  eventLoopLagMax: number;
  /** V8 heap: largest total size seen, and used / external bytes at the end (from the controller's /metrics). */
  heapTotalMax: number;
  heapUsedEnd: number;
  externalEnd: number;
  /** The controller's Node flags, as run. */
  nodeFlags: string;
  /** Busy CPU seconds of the whole machine during the rollout, and the part used by processes not listed. */
  machineBusySeconds: number;
  otherCpuSeconds: number;
}

const READ_VERBS = new Set(["get", "list", "watch"]);
const CONTROLLER_READ_KINDS = new Set(["trafficsplits", "traffictargets", "httproutegroups"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function dist(values: number[]): Dist {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return { count: 0, min: Number.NaN, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const at = (q: number) => v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)]!;
  return { count: v.length, min: v[0]!, p50: at(0.5), p99: at(0.99), max: v.at(-1)! };
}

/** Nodes for `n` apps: up to 2n pods at the peak (primary + canary), 110 pods a kwok node, with headroom. */
export function nodesFor(n: number): number {
  return Math.max(3, Math.ceil((2.2 * n) / 100));
}

/** Runs one size; always stops the controller and the cluster. */
export async function runSize(o: RunOptions): Promise<RunResult> {
  const pauseMs = parseDuration(o.pause);
  const stages = STAGE_WEIGHTS.length;
  const apps = appRefs(o.n, o.perNamespace);
  let cluster: Cluster | undefined;
  let controller: ControllerProcess | undefined;
  let tracker: RolloutTracker | undefined;
  let writeCounter: WriteCounter | undefined;
  let whole: ProcSampler | undefined;
  try {
    const t = Date.now();
    cluster = await startCluster({ prometheus: false, nodes: nodesFor(o.n), timeoutMs: 180_000 });
    o.log(`cluster up in ${((Date.now() - t) / 1000).toFixed(1)} s with ${nodesFor(o.n)} kwok nodes`);
    const admin = createKubeClients(cluster.kubeConfig(), {
      qps: Number.POSITIVE_INFINITY,
      burst: 1,
      userAgent: "vireo-bench",
    });
    await addServiceRange(admin);
    tracker = new RolloutTracker(admin);
    writeCounter = new WriteCounter(admin);
    await Promise.all([tracker.start(), writeCounter.start()]);
    const args = [`--log-level=${o.logLevel}`, `--workers=${o.workers}`];
    const nodeFlags = o.heapSnapshotDir
      ? [
          ...(o.nodeFlags ?? CONTROLLER_NODE_FLAGS),
          "--heapsnapshot-signal=SIGUSR2",
          `--diagnostic-dir=${o.heapSnapshotDir}`,
        ]
      : o.nodeFlags;
    if (o.qps !== undefined) args.push(`--kube-qps=${o.qps}`);
    if (o.burst !== undefined) args.push(`--kube-burst=${o.burst}`);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      entry: "bundle",
      args,
      ...(nodeFlags ? { nodeFlags } : {}),
      ...(o.env ? { env: o.env } : {}),
      ...(o.bundlePath ? { bundlePath: o.bundlePath } : {}),
    });
    const procs = [
      { name: "controller", pid: controller.pid },
      ...cluster.processes().filter((p) => p.name !== "reaper"),
      { name: "bench", pid: process.pid },
    ];
    whole = new ProcSampler(procs);
    whole.start();

    // Setup: create everything, wait until every Rollout adopted its Deployment (Healthy).
    const setupStart = Date.now();
    await createApps(admin, apps, o.pause);
    o.log(`created ${o.n} apps in ${((Date.now() - setupStart) / 1000).toFixed(1)} s; waiting for Healthy`);
    const setupDeadline = setupStart + o.setupTimeoutMs;
    let lastLog = Date.now();
    while (tracker.healthyCount() < o.n) {
      if (Date.now() > setupDeadline)
        throw new Error(
          `setup: only ${tracker.healthyCount()}/${o.n} Rollouts Healthy after ${o.setupTimeoutMs / 1000} s ` +
            `(phases ${fmtPhases(tracker.phases())}); controller log: ${controller.logPath}`,
        );
      if (controller.exited()) throw new Error(`controller exited during setup; see ${controller.logPath}`);
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        o.log(`  setup: ${tracker.healthyCount()}/${o.n} Healthy (${fmtPhases(tracker.phases())})`);
      }
      await tracker.changed(1000);
    }
    const setupSeconds = (Date.now() - setupStart) / 1000;
    o.log(`all ${o.n} Healthy after ${setupSeconds.toFixed(1)} s; settling`);
    await settle(controller, 60_000);
    const settledRss = memory(controller.pid)?.rss ?? 0;
    if (o.heapSnapshotDir) await heapSnapshot(controller, o.heapSnapshotDir, o.log);

    // Measured phase.
    const before = new Scrape(await controller.metrics());
    const apiBefore = await apiserverMetrics(cluster);
    tracker.arm();
    writeCounter.arm();
    const phase = new ProcSampler(procs);
    phase.start();
    const busy0 = systemBusySeconds();
    const t0 = Date.now();
    await pushRevision(admin, apps, "2");
    const pushSeconds = (Date.now() - t0) / 1000;
    o.log(`pushed revision 2 to ${o.n} Deployments in ${pushSeconds.toFixed(1)} s`);
    const deadline = t0 + o.rolloutTimeoutMs;
    let peakQueueDepth = 0;
    let loopLagP99 = 0;
    let loopLagMax = 0;
    let heapTotalMax = 0;
    let lastScrape = 0;
    lastLog = Date.now();
    for (;;) {
      const { promoted, failed, total } = tracker.progress();
      if (promoted + failed >= total) break;
      if (Date.now() > deadline) {
        o.log(
          `  deadline: ${promoted}/${total} promoted, ${failed} failed after ${o.rolloutTimeoutMs / 1000} s`,
        );
        break;
      }
      if (controller.exited())
        throw new Error(`controller exited during the rollout; see ${controller.logPath}`);
      if (Date.now() - lastScrape > 5000) {
        // Not more often: rendering /metrics (≈12 series per Rollout) takes the controller's event loop too.
        lastScrape = Date.now();
        const m = new Scrape(await controller.metrics());
        peakQueueDepth = Math.max(peakQueueDepth, m.sum("vireo_workqueue_depth"));
        loopLagP99 = Math.max(loopLagP99, m.sum("nodejs_eventloop_lag_p99_seconds"));
        loopLagMax = Math.max(loopLagMax, m.sum("nodejs_eventloop_lag_max_seconds"));
        heapTotalMax = Math.max(heapTotalMax, m.sum("nodejs_heap_size_total_bytes"));
      }
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        o.log(
          `  t+${((Date.now() - t0) / 1000).toFixed(0)} s: ${promoted}/${total} promoted, ${failed} failed ` +
            `(${fmtPhases(tracker.phases())}), queue peak ${peakQueueDepth}`,
        );
      }
      await tracker.changed(500);
    }
    const after = new Scrape(await controller.metrics());
    loopLagP99 = Math.max(loopLagP99, after.sum("nodejs_eventloop_lag_p99_seconds"));
    loopLagMax = Math.max(loopLagMax, after.sum("nodejs_eventloop_lag_max_seconds"));
    const apiAfter = await apiserverMetrics(cluster);
    await sleep(1000); // let the last watch events reach the write counter
    const breakdown = writeCounter.counts();
    const usage = phase.stop();
    const machineBusy = systemBusySeconds() - busy0;
    const { promoted, failed } = tracker.progress();
    const timelines = tracker.timelines();
    const promotedAts = timelines.flatMap((tl) => (tl.promotedAt === undefined ? [] : [tl.promotedAt]));
    const completed = promoted === o.n;
    const end = completed ? Math.max(...promotedAts) : Date.now();

    const lateness: number[] = [];
    for (const tl of timelines) {
      // Steps alternate setWeight (even index) and pause (odd). A status write may skip a step index when one
      // reconcile passes several steps (a route write confirms itself): use the next step that was seen.
      const seen = [...tl.stepStartedAt.entries()].sort((a, b) => a[0] - b[0]);
      for (let k = 0; k + 1 < seen.length; k++) {
        const [i, at] = seen[k]!;
        const [, next] = seen[k + 1]!;
        if (i % 2 === 1) lateness.push((next - at - pauseMs) / 1000);
      }
    }

    const rec = bucketDelta(
      before.buckets("vireo_reconcile_duration_seconds"),
      after.buckets("vireo_reconcile_duration_seconds"),
    );
    const wait = bucketDelta(
      before.buckets("vireo_workqueue_queue_duration_seconds"),
      after.buckets("vireo_workqueue_queue_duration_seconds"),
    );
    const nonWatch = (l: Record<string, string>) => l.verb !== "WATCH" && l.verb !== "CONNECT";
    const api = bucketDelta(
      apiBefore.buckets("apiserver_request_duration_seconds", nonWatch),
      apiAfter.buckets("apiserver_request_duration_seconds", nonWatch),
    );
    // Reads by resource as the API server counted them (only the controller reads these kinds here).
    const readsByResource: Record<string, number> = {};
    const getBefore = apiBefore.byLabels("apiserver_request_total", { verb: "GET" }, "resource");
    for (const [res, v] of apiAfter.byLabels("apiserver_request_total", { verb: "GET" }, "resource"))
      if (CONTROLLER_READ_KINDS.has(res)) readsByResource[res] = v - (getBefore.get(res) ?? 0);
    const verbsBefore = before.byLabel("vireo_kube_requests_total", "verb");
    const requestsByVerb: Record<string, number> = {};
    for (const [verb, v] of after.byLabel("vireo_kube_requests_total", "verb"))
      requestsByVerb[verb] = v - (verbsBefore.get(verb) ?? 0);
    let reads = 0;
    let writes = 0;
    for (const [verb, v] of Object.entries(requestsByVerb)) {
      if (READ_VERBS.has(verb)) reads += v;
      else writes += v;
    }
    const perStep = o.n * stages;
    const controllerUsage = usage.find((u) => u.name === "controller")!;
    const hwm = memory(controller.pid)?.hwm ?? 0;
    if (o.heapSnapshotDir) {
      await settle(controller, 60_000);
      await heapSnapshot(controller, o.heapSnapshotDir, o.log);
    }
    return {
      n: o.n,
      qps: o.qps === undefined ? "50/100 (default)" : `${o.qps}/${o.burst ?? "?"}`,
      workers: o.workers,
      pauseSeconds: pauseMs / 1000,
      stages,
      completed,
      promoted,
      failed,
      setupSeconds,
      pushSeconds,
      totalSeconds: (end - t0) / 1000,
      idealSeconds: (stages * pauseMs) / 1000,
      perRollout: dist(promotedAts.map((p) => (p - t0) / 1000)),
      pauseLateness: dist(lateness),
      reconciles: rec.at(-1)?.count ?? 0,
      reconcileP50: quantile(0.5, rec),
      reconcileP99: quantile(0.99, rec),
      reconcileUnder200ms: fractionAtMost(0.2, rec),
      queueWaitP50: quantile(0.5, wait),
      queueWaitP99: quantile(0.99, wait),
      peakQueueDepth,
      requestsByVerb,
      reads,
      writes,
      readsPerStepPerRollout: reads / perStep,
      writesPerStepPerRollout: writes / perStep,
      controllerPeakRss: controllerUsage.peakRss,
      controllerHwm: hwm,
      controllerSettledRss: settledRss,
      controllerCpuSeconds: controllerUsage.cpuSeconds,
      clusterCpu: usage
        .filter((u: ProcessUsage) => u.name !== "controller")
        .map((u) => ({ name: u.name, cpuSeconds: u.cpuSeconds, peakRss: u.peakRss })),
      writeBreakdown: breakdown,
      readsByResource,
      apiserverRequests: api.at(-1)?.count ?? 0,
      apiserverP50: quantile(0.5, api),
      apiserverP99: quantile(0.99, api),
      eventLoopLagP99: loopLagP99,
      eventLoopLagMax: loopLagMax,
      heapTotalMax: Math.max(heapTotalMax, after.sum("nodejs_heap_size_total_bytes")),
      heapUsedEnd: after.sum("nodejs_heap_size_used_bytes"),
      externalEnd: after.sum("nodejs_external_memory_bytes"),
      nodeFlags: [
        ...Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`),
        ...(o.nodeFlags ?? CONTROLLER_NODE_FLAGS),
        ...(o.bundlePath ? [`(bundle ${o.bundlePath})`] : []),
      ].join(" "),
      machineBusySeconds: machineBusy,
      otherCpuSeconds: machineBusy - usage.reduce((a, u) => a + u.cpuSeconds, 0),
    };
  } finally {
    whole?.stop();
    await tracker?.stop().catch(() => {});
    await writeCounter?.stop().catch(() => {});
    const code = await controller?.stop().catch(() => undefined);
    if (controller && code !== 0) o.log(`controller exit code ${code}; log ${controller.logPath}`);
    await cluster?.stop().catch((err: unknown) => o.log(`cluster stop failed: ${String(err)}`));
  }
}

/** Signals the controller to write a heap snapshot into `dir` and waits until the file is complete. */
async function heapSnapshot(controller: ControllerProcess, dir: string, log: (line: string) => void) {
  const before = new Set(readdirSync(dir));
  process.kill(controller.pid, "SIGUSR2");
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    await sleep(1000);
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith(".heapsnapshot"));
    // Node writes the snapshot in one go; the controller answers /metrics again once it is done.
    if (
      file &&
      (await controller.metrics().then(
        () => true,
        () => false,
      ))
    ) {
      log(`heap snapshot ${join(dir, file)} (${(statSync(join(dir, file)).size / 2 ** 20).toFixed(1)} MiB)`);
      return;
    }
  }
  log(`heap snapshot: none written to ${dir} within 120 s`);
}

/** Waits until the controller's queue is empty and no reconcile ran for 2 s (Healthy rollouts go quiet). */
async function settle(controller: ControllerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const s = new Scrape(await controller.metrics());
    const count = s.sum("vireo_reconcile_duration_seconds_count");
    const depth = s.sum("vireo_workqueue_depth");
    if (count !== last || depth > 0) {
      last = count;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= 2000) return;
    await sleep(500);
  }
}

/** The API server's own /metrics, read with the admin identity. */
async function apiserverMetrics(cluster: Cluster): Promise<Scrape> {
  const r = await cluster.kubectl(["get", "--raw", "/metrics"]);
  if (r.code !== 0) throw new Error(`kubectl get --raw /metrics: ${r.stderr}`);
  return new Scrape(r.stdout);
}

function fmtPhases(p: Map<string, number>): string {
  return [...p.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
}
