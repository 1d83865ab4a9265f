import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatJsonPath, type JsonPathSegment, parseJsonPath } from "../api/json-path.ts";
import { JsonValueError, selectNodes, selectNumber } from "./json-path-select.ts";

const num = (doc: unknown, path: string, reduce?: "sum" | "avg" | "min" | "max") =>
  selectNumber(doc, parseJsonPath(path), reduce);

/** A JSON value with `leaf` at the end of `path` (names and indexes only), random siblings around it. */
function docWith(path: readonly JsonPathSegment[], leaf: unknown, filler: unknown[]): unknown {
  let doc = leaf;
  for (const s of [...path].reverse()) {
    if (s.kind === "name") doc = { ...Object.fromEntries(filler.map((f, i) => [`f${i}`, f])), [s.name]: doc };
    else if (s.kind === "index") {
      const before = Array.from({ length: s.index }, (_, i) => filler[i] ?? null);
      doc = [...before, doc];
    }
  }
  return doc;
}

describe("selectNumber", () => {
  const doc = {
    data: { value: 97.5, text: "12", bad: "12abc", flag: true, none: null, obj: {}, "a-b": 3 },
    items: [{ v: 1 }, { v: "2" }, { v: 6 }],
    empty: [],
  };

  it("reads numbers and numeric strings", () => {
    assert.equal(num(doc, "$.data.value"), 97.5);
    assert.equal(num(doc, "$.data.text"), 12);
    assert.equal(num(doc, "$['data']['a-b']"), 3);
    assert.equal(num(doc, "$.items[-1].v"), 6);
    assert.equal(num(doc, "$.items[1].v"), 2);
    assert.equal(num(42, "$"), 42);
  });

  it("no match and null are no data", () => {
    assert.equal(num(doc, "$.data.missing"), null);
    assert.equal(num(doc, "$.items[7].v"), null);
    assert.equal(num(doc, "$.data.none"), null);
    assert.equal(num(doc, "$.empty[*]", "sum"), null);
    assert.equal(num(doc, "$.data.value.deeper"), null);
    // Own properties only: JSON objects inherit nothing a path could reach.
    assert.equal(num(doc, "$.data.constructor"), null);
    assert.equal(num(JSON.parse('{"__proto__": 5}'), "$['__proto__']"), 5);
  });

  it("anything else is an error that says what it found", () => {
    assert.throws(
      () => num(doc, "$.data.bad"),
      /\$\['data'\]\['bad'\] selects the string "12abc", not a number/,
    );
    assert.throws(() => num(doc, "$.data.flag"), /selects a boolean/);
    assert.throws(() => num(doc, "$.data.obj"), /selects an object/);
    assert.throws(() => num(doc, "$.items"), /selects an array of 3/);
    assert.throws(() => num({ v: "0x10" }, "$.v"), JsonValueError);
    assert.throws(() => num({ v: "Infinity" }, "$.v"), JsonValueError);
    assert.throws(() => num({ v: "" }, "$.v"), JsonValueError);
    assert.throws(() => num({ v: "1e999" }, "$.v"), JsonValueError);
    assert.throws(
      () => num({ v: "x".repeat(500) }, "$.v"),
      (e: Error) => e.message.length < 120,
    );
  });

  it("several values need reduce", () => {
    assert.throws(() => num(doc, "$.items[*].v"), /selects 3 values; set reduce/);
    assert.equal(num(doc, "$.items[*].v", "sum"), 9);
    assert.equal(num(doc, "$.items[*].v", "max"), 6);
    assert.equal(num(doc, "$.items[*].v", "avg"), 3);
    assert.equal(num({ a: [1, null, 3] }, "$.a[*]", "min"), 1);
  });

  it("property: a number placed at a path is what the path selects", () => {
    const named = fc.oneof(
      fc.string({ maxLength: 6 }).map((name) => ({ kind: "name" as const, name })),
      fc.integer({ min: 0, max: 4 }).map((index) => ({ kind: "index" as const, index })),
    );
    fc.assert(
      fc.property(
        fc.array(named, { maxLength: 5 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
        fc.boolean(),
        (path, value, filler, negative) => {
          const doc = JSON.parse(JSON.stringify(docWith(path, value, filler)));
          // Every index may be written from the end as well: the same node.
          const written = negative
            ? path.map((s, i) => {
                if (s.kind !== "index") return s;
                const arr = selectNodes(doc, path.slice(0, i))[0] as unknown[];
                return { kind: "index" as const, index: s.index - arr.length };
              })
            : path;
          const got = selectNumber(doc, parseJsonPath(formatJsonPath(written)));
          assert.equal(got, JSON.parse(JSON.stringify(value)));
        },
      ),
    );
  });

  it("property: selecting never throws anything but a JsonValueError, and a number is finite", () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        fc.array(fc.constantFrom("$.a", "$[0]", "$[*]", "$.*"), { maxLength: 3 }),
        (doc, parts) => {
          const path = `$${parts.map((p) => p.slice(1)).join("")}`;
          for (const reduce of [undefined, "sum"] as const) {
            try {
              const v = selectNumber(doc, parseJsonPath(path), reduce);
              assert.ok(v === null || Number.isFinite(v));
            } catch (err) {
              assert.ok(err instanceof JsonValueError, String(err));
            }
          }
        },
      ),
    );
  });
});
