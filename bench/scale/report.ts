// Formats benchmark results: a plain table, target verdicts, details, and a Markdown table for docs/benchmarks.
import { availableParallelism } from "node:os";
import type { RunResult } from "./run-size.ts";

/** The targets the results are judged against. */
export const TARGETS = {
  reconcileP99Seconds: 0.2,
  reconcileP99AtN: 1000,
  writesPerStepPerRollout: 3,
  /** Peak RSS: ≤ 150 MiB up to N = 100, ≤ 250 MiB at N = 1,000 (issue 10; larger N are not targeted). */
  rssBytes: (n: number) => (n <= 100 ? 150 : 250) * 1024 * 1024,
} as const;

/** Every memory figure printed here is in MiB (2^20 bytes). */
const MB = 1024 * 1024;
const s1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const s2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 1000)}` : "–");

interface Column {
  head: string;
  cell: (r: RunResult) => string;
}

const COLUMNS: Column[] = [
  { head: "N", cell: (r) => String(r.n) },
  { head: "kube QPS/burst", cell: (r) => r.qps },
  { head: "node flags", cell: (r) => r.nodeFlags || "none" },
  {
    head: "total s",
    cell: (r) => (r.completed ? s1(r.totalSeconds) : `>${s1(r.totalSeconds)} (${r.promoted}/${r.n})`),
  },
  { head: "ideal s", cell: (r) => s1(r.idealSeconds) },
  { head: "ratio", cell: (r) => `${r.completed ? "" : ">"}${s2(r.totalSeconds / r.idealSeconds)}` },
  { head: "per-rollout p50/max s", cell: (r) => `${s1(r.perRollout.p50)}/${s1(r.perRollout.max)}` },
  { head: "pause overrun p50/p99 s", cell: (r) => `${s2(r.pauseLateness.p50)}/${s2(r.pauseLateness.p99)}` },
  { head: "reconcile p50 ms", cell: (r) => ms(r.reconcileP50) },
  { head: "reconcile p99 ms", cell: (r) => ms(r.reconcileP99) },
  {
    head: "≤200 ms",
    cell: (r) => (r.reconcileUnder200ms === undefined ? "–" : `${(r.reconcileUnder200ms * 100).toFixed(1)}%`),
  },
  { head: "reads/step/rollout", cell: (r) => s2(r.readsPerStepPerRollout) },
  { head: "writes/step/rollout", cell: (r) => s2(r.writesPerStepPerRollout) },
  { head: "settled RSS MiB", cell: (r) => s1(r.controllerSettledRss / MB) },
  { head: "peak RSS MiB", cell: (r) => s1(Math.max(r.controllerPeakRss, r.controllerHwm) / MB) },
  { head: "CPU s", cell: (r) => s1(r.controllerCpuSeconds) },
];

/** Fixed-width text table. */
export function plainTable(results: RunResult[]): string {
  const rows = [COLUMNS.map((c) => c.head), ...results.map((r) => COLUMNS.map((c) => c.cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** GitHub-flavoured Markdown table of the same columns. */
export function markdownTable(results: RunResult[]): string {
  const head = `| ${COLUMNS.map((c) => c.head).join(" | ")} |`;
  const sep = `|${COLUMNS.map(() => "---:").join("|")}|`;
  const rows = results.map((r) => `| ${COLUMNS.map((c) => c.cell(r)).join(" | ")} |`);
  return [head, sep, ...rows].join("\n");
}

/** One PASS/MISS line per target and run. */
export function verdicts(results: RunResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const tag = `N=${r.n} qps ${r.qps} flags ${r.nodeFlags || "none"}`;
    if (r.n >= TARGETS.reconcileP99AtN || results.every((x) => x.n < TARGETS.reconcileP99AtN)) {
      const under = r.reconcileUnder200ms;
      const pass = under !== undefined ? under >= 0.99 : r.reconcileP99 < TARGETS.reconcileP99Seconds;
      const scope = r.n >= TARGETS.reconcileP99AtN ? "" : ` (target is for N=${TARGETS.reconcileP99AtN})`;
      out.push(
        `${pass ? "PASS" : "MISS"}  ${tag}: reconcile p99 ${ms(r.reconcileP99)} ms < 200 ms${scope}` +
          (under !== undefined ? ` — ${(under * 100).toFixed(2)}% of reconciles ≤ 200 ms` : ""),
      );
    }
    out.push(
      `${r.writesPerStepPerRollout <= TARGETS.writesPerStepPerRollout ? "PASS" : "MISS"}  ${tag}: ` +
        `${s2(r.writesPerStepPerRollout)} API writes per step per rollout ≤ ${TARGETS.writesPerStepPerRollout}`,
    );
    const rss = Math.max(r.controllerPeakRss, r.controllerHwm);
    const limit = TARGETS.rssBytes(r.n);
    out.push(
      `${rss <= limit ? "PASS" : "MISS"}  ${tag}: controller peak RSS ${s1(rss / MB)} MiB ≤ ${limit / MB} MiB`,
    );
  }
  return out;
}

/** "key 1.00, other 0.50", largest first: counts divided by the number of rollouts. */
function perRollout(counts: Record<string, number>, n: number): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${s2(v / n)}`)
    .join(", ");
}

