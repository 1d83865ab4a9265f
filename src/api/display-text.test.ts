import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { displaySafe, displayText, escapeUnsafe, REMOVED } from "./display-text.ts";

// biome-ignore lint/suspicious/noControlCharactersInRegex: what must never come out
const UNSAFE_OUT = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/;
const ESC = "\x1b";

describe("displayText", () => {
  it("removes OSC, CSI and other escape sequences whole, controls, and bidi overrides", () => {
    assert.equal(displayText(`a${ESC}]0;title\x07b`), `a${REMOVED}b`);
    assert.equal(displayText(`a${ESC}]52;c;ZWNobyBoaQ==${ESC}\\b`), `a${REMOVED}b`);
    assert.equal(displayText(`a${ESC}[2K${ESC}[1;31mb`), `a${REMOVED}${REMOVED}b`);
    assert.equal(
      displayText(`a\x9b31mb`),
      `a${REMOVED}31mb`,
      "8-bit CSI: the introducer goes, text stays inert",
    );
    assert.equal(displayText("invoice\u202egpj.exe"), `invoice${REMOVED}gpj.exe`);
    assert.equal(displayText("two\nlines\ttab"), "two lines tab");
    assert.equal(displayText(`end${ESC}`), `end${REMOVED}`);
    assert.equal(displayText("naïve ☃ 日本 🚀 – ok"), "naïve ☃ 日本 🚀 – ok", "printable text is untouched");
  });

  it("property: nothing a terminal acts on survives, printable ASCII is unchanged", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
        assert.doesNotMatch(displayText(s), UNSAFE_OUT);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
        (s) => {
          assert.equal(displayText(s), s);
        },
      ),
    );
  });

  it("displaySafe cleans every string and key of an object", () => {
    const safe = displaySafe({ [`k${ESC}[1m`]: [`v${ESC}]0;x\x07`, 3, null, { m: "\u202e" }] });
    assert.deepEqual(safe, { [`k${REMOVED}`]: [`v${REMOVED}`, 3, null, { m: REMOVED }] });
  });

  it("escapeUnsafe keeps serialized JSON exact while leaving no raw C1 or bidi character", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = escapeUnsafe(JSON.stringify(v));
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(v)));
        assert.doesNotMatch(text, UNSAFE_OUT);
      }),
      { numRuns: 500 },
    );
  });
});
