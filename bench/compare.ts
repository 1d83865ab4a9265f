// Side-by-side benchmark: Vireo and Flagger on one local control plane in one run. Throughput: N apps each, the
// same five 20→100 % stages one interval apart, SMI TrafficSplit routing, client QPS and no analysis metrics.
// Then Vireo alone on the capabilities Flagger has no row for (bench/compare/capabilities.ts).
// Detection: one app per run, the same builtin Linkerd success-rate check, the canary turned bad mid-rollout.
// `npm run bench:compare -- --n 100`; `--small` for a few-minute smoke run; `--help` for options.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Cluster, startCluster } from "../e2e/cluster/cluster.ts";
import { useSmiSet } from "../e2e/cluster/smi-sets.ts";
import { type ControllerProcess, startController } from "../e2e/support/controller-process.ts";
import { parseDuration } from "../src/api/duration.ts";
import { createKubeClients, type KubeClients } from "../src/kube/clients.ts";
import { comparisonAuditPolicy, countRequests } from "./compare/audit-count.ts";
import { type CapabilityResult, capabilityTable, measureCapabilities } from "./compare/capabilities.ts";
import { type DetectionResult, measureDetection } from "./compare/detection.ts";
import { flaggerDetection, vireoDetection } from "./compare/detection-sides.ts";
import {
  buildFlagger,
  canaryStates,
  createCanaries,
  FLAGGER_USER,
  FLAGGER_VERSION,
  type FlaggerProcess,
  installFlagger,
  startFlagger,
  throughputAnalysis,
} from "./compare/flagger.ts";
import { type Side, table, writesByResource } from "./compare/report.ts";
import { SCRAPE_MS } from "./detection/settings.ts";
import { spread } from "./detection/stats.ts";
import { publish } from "./publish.ts";
import {
  type AppRef,
  addServiceRange,
  appRefs,
  createApps,
  pushRevision,
  STAGE_WEIGHTS,
} from "./scale/fixtures.ts";
import { memory, ProcSampler } from "./scale/proc-sampler.ts";
import { nodesFor } from "./scale/run-size.ts";
import { RolloutTracker } from "./scale/tracker.ts";

const USAGE = `npm run bench:compare -- [options]

  --n N            apps per controller (default 100)
  --small          smoke run: N=10 (finishes in a few minutes)
  --interval DUR   time each stage holds: Vireo pause / Flagger analysis interval (default 10s; Flagger's minimum)
  --qps N          client QPS of both controllers (default max(100, N): Flagger's default at N = 100, the same
                   budget per app above it), burst --burst (default 2.5 × QPS)
  --detection-runs N       detection runs per controller (default 10; --small: 3; 0 skips the phase)
  --detection-window DUR   success-rate query window of both controllers (default 1m)
  --detection-error-rate X share of the bad canary's requests that fail (default 0.1)
  --detection-only         skip the throughput phase
  --capabilities N apps per capability in the Vireo-only phase (checks, AnalysisTemplate, blue/green,
                   StatefulSet; default 10, --small 3; 0 skips it)
  --json PATH      also write the raw results as JSON
  --write          also publish the results: the "compare" section of docs/benchmarks/latest.md, and appended
                   to docs/benchmarks/history.md

Builds Flagger ${FLAGGER_VERSION} from the Go module proxy (cached), starts one cluster (linkerd-smi's TrafficSplit
CRD, which both controllers write), runs Vireo on N apps, then Flagger on N other apps, and counts both
controllers' requests from the API server's audit log. Then Vireo alone on the capabilities Flagger has no row for
(a webhook and an approval check, an AnalysisTemplate, blue/green, a StatefulSet), each in its own window. Then the
detection phase, Vireo then Flagger, each on its own apps at once: every canary is turned bad at a random point of its
analysis interval and timed to 0 % canary.`;

