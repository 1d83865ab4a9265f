import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackoffGate } from "./backoff-gate.ts";
import { FakeClock } from "./testing/fake-clock.ts";

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe("BackoffGate", () => {
  it("is open until an answer asks for a back-off", async () => {
    const gate = new BackoffGate(new FakeClock());
    const settle = await gate.admit();
    settle("answered");
    assert.equal(gate.closedFor(), 0);
  });

  it("after Retry-After, sends nothing until it has passed, then one probe; its answer decides for the rest", async () => {
    const clock = new FakeClock();
    const gate = new BackoffGate(clock);
    (await gate.admit())({ retryAfterMs: 2000 });
    const admitted: number[] = [];
    const settles: Array<(o: Parameters<Awaited<ReturnType<BackoffGate["admit"]>>>[0]) => void> = [];
    for (let i = 0; i < 5; i++)
      void gate.admit().then((s) => {
        admitted.push(i);
        settles[i] = s;
      });
    clock.advance(1999);
    await flush();
    assert.deepEqual(admitted, [], "nothing before the Retry-After has passed");
    clock.advance(1);
    await flush();
    assert.deepEqual(admitted, [0], "one probe");
    settles[0]?.({ retryAfterMs: 4000 }); // rejected again: the server doubled its hint
    await flush();
    clock.advance(3999);
    await flush();
    assert.deepEqual(admitted, [0]);
    clock.advance(1);
    await flush();
    assert.equal(admitted.length, 2, "one probe per window");
    settles[Number(admitted.at(-1))]?.("answered");
    await flush();
    assert.equal(admitted.length, 5, "an answer without a back-off opens the gate for everyone");
  });

  it("a failed probe (no answer) lets the next request probe; a recorded rejection closes the gate", async () => {
    const clock = new FakeClock();
    const gate = new BackoffGate(clock);
    gate.record({ retryAfterMs: 1000 }); // e.g. a Lease renewal that was throttled
    assert.equal(gate.closedFor(), 1000);
    const order: string[] = [];
    void gate.admit().then((s) => {
      order.push("a");
      s("failed");
    });
    void gate.admit().then((s) => {
      order.push("b");
      s("answered");
    });
    clock.advance(1000);
    await flush();
    assert.deepEqual(order, ["a", "b"]);
  });

  it("a waiter whose signal aborts stops waiting", async () => {
    const clock = new FakeClock();
    const gate = new BackoffGate(clock);
    gate.record({ retryAfterMs: 5000 });
    const ac = new AbortController();
    const waiting = gate.admit(ac.signal);
    ac.abort(new Error("reconcile cancelled"));
    await assert.rejects(waiting, /reconcile cancelled/);
  });
});
