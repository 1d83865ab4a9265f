// Life stories of the routes beside the weight — header routes, mirrors, sticky cookies — told through the pure
// engine and the in-memory world model.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RolloutSpecInput } from "../api/rollout-schema.ts";
import {
  actionsOf,
  initialized,
  type ModelWorld,
  makeSpec,
  measurements,
  newWorld,
  pushRevision,
  reconcile,
  run,
  settle,
} from "./testing/world.ts";

const testers = { name: "testers", matches: [{ headers: [{ name: "x-canary", value: "1" }] }] };
const names = (w: ModelWorld) => (w.managed?.headerRoutes ?? []).map((r) => r.name);
const world = (canary: NonNullable<RolloutSpecInput["strategy"]>["canary"]) =>
  initialized(newWorld(makeSpec({ strategy: { canary } })));

describe("header routes", () => {
  it("route testers to the canary before the first weight, while the rest stays on the primary; a later step removes it", () => {
    const w = world({
      steps: [
        { setHeaderRoute: testers },
        { pause: {} },
        { setWeight: 20 },
        { setHeaderRoute: { name: "testers" } },
      ],
    });
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Paused");
    assert.deepEqual(w.routes, { primary: 100, canary: 0 });
    assert.deepEqual(names(w), ["testers"]);
    assert.deepEqual(w.status?.managedRoutes, [{ type: "HeaderRoute", name: "testers" }]);
    w.requests.resume = "go";
    run(
      w,
      (x) =>
        x.status?.currentStepIndex === 3 && x.status.stepStartedAt !== undefined && names(x).length === 0,
    );
    assert.deepEqual(w.routes, { primary: 80, canary: 20 }, "removed by name, the weight stays");
    reconcile(w);
    assert.equal(w.status?.managedRoutes, undefined, "status lists what the mesh holds");
  });

  it("is installed while the primary is not fully available (Argo #4561): it needs only the canary's pods", () => {
    const w = world({ steps: [{ setHeaderRoute: testers }, { pause: {} }, { setWeight: 20 }] });
    pushRevision(w, "rev-2");
    w.primary.ready = 0;
    w.primary.broken = true;
    for (let i = 0; i < 10 && names(w).length === 0; i++) {
      reconcile(w);
      settle(w);
      w.now += 1000;
    }
    assert.deepEqual(names(w), ["testers"]);
    assert.equal(w.primary.ready, 0);
  });

  it("is removed when the canary loses its ready pods, and back when it has them again", () => {
    const w = world({ steps: [{ setHeaderRoute: testers }, { pause: {} }, { setWeight: 20 }] });
    pushRevision(w, "rev-2");
    run(w, (x) => names(x).length === 1);
    w.canary.broken = true;
    w.canary.ready = 0;
    reconcile(w);
    assert.deepEqual(names(w), []);
    w.canary.broken = false;
    settle(w);
    reconcile(w);
    assert.deepEqual(names(w), ["testers"]);
  });

  it("a rollback removes it before the canary is scaled down", () => {
    const w = world({ steps: [{ setHeaderRoute: testers }, { setWeight: 20 }, { setWeight: 40 }] });
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 20);
    assert.deepEqual(names(w), ["testers"]);
    w.nextAnalysis = (spec) => measurements(spec, "fail");
    run(w, (x) => x.status?.phase === "RolledBack" && x.canary.desired === 0);
    assert.deepEqual(names(w), []);
    const order = w.log.flatMap((l) => l.decision.actions.map((a) => a.type));
    assert.ok(order.lastIndexOf("SetRoutes") < order.lastIndexOf("ScaleCanaryDown"));
  });

  it("stays through promotion until the primary takes all traffic, which waits for its removal", () => {
    const w = world({ steps: [{ setHeaderRoute: testers }, { setWeight: 50 }] });
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Promoting");
    assert.deepEqual(names(w), ["testers"], "testers still reach the canary while the primary rolls it out");
    const held = structuredClone(w.managed);
    run(w, (x) => x.status?.phase === "Finalizing");
    // A mesh that has not applied the removal yet: the promotion does not finish, the canary keeps its pods.
    for (let i = 0; i < 3; i++) {
      w.managed = structuredClone(held);
      reconcile(w);
      assert.equal(w.status?.phase, "Finalizing");
      assert.ok(w.canary.desired > 0);
    }
    run(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    assert.deepEqual(names(w), []);
  });

  it("is written again when another writer removed or edited it", () => {
    const w = world({ steps: [{ setHeaderRoute: testers }, { pause: {} }, { setWeight: 20 }] });
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Paused");
    for (const drift of [undefined, null]) {
      w.managed = drift;
      reconcile(w);
      assert.deepEqual(names(w), ["testers"], String(drift));
    }
  });
});

