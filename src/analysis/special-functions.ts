// Log-space special functions the sequential judges need: log Γ, log B and the regularized incomplete beta tails.

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * log Γ(x) for x > 0: Stirling's series, after shifting x up to at least 10 with Γ(x) = Γ(x + n) / (x (x+1) … (x+n-1)),
 * where the series' first four correction terms are accurate to about 1e-12.
 */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  let shift = 0;
  while (x < 10) {
    shift += Math.log(x);
    x += 1;
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  const series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
  return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + series - shift;
}

/** log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/**
 * The continued fraction of I_x(a, b) (its even and odd terms d_2m = m(b−m)x / ((a+2m−1)(a+2m)),
 * d_2m+1 = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1))), evaluated by the modified Lentz method. Converges fast for
 * x < (a+1)/(a+b+2).
 */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    const even = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + even * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + even / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + odd * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + odd / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/**
 * log I_x(a, b), the log of the regularized incomplete beta function (the Beta(a, b) distribution function at x).
 * Computed directly where the continued fraction converges and through I_x(a, b) = 1 − I_{1−x}(b, a) elsewhere,
 * so even a tail of 1e-200 keeps its digits.
 */
export function logRegularizedBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`logRegularizedBeta needs a, b > 0, got ${a}, ${b}`);
  if (x <= 0) return Number.NEGATIVE_INFINITY;
  if (x >= 1) return 0;
  if (x < (a + 1) / (a + b + 2)) return logBetaByFraction(x, a, b);
  return Math.log1p(-Math.exp(logBetaByFraction(1 - x, b, a)));
}

/** log I_x(a, b) from the continued fraction; accurate where x ≤ (a+1)/(a+b+2) (and so for 1 − x on the other side). */
function logBetaByFraction(x: number, a: number, b: number): number {
  const front = a * Math.log(x) + b * Math.log1p(-x) - Math.log(a) - logBeta(a, b);
  return front + Math.log(betaContinuedFraction(x, a, b));
}

/** log(1 − I_x(a, b)): the Beta(a, b) mass above x. */
export function logRegularizedBetaUpper(x: number, a: number, b: number): number {
  return logRegularizedBeta(1 - x, b, a);
}
