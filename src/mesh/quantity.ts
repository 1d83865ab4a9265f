// Exact parsing of Kubernetes quantities ("500m", "1", "0.5", 50, "1k", "1Ki", "5e-1") and weights → percentages.
import type { Weights } from "../rollout/types.ts";

/** A non-negative exact rational number: `num / den`, `den > 0`. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

const DECIMAL_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIX: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
// Mirrors apimachinery's quantity grammar: <sign><digits>[.<digits>]<suffix>, suffix SI, binary or e<exp>.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([numkMGTPE]|[KMGTPE]i)|[eE]([+-]?\d+))?$/;
// Far beyond any sensible weight; bounds BigInt sizes for hostile input like "1e999999999".
const MAX_EXPONENT = 64;

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/**
 * Parses a Kubernetes quantity (string or JSON number) into an exact rational. Returns undefined for anything
 * that is not a valid, finite, non-negative quantity (weights can't be negative).
 */
export function parseQuantity(value: unknown): Rational | undefined {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    // String(1e-7) is "1e-7", which the grammar below reads exactly; no float arithmetic involved.
    text = String(value);
  } else if (typeof value === "string") {
    text = value.trim();
  } else {
    return undefined;
  }
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign, digits = "", suffix, exponent] = m;
  const [intPart = "", fracPart = ""] = digits.split(".");
  let num = BigInt((intPart || "0") + fracPart);
  let den = pow10(fracPart.length);
  if (sign === "-" && num !== 0n) return undefined;
  let exp10 = 0;
  if (exponent !== undefined) exp10 = Number(exponent);
  else if (suffix !== undefined && suffix in BINARY_SUFFIX)
    num *= 1024n ** BigInt(BINARY_SUFFIX[suffix] ?? 0);
  else exp10 = DECIMAL_SUFFIX[suffix ?? ""] ?? 0;
  if (Math.abs(exp10) > MAX_EXPONENT) return undefined;
  if (exp10 >= 0) num *= pow10(exp10);
  else den *= pow10(-exp10);
  return reduce({ num, den });
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function reduce(r: Rational): Rational {
  if (r.num === 0n) return { num: 0n, den: 1n };
  const g = gcd(r.num, r.den);
  return { num: r.num / g, den: r.den / g };
}

/** Zero as a {@link Rational}. */
export const ZERO: Rational = { num: 0n, den: 1n };

/** `a + b`, reduced. */
export function addRational(a: Rational, b: Rational): Rational {
  return reduce({ num: a.num * b.den + b.num * a.den, den: a.den * b.den });
}

/** Canonical text of a quantity's value ("9/10"), for comparing weights regardless of how they were written. */
export function canonicalQuantity(value: unknown): string {
  const r = parseQuantity(value);
  return r ? `${r.num}/${r.den}` : `invalid:${JSON.stringify(value)}`;
}

/**
 * Turns two relative weights into percentages summing to 100. The canary share is rounded to the nearest
 * integer; an exact half rounds toward primary, so a reading never overstates canary traffic. Returns
 * undefined when both weights are zero (the split routes nothing and has no percentages).
 */
export function toPercentages(primary: Rational, canary: Rational): Weights | undefined {
  // Common denominator: p = primary.num·canary.den, c = canary.num·primary.den.
  const p = primary.num * canary.den;
  const c = canary.num * primary.den;
  const total = p + c;
  if (total === 0n) return undefined;
  const scaled = c * 100n;
  let pct = scaled / total;
  if ((scaled % total) * 2n > total) pct += 1n;
  const canaryPct = Number(pct);
  return { primary: 100 - canaryPct, canary: canaryPct };
}