describe("mirrors", () => {
  it("copies GET and HEAD by default at weight 0, completes without waiting for analysis, and is gone before the first weight", () => {
    const w = world({
      steps: [
        { setMirror: { name: "reads", percent: 30 } },
        { pause: { duration: "1m" } },
        { setMirror: { name: "reads" } },
        { setWeight: 10 },
      ],
    });
    pushRevision(w, "rev-2");
    run(w, (x) => (x.managed?.mirrors.length ?? 0) > 0);
    assert.deepEqual(w.managed?.mirrors, [
      { name: "reads", percent: 30, matches: [{ methods: ["GET", "HEAD"] }] },
    ]);
    assert.equal(w.status?.currentStepIndex, 0);
    run(w, (x) => x.routes?.canary === 10);
    assert.equal(w.managed, undefined);
    const withMirror = actionsOf(w, "SetRoutes").filter((a) => (a.managed?.mirrors.length ?? 0) > 0);
    assert.ok(
      withMirror.every((a) => a.weights.canary === 0),
      "no mirror while the canary has weight",
    );
  });
});

describe("sticky canaries", () => {
  const affinity = { cookieName: "vireo-canary" };

  it("assign cookies of this rollout attempt while the canary has weight, and expire them once promoted", () => {
    const w = world({ steps: [{ setWeight: 20 }, { setWeight: 50 }], sessionAffinity: affinity });
    assert.equal(w.managed?.sticky?.mode, "expire", "a healthy rollout expires stale cookies");
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 20);
    const sticky = w.managed?.sticky;
    assert.equal(sticky?.mode, "assign");
    assert.equal(sticky?.cookie, "vireo-canary");
    assert.equal(sticky?.primaryCookie, "vireo-canary-primary", "primary clients pinned by default");
    assert.match(sticky?.session ?? "", /^rev-2\.[0-9a-z]+$/);
    assert.equal(sticky?.maxAgeSeconds, 86_400);
    run(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    assert.equal(w.managed?.sticky?.mode, "expire");
    assert.equal(w.managed?.sticky?.session, undefined);
  });

  it("a retry of the same revision is a new session: its cookies are not the failed attempt's", () => {
    const w = world({ steps: [{ setWeight: 20 }, { setWeight: 50 }], sessionAffinity: affinity });
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 20);
    const first = w.managed?.sticky?.session;
    w.requests.abort = "stop";
    run(w, (x) => x.status?.phase === "Aborted" && x.canary.desired === 0);
    assert.equal(w.managed?.sticky?.mode, "expire");
    w.now += 60_000;
    w.requests.retry = "again";
    run(w, (x) => x.routes?.canary === 20);
    assert.notEqual(w.managed?.sticky?.session, first);
  });

  it("without pinPrimary only the canary sets a cookie", () => {
    const w = world({ steps: [{ setWeight: 20 }], sessionAffinity: { ...affinity, pinPrimary: false } });
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 20);
    assert.equal(w.managed?.sticky?.primaryCookie, undefined);
  });
});
