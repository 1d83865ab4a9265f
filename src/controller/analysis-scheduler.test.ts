// Tests of the analysis scheduler: concurrency per lane, tags, supersession, timeouts, and stale results after a
// revision change never reaching the engine.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { MetricMeasurement } from "../analysis/types.ts";
import { FakeClock } from "../kube/testing/fake-clock.ts";
import { decide } from "../rollout/decide.ts";
import { measurements, newWorld, observe, pushRevision, run, settle } from "../rollout/testing/world.ts";
import {
  AnalysisScheduler,
  type AnalysisTag,
  analysisTag,
  type DiscardReason,
} from "./analysis-scheduler.ts";

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const flush = () => new Promise((r) => setImmediate(r));
const tag = (revision: string, dueAt = "2026-11-02T10:00:10.000Z", stepIndex = 0): AnalysisTag => ({
  revision,
  stepIndex,
  rolloutStartedAt: "2026-11-02T10:00:00.000Z",
  dueAt,
  generation: 1,
});
const ok = (value: number): MetricMeasurement[] => [{ metric: "success", value }];

function harness(concurrency = 2, timeoutMs = 30_000) {
  const clock = new FakeClock();
  const results: string[] = [];
  const discarded: DiscardReason[] = [];
  const scheduler = new AnalysisScheduler({
    concurrency,
    timeoutMs,
    clock,
    onResult: (key) => results.push(key),
    onDiscard: (r) => discarded.push(r),
  });
  return { clock, results, discarded, scheduler };
}

