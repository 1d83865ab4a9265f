// Deployment windows and blackouts: whether progress is allowed at an instant, and when that next changes.
import { CronExpressionParser } from "cron-parser";
import { parseDuration } from "../api/duration.ts";
import type { WindowSpec } from "../api/rollout-schema.ts";

/** Whether rollouts may progress now, why, and the next instant this may change. */
export interface WindowState {
  open: boolean;
  /** Human explanation, e.g. "deny window 0 18 * * 5 (Europe/Berlin) active until 2026-11-23T07:00:00Z". */
  message: string;
  /** Next window edge (start or end of any window), for requeueAfter. */
  nextTransitionAt?: Date;
}

/** The state when a Rollout has no windows. */
export const ALWAYS_OPEN: WindowState = { open: true, message: "no deployment windows" };

interface Occurrence {
  start: Date;
  end: Date;
}

/** The latest occurrence of a window starting at or before `now`, and the next start after `now`. */
function occurrences(w: WindowSpec, now: Date): { current: Occurrence; nextStart: Date } {
  const durationMs = parseDuration(w.duration);
  // prev() is strictly before currentDate; +1 ms makes a window starting exactly now count as started.
  const prevStart = CronExpressionParser.parse(w.schedule, {
    tz: w.timeZone,
    currentDate: new Date(now.getTime() + 1),
  })
    .prev()
    .toDate();
  const nextStart = CronExpressionParser.parse(w.schedule, { tz: w.timeZone, currentDate: now })
    .next()
    .toDate();
  return { current: { start: prevStart, end: new Date(prevStart.getTime() + durationMs) }, nextStart };
}

const describe = (w: WindowSpec) => `${w.kind} window "${w.schedule}" (${w.timeZone}, ${w.duration})`;

/**
 * Evaluates windows at `now`. No windows: open. Any active deny: closed (deny wins). Any allow windows: open only
 * while one is active. Specs are validated before this runs (see api/validate.ts), so parsing cannot fail here.
 */
export function evaluateWindows(windows: readonly WindowSpec[] | undefined, now: Date): WindowState {
  if (!windows || windows.length === 0) return ALWAYS_OPEN;
  let nextTransition = Number.POSITIVE_INFINITY;
  let activeDeny: { w: WindowSpec; end: Date } | undefined;
  let activeAllow: { w: WindowSpec; end: Date } | undefined;
  for (const w of windows) {
    const { current, nextStart } = occurrences(w, now);
    const active = now.getTime() < current.end.getTime();
    if (active) nextTransition = Math.min(nextTransition, current.end.getTime());
    nextTransition = Math.min(nextTransition, nextStart.getTime());
    if (active && w.kind === "deny" && (!activeDeny || current.end > activeDeny.end))
      activeDeny = { w, end: current.end };
    if (active && w.kind === "allow") activeAllow = { w, end: current.end };
  }
  const nextTransitionAt = Number.isFinite(nextTransition) ? new Date(nextTransition) : undefined;
  if (activeDeny) {
    return {
      open: false,
      message: `${describe(activeDeny.w)} is active until ${activeDeny.end.toISOString()}`,
      ...(nextTransitionAt ? { nextTransitionAt } : {}),
    };
  }
  const hasAllow = windows.some((w) => w.kind === "allow");
  if (hasAllow && !activeAllow) {
    return {
      open: false,
      message: `outside every allow window; next window edge ${nextTransitionAt?.toISOString() ?? "unknown"}`,
      ...(nextTransitionAt ? { nextTransitionAt } : {}),
    };
  }
  return {
    open: true,
    message: activeAllow
      ? `${describe(activeAllow.w)} is open until ${activeAllow.end.toISOString()}`
      : "no window active",
    ...(nextTransitionAt ? { nextTransitionAt } : {}),
  };
}
