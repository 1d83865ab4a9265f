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
  const state: { down: boolean; writes: number; hold?: Promise<void> } = { down: false, writes: 0 };
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
      const answer = structuredClone(stored);
      if (state.hold) await state.hold; // the answer is on its way while the world moves on
      return answer;
    },
  };
  return {
    api: api as LeaseApi,
    state,
    lease: () => stored,
    /** `kubectl delete lease`. */
    remove: () => {
      stored = undefined;
    },
    /** `kubectl edit lease`: sets the holder (empty or another's), keeping the rest. */
    setHolder: (holderIdentity: string) => {
      if (!stored) return;
      stored = {
        ...stored,
        spec: { ...stored.spec, holderIdentity },
        metadata: { ...stored.metadata, resourceVersion: String(++rv) },
      };
    },
  };
}

/** An informer's subscription surface, driven by the test. */
function fakeLeaseEvents() {
  const add: Array<(l: Lease) => void> = [];
  const update: Array<(o: Lease, l: Lease) => void> = [];
  const del: Array<(l: Lease) => void> = [];
  return {
    events: {
      onAdd: (fn: (l: Lease) => void) => add.push(fn),
      onUpdate: (fn: (o: Lease, l: Lease) => void) => update.push(fn),
      onDelete: (fn: (l: Lease) => void) => del.push(fn),
    },
    deleted: (l: Lease) => {
      for (const fn of del) fn(l);
    },
    updated: (l: Lease) => {
      for (const fn of update) fn(l, l);
    },
  };
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

describe("LeaseElector: a deleted or emptied Lease is not an expired one", () => {
  const mk = (leases: ReturnType<typeof fakeLeases>, clock: FakeClock, id: string, extra = {}) =>
    new LeaseElector({ coordination: leases.api, namespace: "ns", name: "l", identity: id, clock, ...extra });

  for (const how of ["deleted", "emptied"] as const) {
    it(`a standby that saw a holder renew waits a full lease duration after the Lease is ${how}`, async () => {
      const clock = new FakeClock();
      const leases = fakeLeases();
      const a = mk(leases, clock, "a");
      const b = mk(leases, clock, "b");
      a.start();
      await settle(clock, 100);
      b.start();
      await settle(clock, 5000); // b sees a renew
      await a.stop({ release: false }); // a freezes (its fence still holds until its renew deadline)
      if (how === "deleted") leases.remove();
      else leases.setHolder("");
      const at = clock.now();
      while (!b.isLeader()) await settle(clock, 100);
      const waited = clock.now() - at;
      assert.ok(waited >= 15_000, `b took a ${how} Lease after ${waited} ms`);
      assert.ok(waited <= 15_000 + 2 * 2400 + 200, `b took over after ${waited} ms`);
      await b.stop();
    });
  }

  it("a fresh candidate that never saw a holder creates a missing Lease at once", async () => {
    const clock = new FakeClock();
    const a = mk(fakeLeases(), clock, "a");
    a.start();
    await settle(clock, 100);
    assert.ok(a.isLeader());
    await a.stop();
  });

  it("the leader fences its writes the moment its Lease is deleted, re-creates it, and stays the only leader", async () => {
    const clock = new FakeClock();
    const leases = fakeLeases();
    const watch = fakeLeaseEvents();
    const interruptions: string[] = [];
    const a = mk(leases, clock, "a", {
      leaseEvents: watch.events,
      onInterrupted: (why: string) => interruptions.push(why),
    });
    const b = mk(leases, clock, "b");
    a.start();
    await settle(clock, 100);
    b.start();
    for (let round = 0; round < 20; round++) {
      await settle(clock, 1000 + round * 97);
      assert.ok(a.heldUntil() > clock.now(), "a may write before the deletion");
      const gone = leases.lease() as Lease;
      leases.remove();
      watch.deleted(gone);
      assert.equal(a.heldUntil(), 0, "fenced the moment the deletion is seen");
      await settle(clock, 600);
      assert.equal(leases.lease()?.spec?.holderIdentity, "a", "a re-created its Lease");
      assert.ok(a.heldUntil() > clock.now(), "writes allowed again once re-established");
      assert.ok(!b.isLeader(), "the standby never leads");
    }
    assert.equal(interruptions.length, 20);
    assert.ok(interruptions.every((w) => w === "Lease deleted"));
    await a.stop();
    await b.stop();
  });

  it("a renew already under way when the deletion is seen does not lift the fence; the next one re-creates", async () => {
    const clock = new FakeClock();
    const leases = fakeLeases();
    const watch = fakeLeaseEvents();
    const a = mk(leases, clock, "a", { leaseEvents: watch.events });
    a.start();
    await settle(clock, 100);
    let answer = () => {};
    leases.state.hold = new Promise((r) => {
      answer = r;
    });
    await settle(clock, 2000); // a renew: its write landed, its answer is held back
    const renewed = leases.lease() as Lease;
    leases.remove();
    watch.deleted(renewed);
    leases.state.hold = undefined;
    answer();
    await settle(clock, 100);
    assert.equal(a.heldUntil(), 0, "the answer to a write made before the deletion proves nothing");
    await settle(clock, 400);
    assert.equal(leases.lease()?.spec?.holderIdentity, "a");
    assert.ok(a.heldUntil() > clock.now());
    await a.stop();
  });

  it("the leader stops the moment its Lease is taken", async () => {
    const clock = new FakeClock();
    const leases = fakeLeases();
    const watch = fakeLeaseEvents();
    const log: string[] = [];
    const a = mk(leases, clock, "a", {
      leaseEvents: watch.events,
      onInterrupted: (why: string) => log.push(`interrupted: ${why}`),
      onStoppedLeading: () => log.push("stopped"),
    });
    a.start();
    await settle(clock, 100);
    leases.setHolder("intruder");
    watch.updated(leases.lease() as Lease);
    assert.equal(a.heldUntil(), 0);
    await settle(clock, 600);
    assert.ok(!a.isLeader());
    assert.deepEqual(log, ["interrupted: Lease taken by intruder", "stopped"]);
    await a.stop();
  });

  it("without a watch, a renew that finds the Lease gone fences writes until it is re-created", async () => {
    const clock = new FakeClock();
    const leases = fakeLeases();
    const interruptions: string[] = [];
    const a = mk(leases, clock, "a", { onInterrupted: (why: string) => interruptions.push(why) });
    a.start();
    await settle(clock, 100);
    leases.remove();
    await settle(clock, 2500);
    assert.deepEqual(interruptions, ["Lease deleted"]);
    assert.equal(leases.lease()?.spec?.holderIdentity, "a");
    assert.ok(a.heldUntil() > clock.now());
    await a.stop();
  });
});
