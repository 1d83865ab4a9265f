// Notification bookkeeping: each key is kept until delivered, then remembered so it is never sent again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PENDING_LIMIT, type PendingNotification, updateOutbox } from "./outbox.ts";

const n = (key: string): PendingNotification => ({
  key,
  event: "Started",
  severity: "info",
  message: key,
  revision: "r",
  canaryWeight: 0,
});

describe("notification outbox", () => {
  it("adds once, moves delivered keys out of pending, and never re-adds a delivered key", () => {
    let { status } = updateOutbox({}, [n("a"), n("b"), n("a")], []);
    assert.deepEqual(
      status.notifications?.pending?.map((p) => p.key),
      ["a", "b"],
    );
    ({ status } = updateOutbox(status, [], ["a"]));
    assert.deepEqual(
      status.notifications?.pending?.map((p) => p.key),
      ["b"],
    );
    assert.deepEqual(status.notifications?.delivered, ["a"]);
    ({ status } = updateOutbox(status, [n("a")], []));
    assert.deepEqual(
      status.notifications?.pending?.map((p) => p.key),
      ["b"],
    );
  });

  it("leaves status untouched when there is nothing to track", () => {
    const status = { phase: "Healthy" as const };
    assert.equal(updateOutbox(status, [], []).status, status);
  });

  it("bounds pending and reports what it dropped", () => {
    const many = Array.from({ length: PENDING_LIMIT + 5 }, (_, i) => n(`k${i}`));
    const { status, dropped } = updateOutbox({}, many, []);
    assert.equal(dropped, 5);
    assert.equal(status.notifications?.pending?.[0]?.key, "k5");
  });
});
