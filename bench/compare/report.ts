// The side-by-side table: each figure for Vireo and Flagger, and their ratio.
import type { RequestCounts } from "./audit-count.ts";

/** What one controller did in the measured phase. */
export interface Side {
  controller: string;
  n: number;
  completed: number;
  failed: number;
  setupSeconds: number;
  totalSeconds: number;
  idealSeconds: number;
  requests: RequestCounts;
  readsPerStepPerRollout: number;
  writesPerStepPerRollout: number;
  peakRssMb: number;
  hwmMb: number;
  cpuSeconds: number;
}

/** Markdown table of `v` against `f` (5 stages per rollout). */
export function table(v: Side, f: Side): string {
  const rows: [string, number, number, number][] = [
    ["total time s", v.totalSeconds, f.totalSeconds, 1],
    ["total / ideal", v.totalSeconds / v.idealSeconds, f.totalSeconds / f.idealSeconds, 2],
    ["API reads / step / rollout (excl. election)", v.readsPerStepPerRollout, f.readsPerStepPerRollout, 2],
    ["API writes / step / rollout (excl. election)", v.writesPerStepPerRollout, f.writesPerStepPerRollout, 2],
    ["  of which Events", v.requests.eventWrites / (v.n * 5), f.requests.eventWrites / (f.n * 5), 2],
    [
      "leader-election reads+writes / step / rollout",
      (v.requests.electionReads + v.requests.electionWrites) / (v.n * 5),
      (f.requests.electionReads + f.requests.electionWrites) / (f.n * 5),
      2,
    ],
    ["peak RSS MiB (rollout)", v.peakRssMb, f.peakRssMb, 0],
    ["VmHWM MiB (whole run)", v.hwmMb, f.hwmMb, 0],
    ["CPU s (rollout)", v.cpuSeconds, f.cpuSeconds, 1],
    ["CPU ms / step / rollout", (1000 * v.cpuSeconds) / (v.n * 5), (1000 * f.cpuSeconds) / (f.n * 5), 1],
  ];
  const lines = [
    "| figure | Vireo | Flagger | Vireo/Flagger |",
    "|---|---:|---:|---:|",
    `| completed | ${v.completed}/${v.n} | ${f.completed}/${f.n} | |`,
  ];
  for (const [name, a, b, digits] of rows)
    lines.push(
      `| ${name} | ${a.toFixed(digits)} | ${b.toFixed(digits)} | ${b > 0 ? (a / b).toFixed(2) : "–"} |`,
    );
  return lines.join("\n");
}
