// The JSONPath subset a web metric reads its number with (RFC 9535 syntax, no filters or scripts): parsed here so
// the schema refuses a bad path at apply time and the measurement never sees one.

/** One step of a path: a member name, an array index (negative counts from the end), or every child. */
export type JsonPathSegment =
  | { kind: "name"; name: string }
  | { kind: "index"; index: number }
  | { kind: "wildcard" };

/** A path that is not in the supported subset; the message says where and why. */
export class JsonPathError extends Error {
  override name = "JsonPathError";
}

/** Longest path accepted (the schema's bound too). */
export const MAX_JSON_PATH = 256;

const SHORTHAND_FIRST = /[A-Za-z_]/;
const SHORTHAND_REST = /[A-Za-z0-9_]/;
const ESCAPES: Record<string, string> = {
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  "/": "/",
  "\\": "\\",
  "'": "'",
  '"': '"',
};

/**
 * Parses `$`, `.name`, `.*`, `['name']`, `["name"]`, `[0]`, `[-1]` and `[*]` (RFC 9535 forms). Descendants (`..`),
 * filters (`?`), slices (`:`) and unions (`,`) are refused by name: a metric must point at one place.
 * @throws JsonPathError naming the offending position.
 */
export function parseJsonPath(path: string): JsonPathSegment[] {
  if (path.length > MAX_JSON_PATH) throw new JsonPathError(`longer than ${MAX_JSON_PATH} characters`);
  if (path[0] !== "$") throw new JsonPathError("must start with $");
  const out: JsonPathSegment[] = [];
  let i = 1;
  const fail = (what: string): never => {
    throw new JsonPathError(`${what} at position ${i}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      i++;
      if (path[i] === ".") fail("descendant segments (..) are not supported");
      if (path[i] === "*") {
        out.push({ kind: "wildcard" });
        i++;
        continue;
      }
      if (!SHORTHAND_FIRST.test(path[i] ?? "")) fail("expected a member name after '.'");
      const start = i;
      while (i < path.length && SHORTHAND_REST.test(path[i] as string)) i++;
      out.push({ kind: "name", name: path.slice(start, i) });
      continue;
    }
    if (c !== "[") fail(`unexpected ${JSON.stringify(c)}`);
    i++;
    i = skipBlanks(path, i);
    const d = path[i];
    if (d === "'" || d === '"') {
      const [name, next] = readString(path, i, d, fail);
      out.push({ kind: "name", name });
      i = next;
    } else if (d === "*") {
      out.push({ kind: "wildcard" });
      i++;
    } else if (d === "?") fail("filter selectors (?…) are not supported");
    else {
      const m = /^(0|-?[1-9][0-9]*)/.exec(path.slice(i));
      if (!m) fail("expected a quoted name, an index or *");
      const text = (m as RegExpExecArray)[0];
      const index = Number(text);
      if (!Number.isSafeInteger(index)) fail("index out of range");
      out.push({ kind: "index", index });
      i += text.length;
    }
    i = skipBlanks(path, i);
    if (path[i] === ":") fail("slices are not supported");
    if (path[i] === ",") fail("unions (several selectors in one bracket) are not supported");
    if (path[i] !== "]") fail("expected ]");
    i++;
  }
  return out;
}

function skipBlanks(path: string, i: number): number {
  while (path[i] === " " || path[i] === "\t" || path[i] === "\n" || path[i] === "\r") i++;
  return i;
}

/** Reads a quoted name starting at the quote `q` at `i`; returns it and the index after the closing quote. */
function readString(path: string, i: number, q: string, fail: (what: string) => never): [string, number] {
  let out = "";
  let j = i + 1;
  while (j < path.length) {
    const c = path[j] as string;
    if (c === q) return [out, j + 1];
    if (c === "\\") {
      const e = path[j + 1] ?? "";
      if (e === "u") {
        const hex = path.slice(j + 2, j + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("bad \\u escape");
        out += String.fromCharCode(Number.parseInt(hex, 16));
        j += 6;
        continue;
      }
      const v = ESCAPES[e];
      if (v === undefined || (e === "'" && q !== "'") || (e === '"' && q !== '"')) fail("bad escape");
      out += v;
      j += 2;
      continue;
    }
    if (c < " ") fail("control character in a name");
    out += c;
    j++;
  }
  return fail("unterminated string");
}

/** The path written back in normalized bracket form (`$['a'][0]`), for messages. */
export function formatJsonPath(segments: readonly JsonPathSegment[]): string {
  return `$${segments
    .map((s) =>
      s.kind === "name" ? `['${escapeName(s.name)}']` : s.kind === "index" ? `[${s.index}]` : "[*]",
    )
    .join("")}`;
}

function escapeName(name: string): string {
  return name
    .replace(/\\/g, "\\\\")
    .replace(/'/g, "\\'")
    .replace(/[^\x20-\u{10ffff}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
