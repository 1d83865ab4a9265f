// `npm run cluster:measure`: re-measures build times, warm cluster start/stop, RSS and the smoke suite runtime.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { startSimulator } from "../simulator/simulator.ts";
import { startCluster } from "./cluster.ts";
import { cacheDir, REPO_ROOT } from "./paths.ts";
import { groupRssKiB } from "./process.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    "skip-smoke": { type: "boolean", default: false },
  },
});

/** Build durations: build.sh's own records, plus the bootstrap build's /tmp/build.{start,log} if present. */
function buildTimes(): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const line of readFileSync(join(cacheDir(), "build-times.env"), "utf8").split("\n")) {
      const [k, v] = line.split("=");
      if (k && v) out[k] = `${v} s`;
    }
  } catch {
    // build.sh has not recorded anything (binaries came from elsewhere)
  }
  try {
    const start = Number(readFileSync("/tmp/build.start", "utf8").trim());
    const m = /rc=(\d+) end=(\d+)/.exec(readFileSync("/tmp/build.log", "utf8"));
    if (m)
      out.k8s_cold_build_4_binaries = `${Number(m[2]) - start} s (rc=${m[1]}, from /tmp/build.{start,log})`;
  } catch {
    // no bootstrap build on this machine
  }
  return out;
}

const runs = Number(values.runs);
const starts: number[] = [];
const stops: number[] = [];
let breakdown = "";
let rss: { name: string; mib: number }[] = [];
for (let i = 0; i < runs; i++) {
  const cluster = await startCluster();
  starts.push(cluster.startup.totalMs);
  breakdown = cluster.startup.phases.map((p) => `${p.name}=${p.ms}ms`).join(" ");
  if (i === runs - 1) {
    // Measure RSS in a realistic steady state: simulator traffic scraped for 15 s, a Deployment reconciled.
    const sim = await startSimulator({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: "default",
      service: "podinfo",
    });
    await cluster.addScrapeTarget(sim.metricsUrl);
    await cluster.kubectl(["create", "deployment", "podinfo", "--image=podinfo", "--replicas=3"]);
    await sleep(15_000);
    rss = cluster.processes().map((p) => ({ name: p.name, mib: groupRssKiB(p.pid) / 1024 }));
    await sim.stop();
  }
  const t0 = performance.now();
  await cluster.stop();
  stops.push(Math.round(performance.now() - t0));
}

let smokeSeconds: number | undefined;
if (!values["skip-smoke"]) {
  const t0 = performance.now();
  const res = spawnSync(process.execPath, [join(REPO_ROOT, "test", "run-tests.ts"), "e2e", "smoke"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  smokeSeconds = (performance.now() - t0) / 1000;
  if (res.status !== 0) console.error(`smoke suite FAILED (exit ${res.status})`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log("\n=== Vireo e2e environment measurements ===");
for (const [k, v] of Object.entries(buildTimes())) console.log(`build: ${k.padEnd(28)} ${v}`);
console.log(`warm start (ms):  ${starts.join(", ")}  (median ${median(starts)})`);
console.log(`  last breakdown: ${breakdown}  (phases overlap)`);
console.log(`stop (ms):        ${stops.join(", ")}`);
const total = rss.reduce((s, r) => s + r.mib, 0);
console.log(
  `RSS (MiB):        total ${total.toFixed(0)}: ${rss.map((r) => `${r.name}=${r.mib.toFixed(0)}`).join(" ")}`,
);
if (smokeSeconds !== undefined)
  console.log(`smoke suite:      ${smokeSeconds.toFixed(1)} s (npm run test:e2e -- smoke)`);
