// Order statistics of detection times (shared by bench:detection and bench:compare).

/** The median of `xs` (the mean of the two middle values for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Minimum, median and maximum of a sample, and its size. */
export interface Spread {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** The {@link Spread} of `xs`; every figure NaN for an empty sample (a report shows "–", never a made-up 0). */
export function spread(xs: readonly number[]): Spread {
  if (xs.length === 0) return { n: 0, min: Number.NaN, median: Number.NaN, max: Number.NaN };
  return { n: xs.length, min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}
