// Objects Vireo does not own cost it no memory (issue 19, observation 1): Services carrying 250 kB annotations, in a
// namespace with no Rollout, beside a controller run as the chart runs it — the image's bundle and Node flags, the
// chart's heap ceiling. Before the fix the controller cached every Service whole and could not even start.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { memory } from "../bench/scale/proc-sampler.ts";
import { CONTROLLER_NODE_FLAGS } from "../deploy/bundle.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, getRollout, setImage, waitForRollout } from "./support/app.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";
import { createForeignServices } from "./support/foreign.ts";

/** The chart's heap.maxOldSpaceMiB (charts/vireo/values.yaml), as NODE_OPTIONS gives it to the pod. */
const CHART_HEAP_MIB = 192;
/** Enough to exhaust that heap when cached whole: 1,000 × 250 kB = 250 MB (the issue saw 750 do it). */
const FOREIGN = 1000;
const MiB = 1024 * 1024;

let cluster: Cluster;
let kc: KubeConfig;
let controller: ControllerProcess | undefined;
const report: string[] = [];

const start = () =>
  startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    entry: "bundle",
    nodeFlags: [...CONTROLLER_NODE_FLAGS, `--max-old-space-size=${CHART_HEAP_MIB}`],
    args: ["--log-level=info"],
  });

/** Highest RSS over `ms` (sampled every 250 ms). */
async function peakRss(pid: number, ms: number): Promise<number> {
  let peak = 0;
  for (const end = Date.now() + ms; Date.now() < end; ) {
    peak = Math.max(peak, memory(pid)?.rss ?? 0);
    await new Promise((r) => setTimeout(r, 250));
  }
  return peak;
}

describe("foreign objects: Services Vireo does not own never reach its memory", () => {
  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    const t0 = Date.now();
    await createForeignServices(kc, "crowd", 0, FOREIGN);
    report.push(
      `  created ${FOREIGN} Services × 250 kB annotation in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
    if (report.length > 0) console.log(`\n[foreign-objects] measured:\n${report.join("\n")}\n`);
  });

  it(`starts under the chart's ${CHART_HEAP_MIB} MiB heap beside ${FOREIGN} fat Services, and keeps working`, async () => {
    controller = await start();
    await apply(cluster, appManifests({ namespace: "app" }));
    await waitForRollout(cluster, "app", "podinfo", "Healthy", (r) => r.status?.phase === "Healthy", 90_000);
    const started = await peakRss(controller.pid, 5000);
    // More arrive while it runs: the label-selected watch never delivers them.
    await createForeignServices(kc, "crowd", FOREIGN, FOREIGN + 250);
    const later = await peakRss(controller.pid, 5000);
    report.push(
      `  RSS with ${FOREIGN} foreign Services: ${(started / MiB).toFixed(0)} MiB; after ${FOREIGN + 250}: ${(later / MiB).toFixed(0)} MiB (heap cap ${CHART_HEAP_MIB} MiB)`,
    );
    assert.ok(!controller.exited(), "the controller is alive");
    assert.ok(started < CHART_HEAP_MIB * MiB, `RSS ${started} below the heap cap alone`);
    assert.ok(
      later - started < 16 * MiB,
      `RSS grew ${((later - started) / MiB).toFixed(1)} MiB with 250 more`,
    );
  });

  it("restarts cleanly: killed, it lists again within its heap and takes the Rollout on", async () => {
    assert.ok(controller, "the previous test started it");
    await controller.kill();
    const t0 = Date.now();
    controller = await start();
    const readyMs = Date.now() - t0;
    const before = (await getRollout(cluster, "app", "podinfo"))?.status?.stableRevision;
    await setImage(cluster, "app", "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    await waitForRollout(
      cluster,
      "app",
      "podinfo",
      "the new revision promoted",
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== before,
      120_000,
    );
    const rss = await peakRss(controller.pid, 3000);
    report.push(`  restart: ready in ${readyMs} ms, RSS ${(rss / MiB).toFixed(0)} MiB`);
    assert.ok(!controller.exited());
    assert.ok(rss < CHART_HEAP_MIB * MiB);
  });
});
