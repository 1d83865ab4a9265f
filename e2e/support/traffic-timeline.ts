// Steady load as a timeline for the tests that switch all traffic at once (blue/green): what the root and the preview
// answered in each 100 ms slice, and how many of those requests failed.
import type { Counts, Load } from "../dataplane/load.ts";

/** What each entry point answered in one 100 ms slice. */
export interface Slice {
  at: number;
  root: Counts;
  preview: Counts;
}

/** Requests that did not get a 2xx from a pod: 5xx/4xx, answers by the proxy itself, transport errors. */
export function failed(c: Counts): number {
  let n = c.transportErrors;
  for (const [app, classes] of c.byApp)
    for (const [cls, count] of classes) if (app === "" || cls !== "2xx") n += count;
  return n;
}

/** Samples both loads every 100 ms until stopped. */
export function timeline(root: Load, preview: Load): { slices: Slice[]; stop: () => void } {
  const slices: Slice[] = [];
  root.mark();
  preview.mark();
  const timer = setInterval(
    () => slices.push({ at: Date.now(), root: root.mark(), preview: preview.mark() }),
    100,
  );
  return {
    slices,
    stop: () => {
      clearInterval(timer);
      slices.push({ at: Date.now(), root: root.mark(), preview: preview.mark() });
    },
  };
}

/** The sum of `f` over `slices`. */
export const sum = (slices: Slice[], f: (s: Slice) => number): number => slices.reduce((n, s) => n + f(s), 0);

/** First slice at or after `from` in which `f` holds. */
export const firstAt = (slices: Slice[], from: number, f: (s: Slice) => boolean): number | undefined =>
  slices.find((s) => s.at >= from && f(s))?.at;

/** Milliseconds as seconds for a report, or "never". */
export const fmt = (ms: number | undefined): string =>
  ms === undefined ? "never" : `${(ms / 1000).toFixed(2)} s`;
