// Parses the Go-style duration strings used across the Rollout API ("30s", "5m", "1h30m", "250ms").

/** Pattern every duration field must match; shared by the zod schema and the CRD. */
export const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;

/**
 * Converts a duration string to milliseconds.
 * @throws RangeError when the text is not a duration.
 */
export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) {
    throw new RangeError(`"${text}" is not a duration; use a number with a unit, e.g. 30s, 5m, 1h30m`);
  }
  let total = 0;
  for (const match of text.matchAll(PART)) total += Number(match[1]) * (UNIT_MS[match[2]!] ?? 0);
  return Math.round(total);
}

/** Formats milliseconds as a compact duration ("1m30s"), for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  seconds -= h * 3600;
  const m = Math.floor(seconds / 60);
  seconds -= m * 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${seconds || (!h && !m) ? `${seconds}s` : ""}`;
}
