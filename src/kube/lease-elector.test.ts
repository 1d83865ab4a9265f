import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import type { Lease, LeaseApi } from "./kube-apis.ts";
import { LeaseElector } from "./lease-elector.ts";
import { FakeClock } from "./testing/fake-clock.ts";

const status = (code: number, reason: string) => JSON.stringify({ kind: "Status", code, reason });

/** In-memory Lease API with resourceVersion compare-and-swap, plus a switch to make it unreachable. */
function fakeLeases() {
  let stored: Lease | undefined;
  let rv = 0;
  const state = { down: false, writes: 0 };
  const check = () => {
    if (state.down)
      throw new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) });
  };
  const api = {
    async readNamespacedLease() {
      check();
      if (!stored) throw new ApiException(404, "nf", status(404, "NotFound"), {});
      return structuredClone(stored);
    },
    async createNamespacedLease({ body }: { body: Lease }) {
      check();
      if (stored) throw new ApiException(409, "exists", status(409, "AlreadyExists"), {});
      state.writes++;
      stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(stored);
    },
    async replaceNamespacedLease({ body }: { body: Lease }) {
      check();
      if (body.metadata?.resourceVersion !== stored?.metadata?.resourceVersion) {
        throw new ApiException(409, "conflict", status(409, "Conflict"), {});
      }
      state.writes++;
      stored = { ...structuredClone(body), metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(stored);
    },
  };
  return { api: api as LeaseApi, state, lease: () => stored };
}

const settle = async (clock: FakeClock, ms: number, step = 100): Promise<void> => {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
};

describe("LeaseElector (fake API, virtual time)", () => {
  it("one leader; a standby takes over only after the lease stops changing for leaseDuration", async () => {
    const clock = new FakeClock();
    const leases = fakeLeases();
    const mk = (id: string) =>
      new LeaseElector({ coordination: leases.api, namespace: "ns", name: "l", identity: id, clock });
    const a = mk("a");
    const b = mk("b");
    a.start();
    await settle(clock, 100);
    assert.ok(a.isLeader());
    b.start();
    for (let i = 0; i < 100; i++) {
      await settle(clock, 300);
      assert.ok(!(a.isLeader() && b.isLeader()), "never two leaders");
      assert.ok(a.isLeader(), "a keeps renewing");
    }
    await a.stop({ release: false }); // crash: no release
    const crashedAt = clock.now();
    while (!b.isLeader()) await settle(clock, 100);
    const takeover = clock.now() - crashedAt;
    assert.ok(takeover >= 13_000 && takeover <= 15_000 + 2 * 2400 + 200, `takeover after ${takeover} ms`);
    assert.equal(leases.lease()?.spec?.holderIdentity, "b");
    assert.equal(leases.lease()?.spec?.leaseTransitions, 1);
    await b.stop();
    assert.equal(leases.lease()?.spec?.holderIdentity, "", "graceful stop releases");
    assert.equal(leases.lease()?.spec?.leaseDurationSeconds, 1);
  });

  it("a leader that cannot renew within renewDeadline stops leading, then re-acquires when the API returns", async () => {
    const clock = new FakeClock();
    const leases = fakeLeases();
    const events: string[] = [];
    const e = new LeaseElector({
      coordination: leases.api,
      namespace: "ns",
      name: "l",
      identity: "a",
      clock,
      onStartedLeading: (signal) => {
        events.push(`start@${clock.now()}`);
        signal.addEventListener("abort", () => events.push("signal-aborted"));
      },
      onStoppedLeading: () => events.push(`stop@${clock.now()}`),
    });
    e.start();
    await settle(clock, 100);
    assert.ok(e.isLeader());
    leases.state.down = true;
    const downAt = clock.now();
    while (e.isLeader()) await settle(clock, 100);
    const after = clock.now() - downAt;
    assert.ok(after >= 10_000 - 2000 && after <= 10_000 + 2100, `stepped down after ${after} ms`);
    assert.deepEqual(events.slice(1, 3), ["signal-aborted", events[2]]);
    leases.state.down = false;
    while (!e.isLeader()) await settle(clock, 100);
    assert.equal(events.filter((x) => x.startsWith("start")).length, 2);
    await e.stop();
  });

  it("rejects inconsistent durations", () => {
    assert.throws(
      () =>
        new LeaseElector({
          coordination: fakeLeases().api,
          namespace: "n",
          name: "l",
          leaseDurationMs: 5000,
          renewDeadlineMs: 6000,
        }),
      /leaseDuration > renewDeadline > retryPeriod/,
    );
  });
});
