// Memory benchmark for objects Vireo does not own (issue 19): the controller's RSS beside N Services that carry a
// 250 kB annotation each, in a namespace with no Rollout, against the same controller on an empty cluster — once for
// the instance that watched them arrive, once for a fresh start that lists the cluster. The controller runs as the
// chart runs it (the image's bundle and Node flags, the chart's heap ceiling) and keeps one Rollout reconciled.
// `npm run bench:foreign -- --counts 1000,2500,5000,10000`; `--help` for options.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CONTROLLER_NODE_FLAGS } from "../deploy/bundle.ts";
import { type Cluster, startCluster } from "../e2e/cluster/cluster.ts";
import { apply, appManifests, waitForRollout } from "../e2e/support/app.ts";
import { type ControllerProcess, startController } from "../e2e/support/controller-process.ts";
import { createForeignServices, FOREIGN_ANNOTATION_BYTES } from "../e2e/support/foreign.ts";
import { memory } from "./scale/proc-sampler.ts";

const USAGE = `npm run bench:foreign -- [options]

  --counts LIST          foreign Service counts to reach, ascending (default 1000,2500,5000,10000)
  --heap-mib N           the controller's --max-old-space-size (default 192, the chart's heap.maxOldSpaceMiB)
  --min-available-gib N  stop before the machine's MemAvailable would fall below this (default 6): the machine is
                         shared, and the API server's watch cache and etcd hold every object
  --dir PATH             cluster state dir (default a new /tmp/vireo-bench-foreign-*: on disk, not tmpfs, since
                         etcd's data and WAL grow by about twice the objects' size)
  --json PATH            also write the rows as JSON`;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** One measured point. */
interface Row {
  count: number;
  storedMiB: number;
  /** Peak RSS over 10 s of the controller that was running while the Services were created. */
  runningMiB: number | "exited";
  /** Peak RSS over 10 s of a controller started afresh (it lists the cluster). */
  freshMiB: number | "exited";
  /** Start to /readyz of that fresh controller. */
  readyMs: number | undefined;
  apiserverMiB: number;
  etcdMiB: number;
  availableGiB: number;
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

async function peakRss(c: ControllerProcess, ms: number): Promise<number | "exited"> {
  let peak = 0;
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (c.exited()) return "exited";
    peak = Math.max(peak, memory(c.pid)?.rss ?? 0);
    await new Promise((r) => setTimeout(r, 250));
  }
  return c.exited() ? "exited" : peak / MiB;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      counts: { type: "string", default: "1000,2500,5000,10000" },
      "heap-mib": { type: "string", default: "192" },
      "min-available-gib": { type: "string", default: "6" },
      dir: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const counts = values.counts.split(",").map(Number);
  const heap = Number(values["heap-mib"]);
  const floor = Number(values["min-available-gib"]) * GiB;
  const dir = values.dir ?? mkdtempSync("/tmp/vireo-bench-foreign-");
  const log = (line: string) => console.error(`[bench:foreign] ${line}`);
  let cluster: Cluster | undefined;
  let controller: ControllerProcess | undefined;
  const rows: Row[] = [];
  try {
    // etcd keeps each object and its revision; a quota of 4× the largest count's bytes leaves room for compaction.
    const biggest = Math.max(...counts) * FOREIGN_ANNOTATION_BYTES;
    cluster = await startCluster({
      prometheus: false,
      dir,
      etcdQuotaBytes: Math.max(2 * GiB, Math.min(8 * GiB, 4 * biggest)),
      timeoutMs: 180_000,
    });
    const c = cluster;
    const kc = c.kubeConfig();
    const start = () =>
      startController({
        kubeconfigPath: c.controllerKubeconfigPath,
        logDir: join(c.dir, "logs"),
        entry: "bundle",
        nodeFlags: [...CONTROLLER_NODE_FLAGS, `--max-old-space-size=${heap}`],
        args: ["--log-level=info"],
      });
    const processRss = (name: string) => {
      const p = c.processes().find((x) => x.name === name);
      return p ? (memory(p.pid)?.rss ?? 0) / MiB : 0;
    };
    controller = await start();
    await apply(c, appManifests({ namespace: "app" }));
    await waitForRollout(c, "app", "podinfo", "Healthy", (r) => r.status?.phase === "Healthy", 120_000);
    let have = 0;
    for (const count of [0, ...counts]) {
      if (count > have) {
        const perObject = FOREIGN_ANNOTATION_BYTES * 3; // watch cache + etcd data + WAL, roughly
        if (memAvailable() - (count - have) * perObject < floor) {
          log(
            `stopping before ${count}: MemAvailable ${(memAvailable() / GiB).toFixed(1)} GiB would fall below the floor`,
          );
          break;
        }
        const t0 = Date.now();
        await createForeignServices(kc, "crowd", have, count);
        log(`created Services ${have}…${count - 1} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        have = count;
      }
      const running = controller ? await peakRss(controller, 10_000) : "exited";
      await controller?.kill();
      const t0 = Date.now();
      let readyMs: number | undefined;
      let fresh: number | "exited" = "exited";
      try {
        controller = await start();
        readyMs = Date.now() - t0;
        fresh = await peakRss(controller, 10_000);
      } catch (err) {
        log(`controller did not start at ${count}: ${(err as Error).message}`);
        controller = undefined;
      }
      const row: Row = {
        count,
        storedMiB: (count * FOREIGN_ANNOTATION_BYTES) / MiB,
        runningMiB: running,
        freshMiB: fresh,
        readyMs,
        apiserverMiB: processRss("kube-apiserver"),
        etcdMiB: processRss("etcd"),
        availableGiB: memAvailable() / GiB,
      };
      rows.push(row);
      log(JSON.stringify(row));
    }
  } finally {
    await controller?.stop();
    await cluster?.stop();
  }
  const base = rows[0];
  const ratio = (v: number | "exited", b: number | "exited" | undefined) =>
    typeof v === "number" && typeof b === "number" ? `${((v / b) * 100).toFixed(0)} %` : "—";
  const mib = (v: number | "exited") => (typeof v === "number" ? v.toFixed(0) : v);
  const lines = [
    "| foreign Services | stored | controller RSS, running (MiB) | vs empty | RSS, fresh start (MiB) | vs empty | ready after | kube-apiserver RSS (MiB) | etcd RSS (MiB) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.count.toLocaleString("en")} | ${r.storedMiB.toFixed(0)} MiB | ${mib(r.runningMiB)} | ${ratio(r.runningMiB, base?.runningMiB)} | ${mib(r.freshMiB)} | ${ratio(r.freshMiB, base?.freshMiB)} | ${r.readyMs === undefined ? "—" : `${(r.readyMs / 1000).toFixed(1)} s`} | ${r.apiserverMiB.toFixed(0)} | ${r.etcdMiB.toFixed(0)} |`,
    ),
  ];
  console.log(lines.join("\n"));
  console.log(
    `\nController: bundle, Node flags ${[...CONTROLLER_NODE_FLAGS, `--max-old-space-size=${heap}`].join(" ")}.`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
