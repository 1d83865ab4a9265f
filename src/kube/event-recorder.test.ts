import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { EventRecorder, truncateBytes } from "./event-recorder.ts";
import type { EventsApi } from "./kube-apis.ts";
import type { KubeLogger } from "./logger-port.ts";
import { FakeClock } from "./testing/fake-clock.ts";

type Call = { op: "create" | "patch"; name: string; body: Record<string, unknown> };

function fakeEvents(fail?: (c: Call) => unknown): { api: EventsApi; calls: Call[] } {
  const calls: Call[] = [];
  const api = {
    async createNamespacedEvent(p: { namespace: string; body: { metadata: { name: string } } }) {
      const c: Call = {
        op: "create",
        name: p.body.metadata.name,
        body: p.body as unknown as Record<string, unknown>,
      };
      calls.push(c);
      const e = fail?.(c);
      if (e) throw e;
      return p.body;
    },
    async patchNamespacedEvent(p: { name: string; body: Record<string, unknown> }) {
      const c: Call = { op: "patch", name: p.name, body: p.body };
      calls.push(c);
      const e = fail?.(c);
      if (e) throw e;
      return {};
    },
  };
  return { api: api as unknown as EventsApi, calls };
}

const rollout = {
  apiVersion: "vireo.dev/v1alpha1",
  kind: "Rollout",
  namespace: "shop",
  name: "cart",
  uid: "u1",
};
const spec = {
  type: "Normal" as const,
  reason: "WeightIncreased",
  action: "SetWeight",
  note: "canary weight 20%",
};

describe("EventRecorder", () => {
  it("creates one Event, then folds repeats into its series within the window", async () => {
    const clock = new FakeClock();
    const { api, calls } = fakeEvents();
    const r = new EventRecorder({ events: api, identity: "pod-a-1x", clock });
    await r.record(rollout, spec);
    clock.advance(1000);
    await r.record(rollout, spec);
    await r.record(rollout, spec);
    await r.record(rollout, { ...spec, note: "canary weight 40%" });
    assert.deepEqual(
      calls.map((c) => c.op),
      ["create", "patch", "patch", "create"],
    );
    const created = calls[0]?.body as Record<string, unknown>;
    assert.equal(created.reportingController, "vireo.dev/controller");
    assert.equal(created.reportingInstance, "pod-a-1x");
    assert.deepEqual(created.regarding, rollout);
    assert.match(String(created.eventTime), /\.\d{6}Z$/, "MicroTime");
    assert.equal(calls[1]?.name, calls[0]?.name);
    const series = (calls[2] as Call).body.series as { count: number; lastObservedTime: string };
    assert.equal(series.count, 3);
    assert.match(series.lastObservedTime, /\.\d{6}Z$/);
    clock.advance(10 * 60_000);
    await r.record(rollout, spec);
    assert.equal(calls.at(-1)?.op, "create", "after the window a new Event starts");
  });

  it("gives the Events of one moment increasing eventTimes in the order they were recorded", async () => {
    const { api, calls } = fakeEvents();
    const r = new EventRecorder({ events: api, identity: "i", clock: new FakeClock() });
    const reasons = ["RolloutStarted", "StepAdvanced", "Promoting", "Promoted"];
    await Promise.all(reasons.map((reason) => r.record(rollout, { ...spec, reason })));
    const created = calls.map((c) => ({ reason: c.body.reason, at: String(c.body.eventTime) }));
    const byTime = [...created].sort((a, b) => a.at.localeCompare(b.at));
    assert.deepEqual(
      byTime.map((e) => e.reason),
      reasons,
    );
    assert.equal(new Set(created.map((e) => e.at)).size, reasons.length, "no two share a time");
    assert.match(created[3]?.at ?? "", /\.\d{3}003Z$/, "microseconds apart, not milliseconds");
  });

  it("serializes concurrent repeats so only one Event is created", async () => {
    const { api, calls } = fakeEvents();
    const r = new EventRecorder({ events: api, identity: "i", clock: new FakeClock() });
    await Promise.all([r.record(rollout, spec), r.record(rollout, spec), r.record(rollout, spec)]);
    assert.deepEqual(
      calls.map((c) => c.op),
      ["create", "patch", "patch"],
    );
  });

  it("recreates when the series Event is gone, and never throws", async () => {
    const warnings: unknown[] = [];
    const logger: KubeLogger = { debug() {}, info() {}, error() {}, warn: (o) => warnings.push(o) };
    let failPatch = true;
    const { api, calls } = fakeEvents((c) =>
      c.op === "patch" && failPatch
        ? new ApiException(404, "nf", '{"kind":"Status","code":404}', {})
        : undefined,
    );
    const r = new EventRecorder({ events: api, identity: "i", clock: new FakeClock(), logger });
    await r.record(rollout, spec);
    await r.record(rollout, spec);
    assert.deepEqual(
      calls.map((c) => c.op),
      ["create", "patch", "create"],
    );
    failPatch = false;
    const broken = new EventRecorder({
      events: fakeEvents(() => new ApiException(403, "no", '{"kind":"Status","code":403}', {})).api,
      identity: "i",
      logger,
    });
    await broken.record(rollout, spec);
    assert.equal(warnings.length, 1);
  });

  it("creates a named Event once: again is a no-op, AlreadyExists counts as recorded, a failure is retried", async () => {
    const named = { name: "cart.m0123456789abcdef", at: Date.parse("2026-12-07T16:00:00.000Z") };
    let answer: "ok" | "exists" | "down" = "down";
    const { api, calls } = fakeEvents(() =>
      answer === "down"
        ? new ApiException(503, "down", '{"kind":"Status","code":503}', {})
        : answer === "exists"
          ? new ApiException(409, "exists", '{"kind":"Status","code":409,"reason":"AlreadyExists"}', {})
          : undefined,
    );
    const r = new EventRecorder({ events: api, identity: "i", clock: new FakeClock() });
    await r.record(rollout, spec, named); // the API server is down: logged, not remembered
    answer = "ok";
    await Promise.all([r.record(rollout, spec, named), r.record(rollout, spec, named)]);
    await r.record(rollout, spec, named);
    assert.deepEqual(
      calls.map((c) => `${c.op} ${c.name}`),
      [`create ${named.name}`, `create ${named.name}`],
      "tried again after the failure, then never again",
    );
    assert.equal(calls[1]?.body.eventTime, "2026-12-07T16:00:00.000000Z", "the milestone's time");
    // Another replica (or a lost answer) created it already: one request, then known.
    answer = "exists";
    const successor = new EventRecorder({ events: api, identity: "j", clock: new FakeClock() });
    await successor.record(rollout, spec, named);
    await successor.record(rollout, spec, named);
    assert.equal(calls.length, 3);
  });

  it("truncates notes to 1 KiB on a character boundary", async () => {
    const { api, calls } = fakeEvents();
    const r = new EventRecorder({ events: api, identity: "i" });
    await r.record(rollout, { ...spec, note: "é".repeat(2000) });
    const note = String(calls[0]?.body.note);
    assert.ok(Buffer.byteLength(note) <= 1024);
    assert.ok(!note.includes("\uFFFD"));
    assert.equal(truncateBytes("short", 1024), "short");
  });
});
