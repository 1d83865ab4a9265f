// Pure plot data: weight and metric series over time from status (measurements, milestones) and live updates.
import { REASONS } from "../../src/api/constants.ts";
import type { Measurement, Rollout } from "../../src/api/rollout-schema.ts";

/** One point: time in ms since the epoch, value. */
export interface Point {
  t: number;
  v: number;
}

/** The data of one metric's plot. */
export interface MetricPlot {
  name: string;
  canary: Point[];
  /** The primary's value, for compareToPrimary metrics. */
  primary: Point[];
  /** Fixed bounds drawn as lines. */
  min?: number;
  max?: number;
  /** Verdicts, to mark failing ticks. */
  verdicts: { t: number; verdict: Measurement["verdict"] }[];
  /** The bound in words, as the controller judged it. */
  threshold?: string;
}

/** Milestones after which the canary has no traffic: a rollout's start, its end either way. */
const WEIGHT_ZERO_AFTER = new Set<string>([
  REASONS.RolloutStarted,
  REASONS.Promoted,
  REASONS.RolledBack,
  REASONS.Aborted,
]);

/** Sorts by time and keeps the last value of points at the same instant. */
export function normalise(points: Point[]): Point[] {
  const byTime = new Map<number, number>();
  for (const p of [...points].sort((a, b) => a.t - b.t)) if (Number.isFinite(p.t)) byTime.set(p.t, p.v);
  return [...byTime.entries()].map(([t, v]) => ({ t, v }));
}

/**
 * The canary weight over time, from what only the controller writes: the weight recorded with each measurement,
 * 0 at milestones that leave the canary without traffic, and the weights the page saw live from the watch. Events
 * are not read: anyone allowed to create Events in the namespace could draw a line with one.
 */
export function weightSeries(rollout: Rollout, live: Point[]): Point[] {
  const points: Point[] = [];
  for (const m of rollout.status?.analysis?.history ?? []) points.push({ t: Date.parse(m.at), v: m.weight });
  for (const m of rollout.status?.milestones ?? []) {
    if (WEIGHT_ZERO_AFTER.has(m.reason)) points.push({ t: Date.parse(m.at), v: 0 });
  }
  points.push(...live);
  return normalise(points);
}

/** One plot per metric of the spec, with its thresholds. */
export function metricPlots(rollout: Rollout): MetricPlot[] {
  const history = rollout.status?.analysis?.history ?? [];
  return (rollout.spec.analysis?.metrics ?? []).map((metric) => {
    const mine = history.filter((m) => m.metric === metric.name);
    return {
      name: metric.name,
      canary: normalise(
        mine.filter((m) => m.value !== undefined).map((m) => ({ t: Date.parse(m.at), v: m.value ?? 0 })),
      ),
      primary: normalise(
        mine
          .filter((m) => m.primaryValue !== undefined)
          .map((m) => ({ t: Date.parse(m.at), v: m.primaryValue ?? 0 })),
      ),
      min: metric.thresholdRange?.min,
      max: metric.thresholdRange?.max,
      verdicts: mine.map((m) => ({ t: Date.parse(m.at), verdict: m.verdict })),
      threshold: mine.at(-1)?.threshold,
    };
  });
}

/** A [low, high] range covering the values and bounds, padded so lines do not sit on the frame. */
export function valueDomain(values: number[], bounds: (number | undefined)[] = []): [number, number] {
  const all = [...values, ...bounds.filter((b): b is number => b !== undefined)];
  if (all.length === 0) return [0, 1];
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 1;
    hi += Math.abs(hi) * 0.1 || 1;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

/** Maps data to pixels inside a box. */
export interface Frame {
  t0: number;
  t1: number;
  lo: number;
  hi: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Pixel x of a time. */
export function px(f: Frame, t: number): number {
  return f.x + (f.t1 === f.t0 ? f.width : ((t - f.t0) / (f.t1 - f.t0)) * f.width);
}

/** Pixel y of a value. */
export function py(f: Frame, v: number): number {
  return f.y + f.height - ((v - f.lo) / (f.hi - f.lo)) * f.height;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** An SVG path through the points; `step` holds each value until the next point (weights change in steps). */
export function linePath(points: Point[], f: Frame, step = false): string {
  let d = "";
  let prevY: number | undefined;
  for (const [i, p] of points.entries()) {
    const x = r1(px(f, p.t));
    const y = r1(py(f, p.v));
    if (i === 0) d += `M${x} ${y}`;
    else if (step && prevY !== undefined) d += `H${x}V${y}`;
    else d += `L${x} ${y}`;
    prevY = y;
  }
  return d;
}
