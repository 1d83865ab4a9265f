// Reads counters and histograms from Prometheus text exposition, and turns bucket deltas into quantiles.

/** One sample line: metric name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of a Prometheus text exposition (comments skipped). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.lastIndexOf(" ");
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    if (brace < 0 || brace > space) {
      out.push({ name: line.slice(0, space), labels: {}, value });
      continue;
    }
    const name = line.slice(0, brace);
    const labels: Record<string, string> = {};
    const body = line.slice(brace + 1, line.lastIndexOf("}"));
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    out.push({ name, labels, value });
  }
  return out;
}

/** A parsed scrape with lookups by name and labels. */
export class Scrape {
  readonly samples: Sample[];

  constructor(text: string) {
    this.samples = parseSamples(text);
  }

  /** Sum of every series of `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const s of this.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
    return total;
  }

  /** Values of `name` grouped by one label (summed over the others). */
  byLabel(name: string, label: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.samples) {
      if (s.name !== name) continue;
      const key = s.labels[label] ?? "";
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
    return out;
  }

  /** Values of the series of `name` matching `match`, grouped by label `by`. */
  byLabels(name: string, match: Record<string, string>, by: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.samples) {
      if (s.name !== name || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
      const key = s.labels[by] ?? "";
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
    return out;
  }

  /** Cumulative bucket counts of histogram `name` (summed over the series `keep` accepts), sorted by bound. */
  buckets(name: string, keep: (labels: Record<string, string>) => boolean = () => true): Bucket[] {
    const byLe = new Map<string, number>();
    for (const s of this.samples) {
      if (s.name !== `${name}_bucket` || !keep(s.labels)) continue;
      const le = s.labels.le ?? "";
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    }
    return [...byLe.entries()]
      .map(([le, count]) => ({ le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), count }))
      .sort((a, b) => a.le - b.le);
  }
}

/** One cumulative histogram bucket: observations ≤ `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/** Bucket-wise difference `after − before` (a histogram of what happened in between). */
export function bucketDelta(before: Bucket[], after: Bucket[]): Bucket[] {
  const prev = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
}

/** Quantile estimate from cumulative buckets, interpolating linearly inside a bucket (as histogram_quantile). */
export function quantile(q: number, buckets: Bucket[]): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe; // beyond the last finite bound: report that bound
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Fraction of observations ≤ `bound`, exact when `bound` is a bucket boundary (undefined otherwise). */
export function fractionAtMost(bound: number, buckets: Bucket[]): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  const b = buckets.find((x) => x.le === bound);
  if (!b || total === 0) return undefined;
  return b.count / total;
}