describe("AnalysisScheduler", () => {
  it("runs at most `concurrency` measurements per lane; the next starts when one finishes", async () => {
    const { scheduler, results } = harness(2);
    const runs = Array.from({ length: 5 }, () => deferred<MetricMeasurement[]>());
    const started: number[] = [];
    for (let i = 0; i < 5; i++) {
      scheduler.request(`ns${i}/r`, tag("a"), () => {
        started.push(i);
        return runs[i]!.promise;
      });
    }
    assert.deepEqual(started, [0, 1]);
    assert.equal(scheduler.runningCount(), 2);
    runs[1]!.resolve(ok(1));
    await flush();
    assert.deepEqual(
      started,
      [0, 1, 2],
      "a freed slot goes to the oldest waiting request of the namespaces running none",
    );
    assert.equal(scheduler.runningCount(), 2);
    assert.deepEqual(results, ["ns1/r"]);
    for (const r of runs) r.resolve(ok(1));
    await flush();
    await flush();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(scheduler.runningCount(), 0);
    assert.deepEqual([...results].sort(), ["ns0/r", "ns1/r", "ns2/r", "ns3/r", "ns4/r"]);
  });

  it("a slow Prometheus holds up only its own lane", () => {
    const { scheduler } = harness(1);
    const never = () => new Promise<MetricMeasurement[]>(() => {});
    scheduler.request("ns/slow-1", tag("a"), never, { lane: "http://slow" });
    let slowSecondStarted = false;
    scheduler.request(
      "ns/slow-2",
      tag("a"),
      () => {
        slowSecondStarted = true;
        return never();
      },
      { lane: "http://slow" },
    );
    let fastStarted = false;
    scheduler.request(
      "ns/fast",
      tag("a"),
      () => {
        fastStarted = true;
        return never();
      },
      { lane: "http://fast" },
    );
    assert.equal(slowSecondStarted, false, "the slow lane is full");
    assert.equal(fastStarted, true, "another Prometheus is not held up by it");
    scheduler.abortAll();
  });

  it("hands a result only to the tag it was taken for, once, and calls onResult", async () => {
    const { scheduler, results, discarded } = harness();
    const d = deferred<MetricMeasurement[]>();
    scheduler.request("ns/r", tag("a"), () => d.promise);
    assert.equal(scheduler.take("ns/r", tag("a")), undefined, "nothing before it finishes");
    assert.equal(scheduler.pending("ns/r", tag("a")), true);
    d.resolve(ok(99.5));
    await flush();
    assert.deepEqual(results, ["ns/r"]);
    const got = scheduler.take("ns/r", tag("a"));
    assert.deepEqual(got?.measurements, ok(99.5));
    assert.ok(got?.startedAt instanceof Date);
    assert.equal(scheduler.take("ns/r", tag("a")), undefined, "taken results are removed");
    assert.deepEqual(discarded, []);
  });

  it("discards a finished result whose tag no longer matches", async () => {
    const { scheduler, discarded } = harness();
    scheduler.request("ns/r", tag("a", "2026-11-02T10:00:10.000Z", 0), async () => ok(1));
    await flush();
    const nextStep = tag("a", "2026-11-02T10:00:10.000Z", 1);
    assert.equal(scheduler.take("ns/r", nextStep), undefined, "not for another step");
    assert.deepEqual(discarded, []);
    const next = deferred<MetricMeasurement[]>();
    scheduler.request("ns/r", nextStep, () => next.promise);
    assert.deepEqual(discarded, ["superseded"], "the request for the new tag throws the old result away");
    assert.equal(
      scheduler.take("ns/r", tag("a", "2026-11-02T10:00:10.000Z", 0)),
      undefined,
      "the stale result is gone for good",
    );
  });

  it("a request for the same tag is a no-op; one for a new tag aborts the old measurement", async () => {
    const { scheduler, results, discarded } = harness();
    let calls = 0;
    let firstSignal: AbortSignal | undefined;
    const first = deferred<MetricMeasurement[]>();
    const run1 = (signal: AbortSignal) => {
      calls++;
      firstSignal = signal;
      return first.promise;
    };
    scheduler.request("ns/r", tag("a"), run1);
    scheduler.request("ns/r", tag("a"), run1);
    assert.equal(calls, 1, "one measurement per tag");
    const second = deferred<MetricMeasurement[]>();
    scheduler.request("ns/r", tag("a", "2026-11-02T10:00:20.000Z"), () => second.promise);
    assert.equal(firstSignal?.aborted, true, "the superseded measurement is aborted");
    assert.deepEqual(discarded, ["superseded"]);
    first.resolve(ok(1));
    second.resolve(ok(2));
    await flush();
    assert.deepEqual(results, ["ns/r"], "only the current measurement reports");
    assert.equal(scheduler.take("ns/r", tag("a")), undefined, "the aborted one left no result");
    assert.deepEqual(scheduler.take("ns/r", tag("a", "2026-11-02T10:00:20.000Z"))?.measurements, ok(2));
  });

  it("a measurement past the timeout becomes an error measurement per metric and frees its slot", async () => {
    const { scheduler, clock, results } = harness(1, 5_000);
    let signal: AbortSignal | undefined;
    scheduler.request(
      "ns/r",
      tag("a"),
      (s) => {
        signal = s;
        return new Promise(() => {});
      },
      { metrics: ["success", "latency"] },
    );
    let nextStarted = false;
    scheduler.request("ns/other", tag("a"), () => {
      nextStarted = true;
      return new Promise(() => {});
    });
    clock.advance(4_999);
    assert.deepEqual(results, []);
    clock.advance(1);
    assert.equal(signal?.aborted, true);
    assert.deepEqual(results, ["ns/r"]);
    assert.equal(nextStarted, true, "the slot is free again");
    const got = scheduler.take("ns/r", tag("a"));
    assert.deepEqual(
      got?.measurements.map((m) => [m.metric, m.value, m.error]),
      [
        ["success", null, "analysis deadline exceeded (5000 ms)"],
        ["latency", null, "analysis deadline exceeded (5000 ms)"],
      ],
    );
    scheduler.abortAll();
  });

  it("a failing run becomes an error measurement with its message", async () => {
    const { scheduler } = harness();
    scheduler.request("ns/r", tag("a"), async () => Promise.reject(new Error("connection refused")), {
      metrics: ["success"],
    });
    await flush();
    assert.deepEqual(scheduler.take("ns/r", tag("a"))?.measurements, [
      { metric: "success", value: null, error: "connection refused" },
    ]);
  });

  it("forget and abortAll abort what runs and drop what waits", async () => {
    const { scheduler, results, clock } = harness(1);
    const signals: AbortSignal[] = [];
    const hang = (s: AbortSignal) => {
      signals.push(s);
      return new Promise<MetricMeasurement[]>(() => {});
    };
    scheduler.request("ns/a", tag("a"), hang);
    scheduler.request("ns/b", tag("a"), hang);
    scheduler.forget("ns/a");
    assert.equal(signals[0]?.aborted, true);
    assert.equal(signals.length, 2, "b got a's slot");
    scheduler.request("ns/c", tag("a"), hang);
    scheduler.abortAll();
    assert.equal(signals[1]?.aborted, true);
    assert.equal(signals.length, 2, "c, still waiting, never starts");
    assert.equal(scheduler.runningCount(), 0);
    clock.advance(60_000);
    await flush();
    assert.deepEqual(results, [], "no timeouts fire for dropped measurements");
    assert.equal(clock.pendingTimers(), 0);
  });
});

