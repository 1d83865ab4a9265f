// Reads Argo Rollouts' simple success/failure conditions (`result[0] >= 0.99`, `result < 5`,
// `result >= 1 && result <= 3`) as the inclusive bounds Vireo's thresholdRange judges by; anything else is refused.

/** Inclusive bounds, as a thresholdRange holds them. */
export interface Bounds {
  min?: number;
  max?: number;
}

/** The bounds of a condition pair, or why they cannot be expressed. */
export type BoundsResult = { ok: true; bounds: Bounds } | { ok: false; message: string };

/** A set of numbers between two ends, each end included or not (an infinite end is never included). */
interface Interval {
  lo: number;
  loIn: boolean;
  hi: number;
  hiIn: boolean;
}

const NUMBER = String.raw`-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const RESULT = String.raw`result(?:\[0\])?`;
const OP = "(>=|<=|==|>|<)";
const RESULT_FIRST = new RegExp(String.raw`^\s*${RESULT}\s*${OP}\s*(${NUMBER})\s*$`);
const NUMBER_FIRST = new RegExp(String.raw`^\s*(${NUMBER})\s*${OP}\s*${RESULT}\s*$`);
/** `N op result` read as `result op' N`. */
const FLIPPED: Record<string, string> = { ">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==" };

const ALL: Interval = { lo: -Infinity, loIn: false, hi: Infinity, hiIn: false };
const FORMS =
  "result[0] >= N, result < N, result >= N && result <= M (result or result[0]; >=, >, <=, <, ==)";

/**
 * The set of values one condition holds for: comparisons of `result` (or `result[0]`) with numbers, joined by
 * `&&`. Undefined for anything else (`||`, functions, other variables, arithmetic), which Vireo cannot judge.
 */
function conditionInterval(text: string): Interval | undefined {
  let out: Interval = ALL;
  for (const part of text.split("&&")) {
    const a = RESULT_FIRST.exec(part);
    const b = a ? undefined : NUMBER_FIRST.exec(part);
    const op = a ? a[1] : b ? FLIPPED[b[2] as string] : undefined;
    const value = Number(a ? a[2] : b?.[1]);
    if (op === undefined || !Number.isFinite(value)) return undefined;
    out = intersect(out, clause(op, value));
  }
  return out;
}

function clause(op: string, v: number): Interval {
  switch (op) {
    case ">=":
      return { ...ALL, lo: v, loIn: true };
    case ">":
      return { ...ALL, lo: v, loIn: false };
    case "<=":
      return { ...ALL, hi: v, hiIn: true };
    case "<":
      return { ...ALL, hi: v, hiIn: false };
    default:
      return { lo: v, loIn: true, hi: v, hiIn: true };
  }
}

function intersect(a: Interval, b: Interval): Interval {
  const lo = a.lo > b.lo ? a : a.lo < b.lo ? b : { lo: a.lo, loIn: a.loIn && b.loIn };
  const hi = a.hi < b.hi ? a : a.hi > b.hi ? b : { hi: a.hi, hiIn: a.hiIn && b.hiIn };
  return { lo: lo.lo, loIn: lo.loIn, hi: hi.hi, hiIn: hi.hiIn };
}

/** The values outside `i` when they form one interval (i is open on one side), else undefined. */
function complement(i: Interval): Interval | undefined {
  if (i.lo === -Infinity && i.hi !== Infinity) return { ...ALL, lo: i.hi, loIn: !i.hiIn };
  if (i.hi === Infinity && i.lo !== -Infinity) return { ...ALL, hi: i.lo, hiIn: !i.loIn };
  return undefined;
}

/** The next double after `x` towards +∞ (`up`) or −∞: a strict bound as an inclusive one, exactly. */
export function nextAfter(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + (x > 0 === up ? 1n : -1n));
  return view.getFloat64(0);
}

/** `i` as inclusive bounds (a strict end moves to the next double), or undefined if no value is in it. */
function toBounds(i: Interval): Bounds | undefined {
  const min = i.lo === -Infinity ? undefined : i.loIn ? i.lo : nextAfter(i.lo, true);
  const max = i.hi === Infinity ? undefined : i.hiIn ? i.hi : nextAfter(i.hi, false);
  if (min !== undefined && max !== undefined && min > max) return undefined;
  return { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
}

const same = (a: Interval, b: Interval) =>
  a.lo === b.lo &&
  a.hi === b.hi &&
  (a.lo === -Infinity || a.loIn === b.loIn) &&
  (a.hi === Infinity || a.hiIn === b.hiIn);

/**
 * The passing values of an Argo metric as inclusive bounds. A successCondition alone passes what it holds for; a
 * failureCondition alone passes everything else (so it must be one-sided); both must split the numbers with no
 * gap, because a value that is neither (Argo's Inconclusive) has no thresholdRange.
 */
export function conditionBounds(success: string | undefined, failure: string | undefined): BoundsResult {
  if (success === undefined && failure === undefined)
    return { ok: false, message: "has neither successCondition nor failureCondition: nothing to judge" };
  const s = success === undefined ? undefined : conditionInterval(success);
  if (success !== undefined && s === undefined)
    return { ok: false, message: `successCondition ${JSON.stringify(success)} is not one of ${FORMS}` };
  const f = failure === undefined ? undefined : conditionInterval(failure);
  if (failure !== undefined && f === undefined)
    return { ok: false, message: `failureCondition ${JSON.stringify(failure)} is not one of ${FORMS}` };
  const passing = f === undefined ? undefined : complement(f);
  if (f !== undefined && passing === undefined) {
    return {
      ok: false,
      message: `failureCondition ${JSON.stringify(failure)} must be one-sided (result < N or result > N): what passes must be one range`,
    };
  }
  if (s !== undefined && passing !== undefined && !same(s, passing)) {
    return {
      ok: false,
      message: `successCondition ${JSON.stringify(success)} and failureCondition ${JSON.stringify(failure)} leave values that are neither (Argo's Inconclusive): a thresholdRange has no such band`,
    };
  }
  const bounds = toBounds((s ?? passing) as Interval);
  if (bounds === undefined || (bounds.min === undefined && bounds.max === undefined))
    return { ok: false, message: `the conditions hold for ${bounds ? "every" : "no"} value` };
  return { ok: true, bounds };
}
