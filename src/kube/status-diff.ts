// Pure JSON diffing for status writes: equality with JSON semantics and RFC 7386 merge-patch construction.

/** A JSON value as it travels over the wire (after `JSON.stringify`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Deep equality with JSON semantics: object members that are `undefined` are treated as absent, key order is
 * irrelevant, arrays compare element-wise; `Date`s compare by their ISO string (what would be sent).
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  a = normalize(a);
  b = normalize(b);
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  const ak = definedKeys(a as Record<string, unknown>);
  const bk = definedKeys(b as Record<string, unknown>);
  if (ak.length !== bk.length) return false;
  return ak.every(
    (k) =>
      Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

/**
 * The JSON merge patch (RFC 7386) that turns `previous` into `next`: only changed members appear; removed
 * members are `null`; nested objects are diffed recursively (a plain copy would *merge* and leave removed
 * nested keys behind); arrays and scalars are replaced whole. Returns `undefined` when nothing changed.
 * A `null` inside `next` means "absent" — merge patch cannot express a literal null value.
 */
export function createMergePatch(previous: unknown, next: unknown): Json | undefined {
  const p = normalize(previous);
  const n = normalize(next);
  if (jsonEqual(p, n)) return undefined;
  if (!isPlainObject(p) || !isPlainObject(n)) return n === undefined ? null : toJson(n);
  const patch: Record<string, Json> = {};
  for (const k of new Set([...definedKeys(p), ...definedKeys(n)])) {
    const pv = p[k];
    const nv = n[k];
    if (nv === undefined || nv === null) {
      if (pv !== undefined && pv !== null) patch[k] = null;
      continue;
    }
    const sub =
      isPlainObject(pv) && isPlainObject(nv)
        ? createMergePatch(pv, nv)
        : jsonEqual(pv, nv)
          ? undefined
          : toJson(nv);
    if (sub !== undefined) patch[k] = sub;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * The status part of a merge patch: changed top-level status fields (recursively diffed), removed ones as
 * `null`. `undefined` when the statuses are equal — the caller then makes no request at all.
 */
export function statusMergePatch(
  previous: Record<string, unknown> | undefined,
  next: Record<string, unknown>,
): Record<string, Json> | undefined {
  const patch = createMergePatch(previous ?? {}, next);
  return patch === undefined ? undefined : (patch as Record<string, Json>);
}

function normalize(v: unknown): unknown {
  return v instanceof Date ? v.toISOString() : v;
}

function toJson(v: unknown): Json {
  return JSON.parse(JSON.stringify(v)) as Json;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function definedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined);
}
