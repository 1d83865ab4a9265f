// The live view's output: redraws in place on a terminal, a log of distinct frames when piped.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LiveScreen } from "./screen.ts";

const ESC = String.fromCharCode(27);

function sink(columns?: number) {
  const chunks: string[] = [];
  return {
    chunks,
    columns,
    write(s: string) {
      chunks.push(s);
      return true;
    },
  } as unknown as NodeJS.WritableStream & { columns?: number; chunks: string[] };
}

describe("LiveScreen", () => {
  it("on a TTY moves the cursor back over the previous frame and clears it", () => {
    const out = sink(80);
    const screen = new LiveScreen(out, true);
    screen.draw(["a", "b", "c"]);
    screen.draw(["d"]);
    screen.draw(["e", "f"]);
    assert.deepEqual(out.chunks, [`${ESC}[Ja\nb\nc\n`, `${ESC}[3F${ESC}[Jd\n`, `${ESC}[1F${ESC}[Je\nf\n`]);
  });

  it("on a TTY cuts lines wider than the terminal so the arithmetic holds", () => {
    const out = sink(10);
    new LiveScreen(out, true).draw([`${ESC}[1m${"x".repeat(20)}${ESC}[22m`]);
    assert.equal(out.chunks[0], `${ESC}[J${ESC}[1m${"x".repeat(9)}…${ESC}[0m\n`);
  });

  it("piped, prints each distinct frame once, separated by a blank line", () => {
    const out = sink();
    const screen = new LiveScreen(out, false);
    screen.draw(["phase A"]);
    screen.draw(["phase A"]);
    screen.draw(["phase B"]);
    assert.equal(out.chunks.join(""), "phase A\n\nphase B\n");
  });
});
