// `npm run demo`: Vireo's main job on the local control plane. Starts the cluster, Prometheus, simulated mesh
// traffic and the controller; rolls out a good version to promotion and a bad one to rollback, live; then stops.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { realProxyDemo } from "./demo-real-proxy.ts";
import { type Simulator, startSimulator } from "./simulator/simulator.ts";
import { apply, canaryWeight, getJson, getRollout, setImage, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NS = "demo";
const APP = "podinfo";
const EXAMPLE = resolve(import.meta.dirname, "../examples/smi-podinfo.yaml");

const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const say = (text: string) => console.log(`${clock()}  ${text}`);

/** The fields of an events.k8s.io/v1 Event the demo prints. */
interface DemoEvent {
  metadata: { name: string; creationTimestamp?: string };
  eventTime?: string;
  type: string;
  reason: string;
  note: string;
  regarding: { kind: string };
}

/**
 * Events by when they first happened: `eventTime` is in microseconds, and the recorder spaces the Events of one
 * decision a microsecond apart in the order decided (creationTimestamp has whole seconds only). The name breaks
 * ties for Events from other recorders.
 */
function inTimeOrder<E extends DemoEvent>(events: readonly E[]): E[] {
  const at = (e: E) => e.eventTime ?? e.metadata.creationTimestamp ?? "";
  return [...events].sort(
    (a, b) => at(a).localeCompare(at(b)) || a.metadata.name.localeCompare(b.metadata.name),
  );
}

/** One progress line: phase, step, weights (mesh and observed), the latest analysis values. */
async function progressLine(
  cluster: Cluster,
  sim: Simulator,
): Promise<{ line: string; rollout: Rollout | undefined }> {
  const [rollout, weight] = await Promise.all([getRollout(cluster, NS, APP), canaryWeight(cluster, NS, APP)]);
  const s = rollout?.status;
  const canary = weight ?? 0;
  const observed = sim.weights();
  const last = s?.analysis?.lastRunAt;
  const values = (s?.analysis?.history ?? [])
    .filter((m) => m.at === last)
    .map((m) => `${m.metric}=${m.value === undefined ? "no data" : m.value.toFixed(1)}(${m.verdict})`)
    .join(" ");
  const step = s?.currentStepIndex === undefined ? "-" : String(s.currentStepIndex + 1);
  const phase = `${s?.phase ?? "?"}${s?.pauseReason ? `/${s.pauseReason}` : ""}`;
  return {
    rollout,
    line: `${phase.padEnd(12)} step ${step.padEnd(2)} TrafficSplit canary ${String(canary).padStart(3)}%  simulator canary ${String(observed.canary).padStart(3)}%  ${values}`,
  };
}

/** Prints a progress line every second until `done` holds. */
async function watch(
  cluster: Cluster,
  sim: Simulator,
  done: (r: Rollout) => boolean,
  timeoutMs: number,
): Promise<Rollout> {
  const deadline = Date.now() + timeoutMs;
  let previous = "";
  for (;;) {
    const { line, rollout } = await progressLine(cluster, sim);
    if (line !== previous) say(line);
    previous = line;
    if (rollout && done(rollout)) return rollout;
    if (Date.now() > deadline) throw new Error(`demo timed out: ${rollout?.status?.message}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function main(): Promise<void> {
  let cluster: Cluster | undefined;
  let sim: Simulator | undefined;
  let controller: ControllerProcess | undefined;
  try {
    say(
      "starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) and Prometheus",
    );
    cluster = await startCluster();
    say(
      `cluster up in ${(cluster.startup.totalMs / 1000).toFixed(1)}s; Prometheus at ${cluster.prometheusUrl}`,
    );

    say(
      "starting simulated mesh traffic (30 requests/s, split by the TrafficSplit) and the Vireo controller",
    );
    sim = await startSimulator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NS,
      service: APP,
      target: APP,
      rps: 30,
    });
    await cluster.addScrapeTarget(sim.metricsUrl);
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: [...prometheusArgs(cluster.prometheusUrl, "linkerd"), "--log-level=info"],
    });
    say(
      `controller running as ServiceAccount vireo-system/vireo (shipped RBAC); metrics at ${controller.metricsUrl}/metrics`,
    );

    say(
      `applying ${EXAMPLE.replace(`${process.cwd()}/`, "")}: Deployment + Service + Rollout (steps 10/30/50 %, analysis every 5 s)`,
    );
    await apply(cluster, readFileSync(EXAMPLE, "utf8"));
    await waitForRollout(cluster, NS, APP, "Healthy", (r) => r.status?.phase === "Healthy", 120_000);
    const stable = (await getRollout(cluster, NS, APP))?.status?.stableRevision;
    say(
      `adopted: podinfo-primary serves all traffic (revision ${stable}); the original Deployment is scaled to 0`,
    );

    console.log("");
    say("== rolling out a GOOD version: kubectl set image deployment/podinfo app=podinfo:6.0.1");
    await setImage(cluster, NS, APP, "ghcr.io/stefanprodan/podinfo:6.0.1");
    const promoted = await watch(
      cluster,
      sim,
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== stable,
      240_000,
    );
    say(`PROMOTED revision ${promoted.status?.stableRevision}: ${promoted.status?.message}`);

    console.log("");
    say("== rolling out a BAD version (the simulator makes the canary answer 20% 5xx): podinfo:6.0.2");
    sim.setBackend("canary", { errorRate: 0.2 });
    await setImage(cluster, NS, APP, "ghcr.io/stefanprodan/podinfo:6.0.2");
    const rolledBack = await watch(
      cluster,
      sim,
      (r) => r.status?.phase === "RolledBack" && (r.status.canaryWeight ?? 0) === 0,
      240_000,
    );
    const degraded = rolledBack.status?.conditions?.find((c) => c.type === "Degraded");
    say(`ROLLED BACK: ${degraded?.reason}: ${degraded?.message}`);
    await watch(cluster, sim, () => sim?.weights().canary === 0, 30_000);
    say("traffic is back on the primary; the canary is scaled down");

    const events = await getJson<{ items: DemoEvent[] }>(cluster, ["events.events.k8s.io", "-n", NS]);
    console.log("\nEvents Vireo recorded on the Rollout, oldest first (kubectl get events -n demo):");
    for (const e of inTimeOrder(events?.items ?? [])) {
      if (e.regarding.kind === "Rollout")
        console.log(`  ${e.type.padEnd(8)} ${e.reason.padEnd(16)} ${e.note}`);
    }
  } finally {
    say("stopping the controller, the simulator and the cluster");
    await controller?.stop().catch(() => {});
    await sim?.stop().catch(() => {});
    await cluster?.stop().catch(() => {});
  }
  console.log(`
Done in ${clock().trim()}; nothing is left running.
To play with kubectl yourself:  npm run cluster:up -- --namespace demo   (prints KUBECONFIG; stop with npm run cluster:down)
Then: kubectl apply -f examples/smi-podinfo.yaml, run the controller with
  node src/main.ts --kubeconfig <printed kubeconfig> --prometheus-url <printed Prometheus URL>
and try kubectl annotate rollout.vireo.dev/podinfo -n demo vireo.dev/pause=1 (or promote, abort, resume, retry).`);
}

// --real-proxy: the same story through Traefik and real pod processes (e2e/demo-real-proxy.ts).
(process.argv.includes("--real-proxy") ? realProxyDemo() : main()).then(
  () => process.exit(0),
  (err) => {
    console.error(`demo failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