const VIREO_USER = "system:serviceaccount:vireo-system:vireo";
/** Each detection app's simulator: requests per second, and how often it reads its TrafficSplit (resolution). */
const DETECTION_RPS = 20;
const DETECTION_POLL_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      n: { type: "string", default: "100" },
      small: { type: "boolean" },
      interval: { type: "string", default: "10s" },
      qps: { type: "string" },
      burst: { type: "string" },
      "detection-runs": { type: "string", default: "10" },
      "detection-window": { type: "string", default: "1m" },
      "detection-error-rate": { type: "string", default: "0.1" },
      "detection-only": { type: "boolean" },
      capabilities: { type: "string" },
      json: { type: "string" },
      write: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const n = values.small ? 10 : Number(values.n);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n: bad count ${values.n}`);
  const intervalMs = parseDuration(values.interval);
  // The same client budget per app at every N (Flagger's default 100/250 at N = 100): at N = 1,000 a fixed QPS of
  // 100 would measure the client's rate limiter, not the controllers.
  const qps = values.qps ? Number(values.qps) : Math.max(100, n);
  const burst = values.burst ? Number(values.burst) : Math.ceil(2.5 * qps);
  if (!(qps > 0 && burst > 0)) throw new Error(`--qps/--burst: bad values ${values.qps}/${values.burst}`);
  const runs = values.small ? 3 : Number(values["detection-runs"]);
  if (!Number.isInteger(runs) || runs < 0 || runs > 50)
    throw new Error(`--detection-runs: 0–50, got ${values["detection-runs"]}`);
  const window = values["detection-window"];
  parseDuration(window);
  const errorRate = Number(values["detection-error-rate"]);
  const throughput = !values["detection-only"];
  const capabilityApps = values.capabilities ? Number(values.capabilities) : values.small ? 3 : 10;
  if (!Number.isInteger(capabilityApps) || capabilityApps < 0)
    throw new Error(`--capabilities: bad count ${values.capabilities}`);
  if (!throughput && runs === 0) throw new Error("--detection-only with --detection-runs 0 measures nothing");
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[compare ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const load0 = loadavg();

  const flaggerDir = await buildFlagger(log);
  process.env.VIREO_E2E_AUDIT_POLICY = comparisonAuditPolicy([VIREO_USER, FLAGGER_USER]);
  let cluster: Cluster | undefined;
  const sides: Side[] = [];
  const detection: DetectionResult[] = [];
  let capabilities: CapabilityResult[] = [];
  try {
    cluster = await startCluster({
      // The AnalysisTemplate capability queries Prometheus too.
      prometheus: runs > 0 || capabilityApps > 0,
      nodes: nodesFor(2 * (throughput ? n : 0) + 2 * runs + 4 * capabilityApps),
      timeoutMs: 180_000,
    });
    // Flagger's Linkerd router writes TrafficSplit v1alpha1; Vireo finds the served version through discovery.
    await useSmiSet(cluster.kubeConfig(), "linkerd-smi");
    const admin = createKubeClients(cluster.kubeConfig(), {
      qps: Number.POSITIVE_INFINITY,
      burst: 1,
      userAgent: "vireo-bench",
    });
    await addServiceRange(admin);
    const flaggerKubeconfig = await installFlagger(cluster, flaggerDir);
    const apps = (prefix: string, count: number): AppRef[] =>
      appRefs(count, 10).map((a) => ({ ...a, namespace: a.namespace.replace(/^bench-/, `${prefix}-`) }));
    if (throughput) {
      const common = { cluster, admin, n, intervalMs, qps, burst, log };
      sides.push(await runVireo({ ...common, apps: apps("vireo", n) }));
      sides.push(
        await runFlaggerSide({ ...common, apps: apps("flagger", n), flaggerDir, flaggerKubeconfig }),
      );
    }
    if (capabilityApps > 0) {
      log(`capabilities: ${capabilityApps} apps each, Vireo only`);
      capabilities = await measureCapabilities({
        cluster,
        admin,
        n: capabilityApps,
        pause: values.interval,
        qps,
        burst,
        user: VIREO_USER,
        log,
      });
    }
    if (runs > 0) {
      const d = { cluster, admin, interval: values.interval, window, qps, burst };
      const phase = {
        cluster,
        admin,
        intervalMs,
        errorRate,
        rps: DETECTION_RPS,
        pollMs: DETECTION_POLL_MS,
        log,
      };
      log(`detection: ${runs} runs each, window ${window}, ${errorRate * 100} % errors once bad`);
      detection.push(await measureDetection({ ...phase, apps: apps("vireo-det", runs) }, vireoDetection(d)));
      detection.push(
        await measureDetection(
          { ...phase, apps: apps("flagger-det", runs) },
          flaggerDetection({ ...d, flaggerDir, flaggerKubeconfig }),
        ),
      );
    }
  } finally {
    await cluster?.stop().catch((err: unknown) => log(`cluster stop failed: ${String(err)}`));
  }
  const load1 = loadavg();

  const [v, f] = sides as [Side?, Side?];
  console.log(
    `\nVireo vs Flagger ${FLAGGER_VERSION} — ${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs, ` +
      `Node ${process.versions.node}; load average at start ${load0.map((x) => x.toFixed(1)).join("/")}, ` +
      `at end ${load1.map((x) => x.toFixed(1)).join("/")}`,
  );
  const settings: string[] = [];
  if (v && f)
    settings.push(
      `N=${n} apps each, 1-replica Deployments, stages ${STAGE_WEIGHTS.join("/")} % one ${values.interval} apart ` +
        `(ideal ${v.idealSeconds.toFixed(0)} s), SMI TrafficSplit, no analysis metrics, client QPS ${qps}/${burst}; ` +
        `Vireo with leader election (its default), Flagger without (its default).`,
    );
  const [dv, df] = detection as [DetectionResult?, DetectionResult?];
  if (dv && df)
    settings.push(
      `Detection: ${runs} runs each, all at once, one app each (${DETECTION_RPS} rps); canary at ~20 %, turned bad ` +
        `(${errorRate * 100} % 5xx) at a random point of the ${values.interval} interval; builtin Linkerd ` +
        `request-success-rate ≥ 99 % over ${window}, failure limit/threshold 1; Prometheus scrape ${SCRAPE_MS / 1000} s; ` +
        `time to the simulator reading 0 % canary from the TrafficSplit (${DETECTION_POLL_MS} ms polling).`,
    );
  const figures = table(
    v && f ? { v, f } : undefined,
    dv && df
      ? {
          vireo: spread(dv.runs.map((r) => r.detectionMs)),
          flagger: spread(df.runs.map((r) => r.detectionMs)),
          runs,
        }
      : undefined,
  );
  const failed = detection.flatMap((d) =>
    d.failures.map((why) => `${d.controller} detection run failed: ${why}`),
  );
  const byResource = v && f ? ["", ...writesByResource([v, f])] : [];
  const capabilitySection =
    capabilities.length > 0
      ? [
          "",
          `Vireo only, ${capabilityApps} apps per capability, one controller, each in its own window (same QPS, ` +
            `${values.interval} pauses); a step is a canary stage, the blue/green cut-over, or a StatefulSet batch:`,
          "",
          capabilityTable(capabilities),
        ]
      : [];
  console.log([...settings, "", figures, ...byResource, ...capabilitySection, ...failed].join("\n"));
  if (values.write)
    publish({
      // N = 100 is the reference table; other sizes keep a section of their own beside it.
      id: n === 100 ? "compare" : `compare-${n}`,
      title:
        n === 100 ? "Side by side with Flagger" : `Side by side with Flagger, N = ${n.toLocaleString("en")}`,
      command: ["npm run bench:compare --", ...process.argv.slice(2)].join(" "),
      load0,
      body: [
        `Flagger ${FLAGGER_VERSION}, both on one local cluster.`,
        "",
        ...settings.flatMap((s) => [s, ""]),
        figures,
        ...byResource,
        ...capabilitySection,
        ...failed.map((l) => `\n- ${l}`),
      ].join("\n"),
    });
  if (values.json)
    writeFileSync(
      values.json,
      `${JSON.stringify({ load0, load1, sides, detection, capabilities }, null, 2)}\n`,
    );
  log(`done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  const throughputOk = !throughput || (v?.completed === n && f?.completed === n);
  const detectionOk = detection.every((d) => d.failures.length === 0);
  const capabilitiesOk = capabilities.every((c) => c.completed === c.n);
  return throughputOk && detectionOk && capabilitiesOk ? 0 : 1;
}

