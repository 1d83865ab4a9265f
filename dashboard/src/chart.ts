// An SVG line chart (preact): one or two series over time, threshold lines, pass/fail marks.
import { type ComponentChild, h } from "preact";
import { type Frame, linePath, type Point, px, py, valueDomain } from "./plot.ts";

/** Props of {@link Chart}. */
export interface ChartProps {
  id: string;
  title: string;
  series: { name: string; className: string; points: Point[]; step?: boolean }[];
  thresholds?: { label: string; value: number }[];
  marks?: { t: number; v: number; ok: boolean }[];
  /** Fixed value range (weights are 0–100). */
  domain?: [number, number];
  /** Time range shared by the charts of one page. */
  t0: number;
  t1: number;
  unit?: string;
}

const W = 520;
const H = 200;
const M = { left: 48, right: 12, top: 24, bottom: 24 };

const clock = (t: number) =>
  new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const num = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(2));

/** Renders the chart. Pure: the same props give the same SVG. */
export function Chart(p: ChartProps): ComponentChild {
  const values = p.series.flatMap((s) => s.points.map((pt) => pt.v));
  const [lo, hi] =
    p.domain ??
    valueDomain(
      values,
      (p.thresholds ?? []).map((t) => t.value),
    );
  const f: Frame = {
    t0: p.t0,
    t1: p.t1,
    lo,
    hi,
    x: M.left,
    y: M.top,
    width: W - M.left - M.right,
    height: H - M.top - M.bottom,
  };
  const last = p.series[0]?.points.at(-1);
  const ticks = [lo, (lo + hi) / 2, hi];
  return h(
    "svg",
    {
      class: "plot",
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      role: "img",
      "aria-label": p.title,
      "data-testid": p.id,
      "data-points": String(p.series[0]?.points.length ?? 0),
      "data-last": last ? String(last.v) : "",
    },
    h("text", { x: M.left, y: 14, style: "font-weight:600;fill:#1d2430" }, p.title),
    last
      ? h("text", { x: W - M.right, y: 14, "text-anchor": "end" }, `now ${num(last.v)}${p.unit ?? ""}`)
      : null,
    h("line", { class: "axis", x1: f.x, y1: f.y + f.height, x2: f.x + f.width, y2: f.y + f.height }),
    h("line", { class: "axis", x1: f.x, y1: f.y, x2: f.x, y2: f.y + f.height }),
    ...ticks.map((v) =>
      h("text", { x: f.x - 6, y: py(f, v) + 4, "text-anchor": "end" }, `${num(v)}${p.unit ?? ""}`),
    ),
    h("text", { x: f.x, y: H - 6 }, clock(p.t0)),
    h("text", { x: f.x + f.width, y: H - 6, "text-anchor": "end" }, clock(p.t1)),
    ...(p.thresholds ?? []).map((t) =>
      h(
        "g",
        { "data-testid": `${p.id}-threshold` },
        h("line", { class: "threshold", x1: f.x, x2: f.x + f.width, y1: py(f, t.value), y2: py(f, t.value) }),
        h(
          "text",
          { x: f.x + f.width - 4, y: py(f, t.value) - 4, "text-anchor": "end", class: "fail" },
          t.label,
        ),
      ),
    ),
    ...p.series.map((s) =>
      h("path", { class: s.className, d: linePath(s.points, f, s.step), "data-series": s.name }),
    ),
    ...(p.marks ?? []).map((m) =>
      h("circle", { class: m.ok ? "pass" : "fail", cx: px(f, m.t), cy: py(f, m.v), r: 3.5 }),
    ),
  );
}
