// Detection phase of bench:compare: one controller, one app per run, each mid-rollout at about 20 % with its own
// traffic simulator; every canary turns bad at a random point of its tick cycle, and the time until the
// TrafficSplit routes it nothing (as the simulator's data plane reads it) is the detection time.
import type { Cluster } from "../../e2e/cluster/cluster.ts";
import { type Simulator, startSimulator } from "../../e2e/simulator/simulator.ts";
import { waitFor } from "../../e2e/support/app.ts";
import type { KubeClients } from "../../src/kube/clients.ts";
import { bad, HEALTHY } from "../detection/settings.ts";
import { type AppRef, createApps, pushRevision } from "../scale/fixtures.ts";

/** A running controller, as the phase needs it. */
export interface RunningController {
  /** Why the controller is gone, or undefined while it runs. */
  dead(): string | undefined;
  stop(): Promise<void>;
}

/** What differs between the controllers: their objects, their phases, how they are started. */
export interface DetectionController {
  name: string;
  /** Creates the apps' Rollouts or Canaries (their Deployments exist). */
  create(apps: readonly AppRef[]): Promise<void>;
  /** Starts the controller, with Prometheus for its analysis. */
  start(): Promise<RunningController>;
  /** The app's phase as the controller reports it ("" before it has one). */
  phase(app: AppRef): Promise<string>;
  /** The phase of an app ready for a new revision (Vireo: Healthy, Flagger: Initialized). */
  readyPhase: string;
  /** The phase after a rollback (Vireo: RolledBack, Flagger: Failed). */
  rolledBackPhase: string;
}

/** Options shared by both controllers' phases. */
export interface DetectionOptions {
  cluster: Cluster;
  admin: KubeClients;
  /** One app per run. */
  apps: AppRef[];
  /** The analysis interval: the canary turns bad uniformly within one interval of reaching its step. */
  intervalMs: number;
  /** Share of the bad canary's requests that fail. */
  errorRate: number;
  /** Requests per second of each app's simulator. */
  rps: number;
  /** How often each simulator reads its TrafficSplit: the measurement's resolution. */
  pollMs: number;
  log: (line: string) => void;
}

/** One measured run. */
export interface DetectionRun {
  app: string;
  /** Canary weight (%) when it turned bad. */
  weight: number;
  /** How long after the step was first routed the canary turned bad. */
  delayMs: number;
  /** Bad → TrafficSplit at 0 % canary. */
  detectionMs: number;
}

/** One controller's detection runs, and the runs that did not give a measurement (with why). */
export interface DetectionResult {
  controller: string;
  runs: DetectionRun[];
  failures: string[];
}

const key = (a: AppRef) => `${a.namespace}/${a.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Creates the apps, starts the controller and one simulator per app (scraped by the cluster's Prometheus), pushes
 * a new revision to every app at once and measures each run concurrently; always stops what it started.
 */
export async function measureDetection(
  o: DetectionOptions,
  c: DetectionController,
): Promise<DetectionResult> {
  if (!o.cluster.prometheusUrl) throw new Error("the detection phase needs the cluster's Prometheus");
  await createApps(o.admin, o.apps, "10s", 32, false);
  await c.create(o.apps);
  const controller = await c.start();
  const sims: Simulator[] = [];
  try {
    const alive = () => {
      const why = controller.dead();
      if (why) throw new Error(`${c.name}: ${why}`);
    };
    await waitFor(
      `${c.name}: ${o.apps.length} detection apps ${c.readyPhase}`,
      async () => {
        alive();
        return Promise.all(o.apps.map((a) => c.phase(a)));
      },
      (phases) => phases.every((p) => p === c.readyPhase),
      180_000,
      1000,
    );
    for (const app of o.apps) {
      const sim = await startSimulator({
        kubeconfigPath: o.cluster.kubeconfigPath,
        namespace: app.namespace,
        service: app.name,
        rps: o.rps,
        primary: HEALTHY,
        canary: HEALTHY,
        pollMs: o.pollMs,
      });
      sims.push(sim);
      await o.cluster.addScrapeTarget(sim.metricsUrl);
    }
    o.log(`${c.name}: ${o.apps.length} apps ${c.readyPhase}, simulators running; pushing a new revision`);
    await pushRevision(o.admin, o.apps, "2");
    const settled = await Promise.allSettled(o.apps.map((app, i) => oneRun(o, c, app, sims[i]!, alive)));
    const runs: DetectionRun[] = [];
    const failures: string[] = [];
    for (const s of settled) {
      if (s.status === "fulfilled") runs.push(s.value);
      else failures.push(String((s.reason as Error)?.message ?? s.reason).slice(0, 300));
    }
    for (const r of runs)
      o.log(
        `  ${c.name} ${r.app}: ${(r.detectionMs / 1000).toFixed(2)} s (bad at ${r.weight} %, ` +
          `+${(r.delayMs / 1000).toFixed(1)} s into the step)`,
      );
    for (const f of failures) o.log(`  ${c.name} run failed: ${f}`);
    return { controller: c.name, runs, failures };
  } finally {
    await Promise.all(sims.map((s) => s.stop()));
    await controller.stop().catch(() => {});
  }
}

async function oneRun(
  o: DetectionOptions,
  c: DetectionController,
  app: AppRef,
  sim: Simulator,
  alive: () => void,
): Promise<DetectionRun> {
  await sim
    .waitForWeights((w) => w.canary >= 20, 180_000)
    .catch((err: unknown) => {
      throw new Error(`${key(app)}: never routed 20 % to the canary: ${(err as Error).message}`);
    });
  const delayMs = Math.random() * o.intervalMs;
  await sleep(delayMs);
  alive();
  const weight = sim.weights().canary;
  const before = await c.phase(app);
  if (weight === 0 || before === c.rolledBackPhase)
    throw new Error(`${key(app)}: left its step (${before}, ${weight} %) before the canary turned bad`);
  sim.setBackend("canary", bad(o.errorRate));
  const badAt = Date.now();
  await sim
    .waitForWeights((w) => w.canary === 0, 120_000)
    .catch((err: unknown) => {
      throw new Error(
        `${key(app)}: canary not at 0 % within 120 s of turning bad: ${(err as Error).message}`,
      );
    });
  const detectionMs = Date.now() - badAt;
  await waitFor(
    `${key(app)}: ${c.rolledBackPhase}`,
    () => c.phase(app),
    (p) => p === c.rolledBackPhase,
    60_000,
    500,
  );
  return { app: key(app), weight, delayMs: Math.round(delayMs), detectionMs };
}
