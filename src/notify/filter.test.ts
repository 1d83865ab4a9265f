import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NOTIFY_EVENTS } from "../api/rollout-schema.ts";
import { passesFilter } from "./filter.ts";

const SEVERITIES = ["info", "warning", "error"] as const;

describe("passesFilter", () => {
  it("passes everything without a filter or with the defaults", () => {
    assert.equal(passesFilter({ event: "Started", severity: "info" }), true);
    assert.equal(passesFilter({ event: "Started", severity: "info" }, { minSeverity: "info" }), true);
  });
  it("drops messages below minSeverity and events not listed", () => {
    assert.equal(passesFilter({ event: "Started", severity: "info" }, { minSeverity: "warning" }), false);
    assert.equal(passesFilter({ event: "RolledBack", severity: "error" }, { minSeverity: "warning" }), true);
    assert.equal(passesFilter({ event: "Started", severity: "error" }, { events: ["RolledBack"] }), false);
    assert.equal(passesFilter({ event: "RolledBack", severity: "error" }, { events: ["RolledBack"] }), true);
  });
  it("property: passes iff the event is allowed and the severity rank is at least the minimum", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NOTIFY_EVENTS),
        fc.constantFrom(...SEVERITIES),
        fc.option(fc.subarray([...NOTIFY_EVENTS]), { nil: undefined }),
        fc.constantFrom(...SEVERITIES),
        (event, severity, events, minSeverity) => {
          const expected =
            (events === undefined || events.includes(event)) &&
            SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(minSeverity);
          assert.equal(
            passesFilter({ event, severity }, { ...(events ? { events } : {}), minSeverity }),
            expected,
          );
        },
      ),
    );
  });
});
