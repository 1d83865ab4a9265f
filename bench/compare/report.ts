// The side-by-side table: each figure for Vireo and Flagger, and their ratio.
import type { Spread } from "../detection/stats.ts";
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
  /** Peak RssAnon in the rollout: RSS without the binary's own pages. */
  peakAnonMb: number;
  /** RSS with all N apps adopted and nothing happening, before the push. */
  settledRssMb: number;
  hwmMb: number;
  cpuSeconds: number;
  /** Push → first traffic to the canary, p50 and p99 (s): how long a rollout waited before its first step. */
  startWaitP50: number;
  startWaitP99: number;
}

/** Detection times (ms) of both controllers, and how many runs each was given. */
export interface DetectionFigures {
  vireo: Spread;
  flagger: Spread;
  runs: number;
}

type Row = [name: string, vireo: number, flagger: number, digits: number];

function throughputRows(v: Side, f: Side): Row[] {
  return [
    ["total time s", v.totalSeconds, f.totalSeconds, 1],
    ["total / ideal", v.totalSeconds / v.idealSeconds, f.totalSeconds / f.idealSeconds, 2],
    ["wait for the first step s, p50 (push → canary traffic)", v.startWaitP50, f.startWaitP50, 1],
    ["wait for the first step s, p99", v.startWaitP99, f.startWaitP99, 1],
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
    ["  of which anonymous (RssAnon: heaps, not the binary)", v.peakAnonMb, f.peakAnonMb, 0],
    ["settled RSS MiB (N adopted, before the push)", v.settledRssMb, f.settledRssMb, 0],
    ["VmHWM MiB (whole run)", v.hwmMb, f.hwmMb, 0],
    ["CPU s (rollout)", v.cpuSeconds, f.cpuSeconds, 1],
    ["CPU ms / step / rollout", (1000 * v.cpuSeconds) / (v.n * 5), (1000 * f.cpuSeconds) / (f.n * 5), 1],
  ];
}

/** One line per controller: its writes per step by resource, largest first (what the write row is made of). */
export function writesByResource(sides: readonly Side[]): string[] {
  return sides.map((s) => {
    const parts = Object.entries(s.requests.writesByResource)
      .sort((a, b) => b[1] - a[1])
      .map(([r, count]) => `${r} ${(count / (s.n * 5)).toFixed(2)}`);
    const conflicts = Object.entries(s.requests.conflictsByResource)
      .sort((a, b) => b[1] - a[1])
      .map(([r, count]) => `${r} ${(count / (s.n * 5)).toFixed(2)}`);
    const of409 = conflicts.length ? `; of these answered 409 Conflict: ${conflicts.join(", ")}` : "";
    return `- ${s.controller} writes / step / rollout by resource: ${parts.join(", ")}${of409}`;
  });
}

function detectionRows(d: DetectionFigures): Row[] {
  return (["min", "median", "max"] as const).map(
    (k): Row => [`detection s, ${k} (bad → 0 % canary)`, d.vireo[k] / 1000, d.flagger[k] / 1000, 2],
  );
}

const cell = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : "–");

/**
 * Markdown table of Vireo against Flagger: the throughput figures of `v` and `f` (5 stages per rollout) when
 * given, then the detection times when given; the last column is Vireo/Flagger ("–" where it is undefined).
 */
export function table(sides: { v: Side; f: Side } | undefined, detection?: DetectionFigures): string {
  const lines = ["| figure | Vireo | Flagger | Vireo/Flagger |", "|---|---:|---:|---:|"];
  const rows: Row[] = [];
  if (sides) {
    lines.push(`| completed | ${sides.v.completed}/${sides.v.n} | ${sides.f.completed}/${sides.f.n} | |`);
    rows.push(...throughputRows(sides.v, sides.f));
  }
  if (detection) rows.push(...detectionRows(detection));
  lines.push(...rows.map(render));
  if (detection)
    lines.push(
      `| detection runs measured | ${detection.vireo.n}/${detection.runs} | ${detection.flagger.n}/${detection.runs} | |`,
    );
  return lines.join("\n");
}

function render([name, a, b, digits]: Row): string {
  const ratio = b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) : "–";
  return `| ${name} | ${cell(a, digits)} | ${cell(b, digits)} | ${ratio} |`;
}