interface SideOptions {
  cluster: Cluster;
  admin: KubeClients;
  apps: AppRef[];
  n: number;
  intervalMs: number;
  qps: number;
  burst: number;
  log: (l: string) => void;
}

async function runVireo(o: SideOptions): Promise<Side> {
  const tracker = new RolloutTracker(o.admin);
  await tracker.start();
  let controller: ControllerProcess | undefined;
  try {
    const setup0 = Date.now();
    await createApps(o.admin, o.apps, `${o.intervalMs / 1000}s`);
    controller = await startController({
      kubeconfigPath: o.cluster.controllerKubeconfigPath,
      logDir: join(o.cluster.dir, "logs"),
      entry: "bundle",
      args: ["--log-level=info", `--kube-qps=${o.qps}`, `--kube-burst=${o.burst}`],
    });
    const c = controller;
    await until(
      () => tracker.healthyCount() >= o.n,
      setupTimeoutMs(o.n),
      "Vireo: all Healthy",
      o.log,
      () => (c.exited() ? "controller exited" : undefined),
    );
    const setupSeconds = (Date.now() - setup0) / 1000;
    o.log(`vireo: ${o.n} Rollouts Healthy after ${setupSeconds.toFixed(1)} s`);
    await sleep(5000);
    tracker.arm();
    return await measure(
      o,
      "Vireo",
      controller.pid,
      VIREO_USER,
      setupSeconds,
      () => {
        const p = tracker.progress();
        return { done: p.promoted, failed: p.failed };
      },
      (t0) =>
        tracker
          .timelines()
          // The earliest step status showed: a setWeight step completes at once, so status never shows index 0
          // (the decision that routes the first weight moves on to the pause after it in the same write).
          .map((tl) => Math.min(...tl.stepStartedAt.values()))
          .filter((at) => Number.isFinite(at))
          .map((at) => (at - t0) / 1000),
      () => (c.exited() ? "controller exited" : undefined),
    );
  } finally {
    await controller?.stop().catch(() => {});
    await tracker.stop().catch(() => {});
  }
}

