// Notification bookkeeping: each key is kept until settled, then remembered so it is never sent again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ModelWorld,
  measurements,
  newWorld,
  pushRevision,
  reconcile,
  run,
  settle,
} from "../rollout/testing/world.ts";
import type { Action } from "../rollout/types.ts";
import { FAILED_LIMIT, PENDING_LIMIT, type PendingNotification, toPending, updateOutbox } from "./outbox.ts";

const n = (key: string, event: PendingNotification["event"] = "Started"): PendingNotification => ({
  key,
  event,
  severity: "info",
  message: key,
  revision: "r",
  canaryWeight: 0,
});
const ok = (...keys: string[]) => keys.map((key) => ({ key }));
const pendingKeys = (s: ReturnType<typeof updateOutbox>["status"]) =>
  s.notifications?.pending?.map((p) => p.key);

describe("notification outbox", () => {
  it("adds once, moves delivered keys out of pending, and never re-adds a delivered key", () => {
    let { status } = updateOutbox({}, [n("a"), n("b"), n("a")], []);
    assert.deepEqual(pendingKeys(status), ["a", "b"]);
    ({ status } = updateOutbox(status, [], ok("a")));
    assert.deepEqual(pendingKeys(status), ["b"]);
    assert.deepEqual(status.notifications?.delivered, ["a"]);
    ({ status } = updateOutbox(status, [n("a")], []));
    assert.deepEqual(pendingKeys(status), ["b"]);
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

  it("records a permanent failure once: out of pending, into failed, one Warning Event, never re-added", () => {
    let { status } = updateOutbox({}, [n("r/1/StepAdvanced/1", "StepAdvanced"), n("b")], []);
    const first = updateOutbox(
      status,
      [],
      [{ key: "r/1/StepAdvanced/1", failure: "slack: answered HTTP 404" }],
    );
    status = first.status;
    assert.deepEqual(pendingKeys(status), ["b"]);
    assert.deepEqual(status.notifications?.failed, ["r/1/StepAdvanced/1"]);
    assert.deepEqual(status.notifications?.delivered, []);
    assert.equal(first.events.length, 1);
    assert.equal(first.events[0]?.eventType, "Warning");
    assert.equal(first.events[0]?.reason, "NotificationFailed");
    assert.match(
      first.events[0]?.message ?? "",
      /^StepAdvanced notification r\/1\/StepAdvanced\/1 .*HTTP 404/,
    );
    // Reported again (e.g. the acknowledgement was lost) and decided again: no second Event, no new pending entry.
    const again = updateOutbox(
      status,
      [n("r/1/StepAdvanced/1", "StepAdvanced")],
      [{ key: "r/1/StepAdvanced/1", failure: "x" }],
    );
    assert.deepEqual(again.events, []);
    assert.deepEqual(pendingKeys(again.status), ["b"]);
    assert.deepEqual(again.status.notifications?.failed, ["r/1/StepAdvanced/1"]);
  });

  it("bounds the failed list, newest kept", () => {
    const keys = Array.from({ length: FAILED_LIMIT + 3 }, (_, i) => `f${i}`);
    const { status, events } = updateOutbox(
      {},
      keys.map((k) => n(k)),
      keys.map((key) => ({ key, failure: "webhook: answered HTTP 410" })),
    );
    assert.equal(events.length, keys.length);
    assert.equal(status.notifications?.failed?.length, FAILED_LIMIT);
    assert.equal(status.notifications?.failed?.[0], "f3");
    assert.deepEqual(status.notifications?.pending, []);
  });
});

/** One reconcile of the model world plus the reconciler's outbox step; `deliver` settles everything pending. */
function reconcileWithOutbox(w: ModelWorld, deliver: boolean): Action[] {
  const settled = deliver ? ok(...(w.status?.notifications?.pending ?? []).map((p) => p.key)) : [];
  const decision = reconcile(w);
  const decided = decision.actions
    .filter((a): a is Extract<Action, { type: "Notify" }> => a.type === "Notify")
    .map(toPending);
  w.status = updateOutbox(w.status ?? {}, decided, settled).status;
  settle(w);
  w.now += Math.max(decision.requeueAfterMs ?? 1000, 1);
  return decision.actions;
}

describe("notification keys across a retry", () => {
  it("a rollback, a retry and a second rollback give two RolledBack keys; the second stays pending", () => {
    const w = newWorld();
    run(w, (x) => x.status?.phase === "Healthy");
    pushRevision(w, "rev-2");
    w.nextAnalysis = (spec) => measurements(spec, "fail");
    const rolledBack: string[] = [];
    const until = (phase: string, deliver: boolean) => {
      for (let i = 0; i < 200 && w.status?.phase !== phase; i++) {
        for (const a of reconcileWithOutbox(w, deliver))
          if (a.type === "Notify" && a.event === "RolledBack") rolledBack.push(a.key);
      }
      assert.equal(w.status?.phase, phase);
    };
    until("RolledBack", true);
    // Deliver what the first attempt decided (its RolledBack included).
    reconcileWithOutbox(w, true);
    assert.equal(rolledBack.length, 1);
    assert.ok(w.status?.notifications?.delivered?.includes(rolledBack[0]!), "first RolledBack delivered");
    assert.equal(w.status?.notifications?.pending?.length, 0);

    w.requests.retry = "1";
    until("Progressing", true);
    until("RolledBack", false);
    assert.equal(rolledBack.length, 2, `RolledBack keys ${rolledBack}`);
    assert.notEqual(rolledBack[1], rolledBack[0], "the retry's RolledBack has its own key");
    const [first, second] = rolledBack as [string, string];
    assert.ok(first.startsWith("rev-2/") && second.startsWith("rev-2/"));
    assert.ok(first.length <= 64 && second.length <= 64, "keys stay short");
    // The first key being delivered does not swallow the second.
    const pending = w.status?.notifications?.pending?.map((p) => p.key) ?? [];
    assert.ok(pending.includes(second), `pending ${pending}`);
    const after = updateOutbox(w.status ?? {}, [], ok(first));
    assert.ok(after.status.notifications?.pending?.some((p) => p.key === second));
  });
});
