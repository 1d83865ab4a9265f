// Lives of the EndpointSlice gate: weight moves onto a backend from 0 % only once its slices list a ready pod.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  initialized,
  type ModelWorld,
  makeSpec,
  newWorld,
  observe,
  pushRevision,
  reconcile,
  run,
  settle,
  syncEndpoints,
} from "./testing/world.ts";
import { switchTargets } from "./traffic.ts";

/** Healthy on rev-1 under `setWeight: 100`, its slices caught up (the canary scaled to 0 lists nothing). */
function allAtOnce(): ModelWorld {
  const spec = makeSpec({
    strategy: { canary: { steps: [{ setWeight: 100 }, { pause: { duration: "2s" } }] } },
  });
  const w = initialized(newWorld(spec));
  settle(w);
  syncEndpoints(w);
  return w;
}

/** Ten reconciles, the pods settling and time passing between them, the slices left as they are. */
function waitWithoutSlices(w: ModelWorld): void {
  for (let i = 0; i < 10; i++) {
    const d = reconcile(w);
    settle(w);
    w.now += d.requeueAfterMs ?? 1000;
  }
}

describe("weight onto a backend from 0 % waits for its EndpointSlices", () => {
  it("setWeight 100: the canary's pods are ready but no slice lists them — no route write, the status says why", () => {
    const w = allAtOnce();
    pushRevision(w, "rev-2");
    waitWithoutSlices(w);
    assert.deepEqual(w.routes, { primary: 100, canary: 0 }, "no weight before the slices list a canary pod");
    assert.match(w.status?.message ?? "", /EndpointSlices of Service podinfo-canary to list a ready pod/);
    const last = w.log.at(-1)!;
    assert.ok((last.decision.requeueAfterMs ?? Infinity) <= 1000, "slices are not watched: it looks again");
    syncEndpoints(w);
    reconcile(w);
    assert.deepEqual(w.routes, { primary: 0, canary: 100 });
  });

  it("the promotion's switch back waits for the promoted primary's slices, then moves every request at once", () => {
    const w = allAtOnce();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 100);
    // The primary's slices stop listing its old pods (replaced by its rolling update) before the new ones.
    w.slices.primary = 0;
    waitWithoutSlices(w);
    assert.equal(w.status?.phase, "Finalizing");
    assert.deepEqual(w.routes, { primary: 0, canary: 100 }, "all traffic stays on the canary's listed pods");
    assert.match(w.status?.message ?? "", /EndpointSlices of Service podinfo-primary to list a ready pod/);
    syncEndpoints(w);
    run(w, (x) => x.status?.phase === "Healthy");
    assert.deepEqual(w.routes, { primary: 100, canary: 0 });
  });

  it("reads slices only while a switch from 0 % can happen: never while Healthy, nor for a backend with weight", () => {
    const w = allAtOnce();
    assert.deepEqual(
      switchTargets(observe(w)),
      [],
      "Healthy: the canary has no pods, the primary has the weight",
    );
    assert.equal(observe(w).endpoints, undefined);
    pushRevision(w, "rev-2");
    reconcile(w);
    settle(w);
    assert.deepEqual(switchTargets(observe(w)), ["canary"]);
    w.routes = { primary: 50, canary: 50 };
    assert.deepEqual(switchTargets(observe(w)), []);
    w.routes = { primary: 0, canary: 100 };
    assert.deepEqual(switchTargets(observe(w)), ["primary"]);
  });
});
