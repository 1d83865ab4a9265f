// Example lives of checks during analysis: a run at every tick (its attempt the tick's number), a step waiting for a
// passing run, failed and timed-out runs counted against failureLimit like failed metrics.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { initialized, makeSpec, newWorld, pushRevision, run } from "./testing/world.ts";

const load = { name: "load", webhook: { url: "http://load.test/run", timeout: "2s", retries: 0 } };

/** A healthy world whose analysis (interval 10 s, failureLimit 2, metrics passing) runs `load` at every tick. */
function world() {
  const base = makeSpec();
  return initialized(
    newWorld(
      makeSpec({
        checks: [load],
        analysis: { interval: "10s", failureLimit: 2, metrics: base.analysis.metrics, checks: ["load"] },
      }),
    ),
  );
}

describe("checks during analysis", () => {
  it("runs the check at every tick with the tick's number, and each step waits for a run that passed in it", () => {
    const w = world();
    pushRevision(w, "rev-2");
    const seen = new Map<number, string>();
    run(w, (x) => {
      const r = x.status?.checks?.find((c) => c.point === "analysis");
      if (r) {
        // The run started at tick n is attempt n; there is never a second run for the same tick.
        assert.ok((x.status?.analysis?.ticks ?? 0) >= r.attempt);
        seen.set(r.attempt, r.startedAt);
      }
      return x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2";
    });
    const steps = makeSpec().strategy.canary?.steps?.filter((s) => s.setWeight !== undefined).length ?? 0;
    assert.ok(seen.size >= steps, `${seen.size} runs for ${steps} weight steps`);
    assert.equal(new Set(seen.values()).size, seen.size, "each tick's run started at its own time");
    assert.deepEqual(
      [...w.checks.calls.values()].filter((n) => n > 1),
      [],
      "one call per tick",
    );
    assert.equal(w.status?.analysis?.failedChecks ?? 0, 0);
  });

  it("a receiver answering 5xx fails a run at each tick, and failureLimit failed runs roll back", () => {
    const w = world();
    pushRevision(w, "rev-2");
    run(w, (x) => (x.routes?.canary ?? 0) > 0);
    w.checks.webhook = "fail";
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.status?.analysis?.failedChecks, 2);
    assert.match(
      w.status?.message ?? "",
      /analysis failed \(2\/2\): analysis check load \(tick \d+\): server-error/,
    );
    assert.equal(w.primary.revision, "rev-1");
  });

  it("a receiver that never answers times out: a failure counted, never a pass", () => {
    const w = world();
    pushRevision(w, "rev-2");
    run(w, (x) => (x.routes?.canary ?? 0) > 0);
    w.checks.webhook = "hang";
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(w.status?.analysis?.failedChecks, 2);
    assert.match(w.status?.message ?? "", /analysis check load \(tick \d+\): timed out/);
    assert.equal(w.status?.stableRevision, "rev-1");
  });
});
