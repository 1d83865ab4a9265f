// Reads the number a web metric judges out of a JSON answer: evaluates a parsed JSONPath (no eval, own properties
// only) and accepts a number or a numeric string; anything else is an error that says what was found.
import { formatJsonPath, type JsonPathSegment } from "../api/json-path.ts";
import { sanitizeText } from "../telemetry/sanitize.ts";
import { type Reduce, reduceValues } from "./reduce.ts";

/** The answer held something other than a number where the path points; the message is safe for status. */
export class JsonValueError extends Error {
  override name = "JsonValueError";
}

/** A decimal number as text, as some APIs send numbers ("12.5", "-3e2"); hex, Infinity and "" are not. */
const NUMERIC_STRING = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
/** Longest excerpt of a selected value shown in a message. */
const EXCERPT = 32;

/** Every value `segments` selects in `doc`, in document order (RFC 9535 semantics for the supported subset). */
export function selectNodes(doc: unknown, segments: readonly JsonPathSegment[]): unknown[] {
  let nodes: unknown[] = [doc];
  for (const s of segments) {
    const next: unknown[] = [];
    for (const n of nodes) {
      if (s.kind === "wildcard") {
        if (Array.isArray(n)) next.push(...n);
        else if (isObject(n)) next.push(...Object.values(n));
      } else if (s.kind === "index") {
        if (!Array.isArray(n)) continue;
        const i = s.index < 0 ? n.length + s.index : s.index;
        if (i >= 0 && i < n.length) next.push(n[i]);
      } else if (isObject(n) && Object.hasOwn(n, s.name)) {
        next.push(n[s.name]);
      }
    }
    nodes = next;
  }
  return nodes;
}

/**
 * The number `segments` selects in `doc`. Nothing selected, or JSON null, is no data (null). Several values need
 * `reduce` (nulls among them are skipped).
 * @throws JsonValueError for a boolean, object, array or non-numeric string, and for several values without reduce.
 */
export function selectNumber(
  doc: unknown,
  segments: readonly JsonPathSegment[],
  reduce?: Reduce,
): number | null {
  const nodes = selectNodes(doc, segments);
  if (nodes.length > 1 && !reduce) {
    throw new JsonValueError(
      `${formatJsonPath(segments)} selects ${nodes.length} values; set reduce: sum|avg|min|max`,
    );
  }
  const values = nodes.map((n) => toNumber(n, segments)).filter((v): v is number => v !== null);
  if (values.length === 0) return null;
  return values.length === 1 ? (values[0] as number) : reduceValues(values, reduce as Reduce);
}

function toNumber(v: unknown, segments: readonly JsonPathSegment[]): number | null {
  if (v === null) return null;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && NUMERIC_STRING.test(v)) {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  throw new JsonValueError(
    `${formatJsonPath(segments)} selects ${describe(v)}, not a number or a numeric string`,
  );
}

/** What a value is, with a short printable excerpt of a string (the answer's text stays out of status otherwise). */
function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (isObject(v)) return "an object";
  if (typeof v === "string") {
    const clean = sanitizeText(v.replace(/[^\x20-\x7e]+/g, "?"));
    return `the string ${JSON.stringify(clean.length > EXCERPT ? `${clean.slice(0, EXCERPT)}…` : clean)}`;
  }
  return `a ${typeof v}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