async function runFlaggerSide(
  o: SideOptions & { flaggerDir: string; flaggerKubeconfig: string },
): Promise<Side> {
  let flagger: FlaggerProcess | undefined;
  try {
    const setup0 = Date.now();
    await createApps(o.admin, o.apps, `${o.intervalMs / 1000}s`, 32, false);
    await createCanaries(o.admin, o.apps, throughputAnalysis(`${o.intervalMs / 1000}s`, STAGE_WEIGHTS));
    flagger = await startFlagger({
      dir: o.flaggerDir,
      kubeconfig: o.flaggerKubeconfig,
      logDir: join(o.cluster.dir, "logs"),
      qps: o.qps,
      burst: o.burst,
    });
    const f = flagger;
    const mine = new Set(o.apps.map((a) => `${a.namespace}/${a.name}`));
    const count = async (phase: string) =>
      [...(await canaryStates(o.admin))].filter(([k, c]) => mine.has(k) && c.phase === phase).length;
    let initialized = 0;
    await until(
      async () => {
        initialized = await count("Initialized");
        return initialized >= o.n;
      },
      setupTimeoutMs(o.n),
      "Flagger: all Initialized",
      o.log,
      () => (f.exited() ? `flagger exited; see ${f.logPath}` : undefined),
      () => `${initialized}/${o.n} Initialized`,
    );
    const setupSeconds = (Date.now() - setup0) / 1000;
    o.log(`flagger: ${o.n} Canaries Initialized after ${setupSeconds.toFixed(1)} s`);
    await sleep(5000);
    let last = { done: 0, failed: 0 };
    // When each canary was first seen with traffic (Flagger's status says its weight): polled, so late by up to
    // one poll of the list.
    const firstTraffic = new Map<string, number>();
    return await measure(
      o,
      "Flagger",
      flagger.pid,
      FLAGGER_USER,
      setupSeconds,
      async () => {
        const states = [...(await canaryStates(o.admin))].filter(([k]) => mine.has(k));
        const now = Date.now();
        for (const [k, c] of states) if (c.canaryWeight > 0 && !firstTraffic.has(k)) firstTraffic.set(k, now);
        const phases = states.map(([, c]) => c.phase);
        last = {
          done: phases.filter((p) => p === "Succeeded").length,
          failed: phases.filter((p) => p === "Failed").length,
        };
        return last;
      },
      (t0) => [...firstTraffic.values()].map((at) => (at - t0) / 1000),
      () => (f.exited() ? `flagger exited; see ${f.logPath}` : undefined),
    );
  } finally {
    await flagger?.stop().catch(() => {});
  }
}

