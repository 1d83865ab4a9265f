// Deployment windows evaluated at fixed instants, including time zones and DST.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluateWindows } from "./windows.ts";

const at = (iso: string) => new Date(iso);
const weekdays = {
  kind: "allow" as const,
  schedule: "0 9 * * 1-5",
  duration: "8h",
  timeZone: "Europe/Berlin",
};
const fridayBlackout = {
  kind: "deny" as const,
  schedule: "0 18 * * 5",
  duration: "62h",
  timeZone: "Europe/Berlin",
};

describe("deployment windows", () => {
  it("no windows: always open", () => {
    assert.equal(evaluateWindows(undefined, at("2026-11-02T03:00:00Z")).open, true);
  });

  it("allow window open inside, closed outside, with the next edge", () => {
    // Monday 2 Nov 2026: Berlin is UTC+1, so 09:00–17:00 local is 08:00–16:00Z.
    assert.equal(evaluateWindows([weekdays], at("2026-11-02T07:59:00Z")).open, false);
    const inside = evaluateWindows([weekdays], at("2026-11-02T08:00:00Z"));
    assert.equal(inside.open, true);
    assert.equal(inside.nextTransitionAt?.toISOString(), "2026-11-02T16:00:00.000Z");
    const after = evaluateWindows([weekdays], at("2026-11-02T16:00:00Z"));
    assert.equal(after.open, false);
    assert.equal(after.nextTransitionAt?.toISOString(), "2026-11-03T08:00:00.000Z");
  });

  it("follows daylight saving time", () => {
    // 30 Mar 2026 is after the switch to UTC+2: the window opens at 07:00Z.
    assert.equal(evaluateWindows([weekdays], at("2026-03-30T07:00:00Z")).open, true);
    assert.equal(evaluateWindows([weekdays], at("2026-03-27T07:30:00Z")).open, false);
  });

  it("deny wins over allow", () => {
    // Friday 6 Nov 2026 16:59 local is inside the allow window and before the blackout.
    assert.equal(evaluateWindows([weekdays, fridayBlackout], at("2026-11-06T15:59:00Z")).open, true);
    const blackout = evaluateWindows(
      [weekdays, { ...fridayBlackout, schedule: "0 16 * * 5" }],
      at("2026-11-06T15:30:00Z"),
    );
    assert.equal(blackout.open, false);
    assert.match(blackout.message, /deny window/);
  });

  it("a blackout spanning the weekend ends Monday 08:00 local", () => {
    const sunday = evaluateWindows([fridayBlackout], at("2026-11-08T12:00:00Z"));
    assert.equal(sunday.open, false);
    assert.equal(sunday.nextTransitionAt?.toISOString(), "2026-11-09T07:00:00.000Z");
  });
});