describe("AnalysisScheduler.tick with the engine (observation 8)", () => {
  it("a tick measured for the old revision is discarded when the Deployment changes; the new one is not charged", async () => {
    const { scheduler, discarded, results } = harness();
    const w = newWorld(undefined);
    w.spec.analysis.failureLimit = 1;
    // First revision rolls out to its first step; its first tick comes due.
    run(w, (x) => x.status?.phase === "Healthy");
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.stepStartedAt !== undefined && x.status.canaryRevision === "rev-2", 50);
    w.now = Date.parse(w.status!.stepStartedAt!) + 10_000;

    // One reconcile asks for the tick's measurement (rev-2 is failing), which is still running when...
    const key = "ns/podinfo";
    const measuring = deferred<MetricMeasurement[]>();
    const asked = scheduler.tick(key, {
      spec: w.spec,
      status: w.status,
      generation: w.generation,
      observedRevision: w.canary.revision,
      now: new Date(w.now),
      run: () => measuring.promise,
    });
    assert.equal(asked.waiting, true);
    // ...the user pushes rev-3, and the measurement of rev-2 lands after that.
    pushRevision(w, "rev-3");
    measuring.resolve(measurements(w.spec, "fail"));
    await flush();
    assert.deepEqual(results, [key]);

    // The reconcile the result wakes: the Deployment runs rev-3, the status still says rev-2.
    const now = new Date(w.now);
    const got = scheduler.tick(key, {
      spec: w.spec,
      status: w.status,
      generation: w.generation,
      observedRevision: w.canary.revision,
      now,
      run: () => Promise.reject(new Error("must not measure a revision on its way out")),
    });
    assert.equal(got.result, undefined, "the old revision's tick is not handed to the engine");
    assert.equal(got.waiting, false);
    assert.deepEqual(discarded, ["revision-changed"]);
    const obs = observe(w);
    delete obs.analysis;
    const decision = decide({ generation: w.generation, spec: w.spec, status: w.status }, obs, now);
    assert.equal(decision.status.canaryRevision, "rev-3");
    assert.equal(decision.status.phase, "Progressing", decision.status.message);
    assert.equal(decision.status.analysis?.failedChecks, 0, "rev-3 was never measured, so never charged");
    assert.deepEqual(decision.status.analysis?.history, []);

    // Had the engine seen it, rev-3 would have been rolled back without ever being measured.
    const unguarded = decide(
      { generation: w.generation, spec: w.spec, status: w.status },
      { ...obs, analysis: measurements(w.spec, "fail") },
      now,
    );
    assert.equal(unguarded.status.phase, "RolledBack", "the scenario of observation 8 does arise");
  });

  it("stamps the tick with the measurement's start, so a slow Prometheus does not stretch the cadence", async () => {
    const { scheduler, clock } = harness();
    const w = newWorld(undefined);
    // A failing tick below the limit keeps the step, so the next tick's due time shows the stamp.
    w.spec.analysis.failureLimit = 3;
    run(w, (x) => x.status?.phase === "Healthy");
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.stepStartedAt !== undefined && x.status.canaryRevision === "rev-2", 50);
    settle(w);
    const due = Date.parse(w.status!.stepStartedAt!) + 10_000;
    w.now = due;
    clock.advance(due - clock.now());
    const key = "ns/podinfo";
    const measuring = deferred<MetricMeasurement[]>();
    const input = () => ({
      spec: w.spec,
      status: w.status,
      generation: w.generation,
      observedRevision: w.canary.revision,
      now: new Date(w.now),
      run: () => measuring.promise,
    });
    assert.equal(scheduler.tick(key, input()).waiting, true);
    // Prometheus answers 7 s later; the reconcile it wakes decides then.
    clock.advance(7_000);
    w.now += 7_000;
    measuring.resolve(measurements(w.spec, "fail"));
    await flush();
    const got = scheduler.tick(key, input());
    assert.ok(got.result);
    const obs = { ...observe(w), analysis: got.result.measurements, analysisAt: got.result.startedAt };
    const decision = decide(
      { generation: w.generation, spec: w.spec, status: w.status },
      obs,
      new Date(w.now),
    );
    assert.equal(decision.status.analysis?.failedChecks, 1);
    assert.equal(decision.status.currentStepIndex, 0);
    assert.equal(decision.status.analysis?.lastRunAt, new Date(due).toISOString());
    assert.ok(decision.status.analysis?.history?.every((m) => m.at === new Date(due).toISOString()));
    assert.equal(analysisTag(w.spec, decision.status, w.generation, new Date(due + 9_999)), undefined);
    assert.ok(
      analysisTag(w.spec, decision.status, w.generation, new Date(due + 10_000)),
      "the next tick is due one interval after the measurement, not after the decision",
    );
  });
});

