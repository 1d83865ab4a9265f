// The reconciler's write budget for one fault-free rollout: which status writes, Events and world writes a
// five-stage canary costs, so a change that adds a write per step (or per rollout) fails here, not in a benchmark.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RolloutStatus } from "../api/rollout-schema.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import { Reconciler } from "./reconciler.ts";
import { FakeCluster, NAME, NAMESPACE } from "./testing/fake-cluster.ts";

/** The benchmarks' rollout (bench/scale/fixtures.ts): five weights, each held for 10 s, no analysis. */
const WEIGHTS = [20, 40, 60, 80, 100];
const spec = makeSpec({
  strategy: { canary: { steps: WEIGHTS.flatMap((w) => [{ setWeight: w }, { pause: { duration: "10s" } }]) } },
  skipAnalysis: true,
});

/** Top-level status fields that differ (the write-counter's view, without condition detail). */
function changed(before: RolloutStatus, after: RolloutStatus): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof RolloutStatus>;
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
}

describe("reconciler write budget", () => {
  it("a five-stage rollout writes status once per stage plus start, promotion and end", async () => {
    const c = FakeCluster.create(spec);
    const reconciler = new Reconciler(c.connect());
    const signal = new AbortController().signal;
    let reconciles = 0;
    /**
     * Reconciles as the work queue would: at each requested wake-up, and once more before pods start — the watch
     * event of the reconciler's own Deployment writes wakes it while the new pods are still starting.
     */
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 200 && !done(); i++) {
        const { requeueAfterMs } = await reconciler.reconcile(NAMESPACE, NAME, signal);
        await reconciler.reconcile(NAMESPACE, NAME, signal);
        reconciles += 2;
        c.settle();
        c.now += Math.min(Math.max(requeueAfterMs ?? 1000, 1), 30_000);
      }
      assert.ok(done(), `stuck in ${c.rollout.status?.phase}: ${c.rollout.status?.message}`);
    };
    /** Healthy on `rev`, then the one reconcile that records the generation of the canary's scale-down. */
    const healthyOn = async (rev: string) => {
      await until(() => c.rollout.status?.phase === "Healthy" && c.rollout.status.stableRevision === rev);
      await reconciler.reconcile(NAMESPACE, NAME, signal);
      reconciles++;
    };
    await healthyOn(c.targetRevision());
    // Once more with nothing to do: a settled rollout writes nothing.
    const idle = c.statusWrites.length;
    await reconciler.reconcile(NAMESPACE, NAME, signal);
    assert.equal(c.statusWrites.length, idle, "a settled rollout wrote status");

    c.pushRevision(2);
    const [writes0, events0, world0] = [c.statusWrites.length, c.events.length, c.worldWrites];
    const calls0 = c.meshApi.calls.length;
    reconciles = 0;
    await healthyOn(c.targetRevision());
    const writes = c.statusWrites.slice(writes0).map((w, i, all) => {
      const after = (all[i + 1]?.before ?? c.rollout.status) as RolloutStatus;
      return { phase: after.phase, fields: changed(w.before, after) };
    });
    const summary = writes.map((w) => `${w.phase}: ${w.fields.join(",")}`).join("\n");
    // Start (canary scaled up, its new generation in the same write), one per stage, the promotion (copy and wait
    // are one write), the end, and the generation the canary's scale-down produced — which must follow the write
    // that says weight 0, so that no other reader of status still routes to a canary being scaled down.
    assert.equal(writes.length, 1 + WEIGHTS.length + 1 + 1 + 1, summary);
    assert.deepEqual(
      writes.map((w) => w.phase),
      ["Progressing", ...WEIGHTS.map(() => "Progressing"), "Promoting", "Healthy", "Healthy"],
      summary,
    );
    assert.deepEqual(writes.at(-1)?.fields, ["observedTargetGeneration"], summary);
    assert.equal(
      writes.slice(0, -1).filter((w) => w.fields.join() === "observedTargetGeneration").length,
      0,
      `a write for the generation alone before the end:\n${summary}`,
    );

    // Events: the start and the promotion, one per decision a person needs. The weights the schedule moves (no
    // analysis) are not decisions: status and the canary-weight metric show them, an Event each cost a write per
    // step; the promotion's end says how it was earned (a "promoting" Event seconds earlier would repeat it).
    const reasons = c.events.slice(events0).map((e) => e.reason);
    assert.deepEqual(reasons, ["RolloutStarted", "Promoted"]);
    // World: canary up, a route per stage, the primary's new template, routes back, canary down.
    assert.equal(c.worldWrites - world0, 1 + WEIGHTS.length + 1 + 1 + 1);
    // The budget the benchmark compares with Flagger's (docs/benchmarks/history.md): 20 writes, 4.0 per step.
    const total = writes.length + reasons.length + c.worldWrites - world0;
    assert.equal(total / WEIGHTS.length, 4, `${total} writes per rollout`);
    // Mesh reads: one GET of the routes per reconcile. A route write starts from that read (its resourceVersion
    // is the fence) and its response confirms the routes, so it reads neither before nor after.
    const calls = c.meshApi.calls.slice(calls0);
    assert.equal(calls.filter((x) => x.method !== "GET").length, WEIGHTS.length + 1);
    assert.equal(calls.filter((x) => x.method === "GET").length, reconciles);
  });
});
