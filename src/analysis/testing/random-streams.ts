// Seeded random request streams for the judges' property tests and bench/judge.ts: a PRNG, binomial draws, and
// bucketed latencies. Test and benchmark support only.

/** A seeded uniform [0, 1) generator (mulberry32): the same seed gives the same stream on every machine. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * A Binomial(n, p) draw: exact inversion while the variance is small (the regime where errors are rare and every
 * one matters), a rounded normal approximation once n·p·(1−p) > 400, where its error is far below the noise.
 */
export function binomial(rand: () => number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  const variance = n * p * (1 - p);
  if (variance > 400) {
    const k = Math.round(n * p + Math.sqrt(variance) * normal(rand));
    return Math.min(n, Math.max(0, k));
  }
  if (p > 0.5) return n - binomial(rand, n, 1 - p);
  // Inversion: walk the pmf from 0 with P(k+1) = P(k)·(n−k)/(k+1)·p/(1−p).
  const u = rand();
  let pmf = (1 - p) ** n;
  let cdf = pmf;
  let k = 0;
  const odds = p / (1 - p);
  while (u > cdf && k < n) {
    pmf *= ((n - k) / (k + 1)) * odds;
    cdf += pmf;
    k++;
  }
  return k;
}

/** A Poisson-ish request count for `seconds` at `rps`: Binomial(10·expected, 0.1), close to Poisson and cheap. */
export function requestCount(rand: () => number, rps: number, seconds: number): number {
  const expected = rps * seconds;
  return binomial(rand, Math.round(expected * 10), 0.1);
}

/**
 * Per-bucket probabilities of a log-normal latency with median `medianMs` and log-sd `sigma` over `bounds`
 * (ascending, finite); the last entry is the mass above the largest bound.
 */
export function bucketProbabilities(bounds: readonly number[], medianMs: number, sigma: number): number[] {
  const cdf = (x: number) => 0.5 * (1 + erf(Math.log(x / medianMs) / (sigma * Math.SQRT2)));
  const out: number[] = [];
  let prev = 0;
  for (const b of bounds) {
    const c = cdf(b);
    out.push(c - prev);
    prev = c;
  }
  out.push(1 - prev);
  return out;
}

/** Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for simulated latencies. */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return sign * y;
}

/** Draws how `n` requests fall into buckets with `probs` (multinomial, by successive binomials). */
export function multinomial(rand: () => number, n: number, probs: readonly number[]): number[] {
  const out: number[] = [];
  let left = n;
  let mass = 1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    const k = i === probs.length - 1 ? left : binomial(rand, left, mass > 0 ? Math.min(1, p / mass) : 0);
    out.push(k);
    left -= k;
    mass -= p;
  }
  return out;
}
