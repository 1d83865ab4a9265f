import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Milestone } from "../api/rollout-schema.ts";
import type { Action } from "../rollout/types.ts";
import {
  MILESTONE_EVENT_WINDOW_MS,
  milestoneEventName,
  namedActions,
  recentMilestoneEvents,
} from "./milestone-events.ts";

const ro = { name: "cart", uid: "u1" };
const started: Milestone = {
  at: "2026-12-07T16:00:00.000Z",
  reason: "RolloutStarted",
  revision: "abc",
  message: "rollout of revision abc started",
};
const failed: Milestone = {
  at: "2026-12-07T16:01:00.000Z",
  reason: "AnalysisFailed",
  revision: "abc",
  message: "rolled back: analysis failed (1/1): success 70 < 95",
};
const event = (reason: "AnalysisFailed" | "StepAdvanced", message: string): Action => ({
  type: "RecordEvent",
  eventType: "Warning",
  reason,
  message,
});

describe("milestone Events", () => {
  it("names an Event after its Rollout's uid and the milestone, within a valid object name", () => {
    const name = milestoneEventName(ro, failed);
    assert.match(name, /^cart\.m[0-9a-f]{16}$/);
    assert.equal(milestoneEventName(ro, failed), name, "the same milestone, the same name");
    assert.notEqual(
      milestoneEventName({ ...ro, uid: "u2" }, failed),
      name,
      "a recreated Rollout's is another",
    );
    assert.notEqual(milestoneEventName(ro, { ...failed, at: "2026-12-07T16:02:00.000Z" }), name);
    assert.ok(milestoneEventName({ name: "x".repeat(253) }, failed).length <= 253);
  });

  it("names the decision's Events of the milestones it added, and no other", () => {
    const rolledBack = event("AnalysisFailed", `${failed.message} and more than status keeps`);
    const step = event("StepAdvanced", "step 1");
    const named = namedActions(ro, { milestones: [started] }, { milestones: [started, failed] }, [
      step,
      rolledBack,
    ]);
    assert.deepEqual([...named], [[rolledBack, { name: milestoneEventName(ro, failed) }]]);
    const again = namedActions(ro, { milestones: [started, failed] }, { milestones: [started, failed] }, [
      rolledBack,
    ]);
    assert.equal(again.size, 0, "a milestone already in status was not added by this decision");
  });

  it("records again only the milestones young enough, with the engine's type and the milestone's time", () => {
    const now = Date.parse(failed.at) + 1000;
    const events = recentMilestoneEvents(ro, { milestones: [started, failed] }, now);
    assert.deepEqual(events, [
      {
        action: {
          type: "RecordEvent",
          eventType: "Normal",
          reason: "RolloutStarted",
          message: started.message,
        },
        identity: { name: milestoneEventName(ro, started), at: Date.parse(started.at) },
      },
      {
        action: {
          type: "RecordEvent",
          eventType: "Warning",
          reason: "AnalysisFailed",
          message: failed.message,
        },
        identity: { name: milestoneEventName(ro, failed), at: Date.parse(failed.at) },
      },
    ]);
    const later = Date.parse(started.at) + MILESTONE_EVENT_WINDOW_MS;
    assert.deepEqual(
      recentMilestoneEvents(ro, { milestones: [started, failed] }, later).map((e) => e.action.reason),
      ["AnalysisFailed"],
      "an Event the API server may have expired is not brought back",
    );
  });
});
