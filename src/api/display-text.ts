// Text read from the API server made safe to show: no terminal control sequences, control characters or bidi
// overrides. Events can be written by anyone allowed to create Events in a namespace, so every string a Vireo
// surface prints or renders passes through here.

/** Shown where something was removed, so a tampered text looks tampered. */
export const REMOVED = "\uFFFD";

// ESC-introduced sequences: CSI (ESC [ … final), OSC/DCS/APC/PM/SOS (ESC ] … BEL or ESC \), and two-byte escapes.
// Their 8-bit forms (CSI U+009B, OSC U+009D, …) are C1 controls, removed below with the rest.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control sequences is the point
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~]?)/g;
const LINE_BREAKS = /[\t\n\r\v\f\u2028\u2029\u0085]+/g;
/** C0 and C1 controls, DEL, bidi embeddings/overrides/isolates and marks, and the invisible format characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** Characters JSON and YAML serializers leave raw that a terminal still acts on: DEL, C1, bidi and invisibles. */
const RAW_IN_SERIALIZED = /[\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

/**
 * Serialized JSON (or YAML whose strings holding such characters are double-quoted) with every character a
 * terminal could act on written as a `\uXXXX` escape: the same data, nothing for the terminal.
 */
export function escapeUnsafe(serialized: string): string {
  return serialized.replace(RAW_IN_SERIALIZED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** True when `text` holds a character {@link escapeUnsafe} would escape. */
export function hasRawUnsafe(text: string): boolean {
  return new RegExp(RAW_IN_SERIALIZED.source).test(text);
}

/**
 * One line of displayable text: escape sequences and unsafe characters become {@link REMOVED}, line breaks and
 * tabs a space. Printable text, other scripts and emoji pass unchanged.
 */
export function displayText(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, REMOVED).replace(LINE_BREAKS, " ").replace(UNSAFE, REMOVED);
}

/** A copy of `value` (JSON-like: objects, arrays, strings) with every string and key passed through {@link displayText}. */
export function displaySafe<T>(value: T): T {
  if (typeof value === "string") return displayText(value) as T;
  if (Array.isArray(value)) return value.map((v) => displaySafe(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [displayText(k), displaySafe(v)]),
    ) as T;
  }
  return value;
}