describe("AnalysisScheduler fairness between namespaces", () => {
  const never = () => new Promise<MetricMeasurement[]>(() => {});

  it("a namespace flooding a lane with slow measurements holds half of it; another starts at once", () => {
    const { scheduler } = harness(16);
    for (let i = 0; i < 40; i++) scheduler.request(`noisy/r${i}`, tag("a"), never);
    assert.equal(scheduler.runningIn("", "noisy"), 8, "at most ⌈16/2⌉ for one namespace");
    let started = false;
    scheduler.request("victim/checkout", tag("a"), () => {
      started = true;
      return never();
    });
    assert.ok(started, "the victim's measurement started without waiting");
  });

  it("with every slot taken by other namespaces, it starts at the next free slot, within one deadline", () => {
    const { scheduler, clock } = harness(4, 30_000);
    for (const ns of ["n1", "n2", "n3", "n4"]) {
      for (let i = 0; i < 20; i++) scheduler.request(`${ns}/r${i}`, tag("a"), never);
      clock.advance(1000); // staggered, so slots free one by one
    }
    assert.equal(scheduler.runningCount(), 4);
    let startedAt: number | undefined;
    const requestedAt = clock.now();
    scheduler.request("victim/checkout", tag("a"), () => {
      startedAt = clock.now();
      return never();
    });
    assert.equal(startedAt, undefined);
    clock.advance(30_000);
    assert.ok(startedAt !== undefined, "started within one measurement deadline");
    assert.ok(startedAt - requestedAt <= 30_000);
    // It took the first slot that freed: the namespaces already running one waited.
    assert.equal(startedAt - requestedAt, 30_000 - 3000);
  });

  it("property: a slot goes to a namespace under its share that runs the fewest; no namespace exceeds ⌈C/2⌉", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.record({
            ns: fc.constantFrom("a", "b", "c", "d"),
            lane: fc.constantFrom("", "http://other"),
            ms: fc.integer({ min: 1, max: 40_000 }),
            gap: fc.integer({ min: 0, max: 3000 }),
          }),
          { maxLength: 60 },
        ),
        (concurrency, requests) => {
          const { scheduler, clock } = harness(concurrency, 30_000);
          const cap = Math.ceil(concurrency / 2);
          const waiting = new Map<string, { ns: string; lane: string }>();
          requests.forEach((r, i) => {
            const key = `${r.ns}/r${i}`;
            waiting.set(key, { ns: r.ns, lane: r.lane });
            scheduler.request(
              key,
              tag("a"),
              () => {
                waiting.delete(key);
                const mine = scheduler.runningIn(r.lane, r.ns);
                assert.ok(mine <= cap, `${r.ns} runs ${mine} > ${cap} in its lane`);
                for (const w of waiting.values()) {
                  if (w.lane !== r.lane || w.ns === r.ns) continue;
                  const theirs = scheduler.runningIn(r.lane, w.ns);
                  if (theirs < cap)
                    assert.ok(theirs >= mine - 1, `${w.ns} ran ${theirs}, passed over by ${r.ns}`);
                }
                return new Promise((res) => clock.setTimeout(() => res(ok(1)), r.ms));
              },
              { lane: r.lane },
            );
            clock.advance(r.gap);
          });
          clock.advance(10 * 60_000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