/** Per-run details that do not fit the table. */
export function details(r: RunResult): string {
  const verbs = Object.entries(r.requestsByVerb)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const cluster = r.clusterCpu
    .map((p) => `${p.name} ${s1(p.cpuSeconds)} s/${s1(p.peakRss / MB)} MiB`)
    .join(", ");
  const b = r.writeBreakdown;
  const other = r.writes - b.rolloutStatus - b.eventCreates - b.eventSeries - b.trafficSplits;
  const steps = r.n * r.stages;
  return [
    `N=${r.n} (qps ${r.qps}, ${r.workers} workers, ${r.stages} stages × ${r.pauseSeconds} s pause):`,
    `  setup (create + adopt) ${s1(r.setupSeconds)} s; push of the new revision ${s1(r.pushSeconds)} s`,
    `  promoted ${r.promoted}/${r.n}, failed ${r.failed}; per rollout min/p50/p99/max ` +
      `${s1(r.perRollout.min)}/${s1(r.perRollout.p50)}/${s1(r.perRollout.p99)}/${s1(r.perRollout.max)} s`,
    `  pause overrun min/p50/p99/max ${s2(r.pauseLateness.min)}/${s2(r.pauseLateness.p50)}/` +
      `${s2(r.pauseLateness.p99)}/${s2(r.pauseLateness.max)} s`,
    `  ${r.reconciles} reconciles (${s1(r.reconciles / r.n)} per rollout); queue wait p50/p99 ≈ ` +
      `${ms(r.queueWaitP50)}/${ms(r.queueWaitP99)} ms (coarse buckets); peak queue depth ${r.peakQueueDepth}`,
    `  API requests: ${r.reads} reads, ${r.writes} writes (${verbs})`,
    `  GETs by kind (API server count): ${Object.entries(r.readsByResource)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  writes by what they changed: Rollout status ${b.rolloutStatus}, Events ${b.eventCreates} created + ` +
      `${b.eventSeries} series updates, TrafficSplits ${b.trafficSplits}, other ${other} (Deployments, Lease)` +
      ` = per step per rollout ${s2(b.rolloutStatus / steps)} + ${s2((b.eventCreates + b.eventSeries) / steps)}` +
      ` + ${s2(b.trafficSplits / steps)} + ${s2(other / steps)}`,
    `  status writes that changed each field (one write may change several), per rollout: ${perRollout(b.statusFields, r.n)}`,
    `  Events by reason, per rollout: ${perRollout(b.eventReasons, r.n)}`,
    `  API server (all clients, non-watch): ${r.apiserverRequests} requests, latency p50/p99 ≈ ` +
      `${ms(r.apiserverP50)}/${ms(r.apiserverP99)} ms; controller event-loop delay p99/max ` +
      `${ms(r.eventLoopLagP99)}/${ms(r.eventLoopLagMax)} ms`,
    `  controller CPU ${s1(r.controllerCpuSeconds)} s over ${s1(r.totalSeconds)} s ` +
      `(${s1((100 * r.controllerCpuSeconds) / r.totalSeconds)}% of one core); peak RSS ` +
      `${s1(r.controllerPeakRss / MB)} MiB while rolling out, VmHWM ${s1(r.controllerHwm / MB)} MiB; V8 heap ` +
      `total max ${s1(r.heapTotalMax / MB)} MiB, used at end ${s1(r.heapUsedEnd / MB)} MiB, external ` +
      `${s1(r.externalEnd / MB)} MiB; node flags: ${r.nodeFlags || "none (V8 defaults)"}`,
    `  others on the same cores during the rollout (CPU s / peak RSS): ${cluster}`,
    `  machine busy ${s1(r.machineBusySeconds)} CPU-s of ${s1(availableParallelism() * r.totalSeconds)} ` +
      `available (${availableParallelism()} cores); processes outside this benchmark: ${s1(r.otherCpuSeconds)} CPU-s`,
  ].join("\n");
}
