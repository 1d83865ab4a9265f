// Controller memory when Prometheus answers far too much: 4 Rollouts × 4 custom metrics whose query returns
// 85,544 series (~15.6 MiB) every tick — a per-pod histogram left unaggregated (issue 19, observation 2). Runs
// the controller as the image does (bundle, image flags) against a loopback server that serves that answer, and
// prints its peak RSS; with VIREO_BENCH_BASELINE=<git ref> it runs that ref's controller first, side by side.
//
//   node bench/prometheus-answers.ts
//   VIREO_BENCH_BASELINE=main VIREO_BENCH_SECONDS=60 node bench/prometheus-answers.ts
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleController } from "../deploy/bundle.ts";
import { startCluster } from "../e2e/cluster/cluster.ts";
import { apply, appManifests, setImage, waitForRollout } from "../e2e/support/app.ts";
import { startController } from "../e2e/support/controller-process.ts";
import { baselineBundle, removeBaseline } from "./baseline.ts";
import { memory } from "./scale/proc-sampler.ts";

const SERIES = 85_544;
const ROLLOUTS = 4;
const METRICS = 4;
const SECONDS = Number(process.env.VIREO_BENCH_SECONDS ?? "60");
const BASELINE = process.env.VIREO_BENCH_BASELINE;
const MiB = 1024 * 1024;

/** The answer: one instant vector of SERIES series with realistic label sets (~195 bytes each). */
function bigAnswer(): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < SERIES; i++) {
    parts.push(
      `{"metric":{"__name__":"http_request_duration_seconds_bucket","namespace":"shop","pod":"podinfo-7d9c6b5f4-${i.toString(36).padStart(5, "0")}","le":"${(i % 12) * 0.25}","path":"/api/v1/items/${i % 977}","code":"200"},"value":[1700000000.123,"${i % 97}"]}`,
    );
  }
  return Buffer.from(`{"status":"success","data":{"resultType":"vector","result":[${parts.join(",")}]}}`);
}

const body = bigAnswer();
let served = 0;
const prom = createServer((req, res) => {
  req.resume();
  served++;
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
});
await new Promise<void>((r) => prom.listen(0, "127.0.0.1", r));
const promUrl = `http://127.0.0.1:${(prom.address() as AddressInfo).port}`;
console.log(
  `answer: ${SERIES} series, ${(body.length / MiB).toFixed(1)} MiB; ${ROLLOUTS} Rollouts × ${METRICS} metrics`,
);

const work = mkdtempSync(join(tmpdir(), "vireo-bench-prom-"));
const cluster = await startCluster({ prometheus: false, nodes: 1 });
const results: string[] = [];
try {
  const variants: { name: string; bundle: string }[] = [];
  if (BASELINE) variants.push({ name: `baseline ${BASELINE}`, bundle: await baselineBundle(BASELINE, work) });
  variants.push({ name: "this tree", bundle: await bundleController() });
  for (const [v, variant] of variants.entries()) {
    const namespaces = Array.from({ length: ROLLOUTS }, (_, i) => `prom-${v}-${i}`);
    const c = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      entry: "bundle",
      bundlePath: variant.bundle,
      args: ["--leader-elect=false", `--namespace=${namespaces.join(",")}`, `--prometheus-url=${promUrl}`],
    });
    const idle = memory(c.pid)?.rss ?? 0;
    const analysis = {
      interval: "2s",
      consecutiveErrorLimit: 100,
      metrics: Array.from({ length: METRICS }, (_, m) => ({
        name: `latency-${m}`,
        query: `sum(rate(http_request_duration_seconds_bucket{namespace="{{ namespace }}",m="${m}"}[{{ interval }}]))`,
        reduce: "sum",
        thresholdRange: { min: 0 },
      })),
    };
    const steps = Array.from({ length: 20 }, (_, i) => ({ setWeight: 5 * (i + 1) }));
    for (const ns of namespaces) await apply(cluster, appManifests({ namespace: ns, steps, analysis }));
    for (const ns of namespaces)
      await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    const before = served;
    for (const ns of namespaces) await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.8.0");
    let peak = 0;
    const until = Date.now() + SECONDS * 1000;
    while (Date.now() < until) {
      peak = Math.max(peak, memory(c.pid)?.rss ?? 0);
      await new Promise((r) => setTimeout(r, 250));
    }
    const hwm = memory(c.pid)?.hwm ?? 0;
    const answers = served - before;
    await c.stop();
    results.push(
      `${variant.name.padEnd(24)} idle ${(idle / MiB).toFixed(0).padStart(4)} MiB   peak RSS ${(Math.max(peak, hwm) / MiB).toFixed(0).padStart(4)} MiB   ${answers} answers served in ${SECONDS} s`,
    );
  }
} finally {
  await cluster.stop();
  prom.close();
  if (BASELINE) removeBaseline(work);
  rmSync(work, { recursive: true, force: true });
}
for (const r of results) console.log(r);