/** Pushes a new revision to every app and waits until each one finished; samples the controller meanwhile. */
async function measure(
  o: SideOptions,
  name: string,
  pid: number,
  user: string,
  setupSeconds: number,
  progress: () => { done: number; failed: number } | Promise<{ done: number; failed: number }>,
  /** Seconds from the push (at `t0`) to each rollout's first traffic to its canary. */
  startWaits: (t0: number) => number[],
  dead: () => string | undefined,
): Promise<Side> {
  const stages = STAGE_WEIGHTS.length;
  const idealSeconds = (stages * o.intervalMs) / 1000;
  const settledRss = memory(pid)?.rss ?? 0;
  const sampler = new ProcSampler([{ name, pid }]);
  sampler.start();
  const t0 = Date.now();
  await pushRevision(o.admin, o.apps, "2");
  const deadline = t0 + rolloutTimeoutMs(idealSeconds, o.n);
  let p = { done: 0, failed: 0 };
  let lastLog = Date.now();
  for (;;) {
    p = await progress();
    if (p.done + p.failed >= o.n || Date.now() > deadline) break;
    const why = dead();
    if (why) throw new Error(`${name}: ${why}`);
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      o.log(
        `  ${name} t+${((Date.now() - t0) / 1000).toFixed(0)} s: ${p.done}/${o.n} done, ${p.failed} failed`,
      );
    }
    // Flagger's progress is a list of every Canary: at N = 1,000 polled less often, so the bench's own reads stay
    // small beside the controllers'.
    await sleep(o.n > 200 ? 2000 : 500);
  }
  const t1 = Date.now();
  const usage = sampler.stop()[0]!;
  await sleep(2000); // audit entries are written when a request completes
  const requests = await countRequests(join(o.cluster.dir, "audit.log"), user, t0, t1);
  const waits = startWaits(t0).sort((a, b) => a - b);
  const q = (p: number) => waits[Math.min(waits.length - 1, Math.ceil(p * waits.length) - 1)] ?? Number.NaN;
  const perStep = o.n * stages;
  o.log(`${name}: ${p.done}/${o.n} done in ${((t1 - t0) / 1000).toFixed(1)} s`);
  return {
    controller: name,
    n: o.n,
    completed: p.done,
    failed: p.failed,
    setupSeconds,
    totalSeconds: (t1 - t0) / 1000,
    idealSeconds,
    requests,
    readsPerStepPerRollout: requests.reads / perStep,
    writesPerStepPerRollout: requests.writes / perStep,
    peakRssMb: usage.peakRss / 2 ** 20,
    peakAnonMb: usage.peakAnon / 2 ** 20,
    settledRssMb: settledRss / 2 ** 20,
    hwmMb: (memory(pid)?.hwm ?? 0) / 2 ** 20,
    cpuSeconds: usage.cpuSeconds,
    startWaitP50: q(0.5),
    startWaitP99: q(0.99),
  };
}

/** Time for N apps to be adopted (Vireo Healthy, Flagger Initialized): 2 minutes plus 1 s per app. */
function setupTimeoutMs(n: number): number {
  return 120_000 + 1000 * n;
}

/**
 * Time for the measured rollout: 3 × the ideal plus 1.5 s per app (5 minutes at least). At N = 1,000 on two cores
 * the API server is the bottleneck for both controllers, so the budget grows with N, not with the ideal.
 */
function rolloutTimeoutMs(idealSeconds: number, n: number): number {
  return Math.max(300_000, 3 * idealSeconds * 1000 + 1500 * n);
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  log: (l: string) => void,
  dead: () => string | undefined,
  status: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  while (!(await check())) {
    const why = dead();
    if (why) throw new Error(`${what}: ${why}`);
    if (Date.now() > deadline)
      throw new Error(`${what}: not reached after ${timeoutMs / 1000} s ${status()}`);
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`  waiting for ${what} ${status()}`);
    }
    await sleep(1000);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:compare: ${(err as Error)?.stack ?? err}\n`);
    process.exit(2);
  },
);
