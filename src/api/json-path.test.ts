import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatJsonPath, JsonPathError, type JsonPathSegment, parseJsonPath } from "./json-path.ts";

/** Any segment the subset has. */
const segmentArb: fc.Arbitrary<JsonPathSegment> = fc.oneof(
  fc.string({ maxLength: 8, unit: "binary" }).map((name) => ({ kind: "name" as const, name })),
  fc.integer({ min: -5, max: 5 }).map((index) => ({ kind: "index" as const, index })),
  fc.constant({ kind: "wildcard" as const }),
);

describe("parseJsonPath", () => {
  it("reads the RFC 9535 forms of the subset", () => {
    assert.deepEqual(parseJsonPath("$"), []);
    assert.deepEqual(parseJsonPath("$.data.value"), [
      { kind: "name", name: "data" },
      { kind: "name", name: "value" },
    ]);
    assert.deepEqual(parseJsonPath(`$['a-b']["c'd"][0][-1][ * ].*`), [
      { kind: "name", name: "a-b" },
      { kind: "name", name: "c'd" },
      { kind: "index", index: 0 },
      { kind: "index", index: -1 },
      { kind: "wildcard" },
      { kind: "wildcard" },
    ]);
    assert.deepEqual(parseJsonPath(String.raw`$['\u0041\n\'']`), [{ kind: "name", name: "A\n'" }]);
  });

  it("refuses what the subset leaves out, by name", () => {
    const cases: [string, RegExp][] = [
      ["a.b", /must start with \$/],
      ["$..a", /descendant/],
      ["$[?(@.a>1)]", /filter/],
      ["$[0:2]", /slices/],
      ["$[0,1]", /unions/],
      ["$['a'", /expected \]|unterminated/],
      ["$.1a", /member name/],
      ["$[01]", /expected \]/],
      ["$[9007199254740993]", /out of range/],
      ["$ .a", /unexpected/],
      [String.raw`$['\x']`, /bad escape/],
      ["$.constructor()", /unexpected/],
    ];
    for (const [path, why] of cases) assert.throws(() => parseJsonPath(path), why, path);
  });

  it("property: a formatted path parses back to itself", () => {
    fc.assert(
      fc.property(fc.array(segmentArb, { maxLength: 6 }), (segments) => {
        assert.deepEqual(parseJsonPath(formatJsonPath(segments)), segments);
      }),
    );
  });

  it("property: any text either parses or is refused with a JsonPathError (never another error)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40 }).map((s) => `$${s}`),
          fc.string({ maxLength: 40, unit: fc.constantFrom(..."$.[]'\"*?:,-0123\\ab u") }),
        ),
        (text) => {
          try {
            parseJsonPath(text);
          } catch (err) {
            assert.ok(err instanceof JsonPathError, String(err));
          }
        },
      ),
    );
  });
});
