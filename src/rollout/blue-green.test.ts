// Life stories of blue/green rollouts, told through the pure engine and the in-memory world model: the preview, the
// cut-over gated on EndpointSlices, the rollback window, promotion, and the delayed scale-down.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RolloutSpecInput } from "../api/rollout-schema.ts";
import { decide } from "./decide.ts";
import { expandSteps } from "./steps.ts";
import {
  actionsOf,
  type ModelWorld,
  makeSpec,
  measurements,
  newWorld,
  observe,
  pushRevision,
  reconcile,
  run,
  settle,
  syncEndpoints,
} from "./testing/world.ts";
import type { Decision } from "./types.ts";

type BlueGreenInput = NonNullable<RolloutSpecInput["strategy"]["blueGreen"]>;
const blueGreen = (bg: BlueGreenInput = {}, more: Partial<RolloutSpecInput> = {}) =>
  makeSpec({ provider: "kubernetes", strategy: { blueGreen: { rollbackWindow: "1m", ...bg } }, ...more });
/** Healthy, the adopted pods scaled down after the scale-down delay, the slices caught up. */
function healthyBlueGreen(
  bg?: BlueGreenInput,
  more?: Partial<RolloutSpecInput>,
  prepare?: (w: ModelWorld) => void,
): ModelWorld {
  const w = newWorld(blueGreen(bg, more));
  prepare?.(w);
  run(w, (x) => x.status?.phase === "Healthy" && x.canary.desired === 0);
  reconcile(w);
  syncEndpoints(w);
  return w;
}
const reasons = (w: ModelWorld) => actionsOf(w, "RecordEvent").map((e) => e.reason);
/** The reconcile (log index) at which an action of `type` was first asked for, -1 when never. */
const firstAt = (w: ModelWorld, pred: (a: ReturnType<typeof actionsOf>[number]) => boolean) =>
  w.log.findIndex((l) => l.decision.actions.some((a) => pred(a as never)));
const cutOver = (a: { type: string; weights?: { canary: number } }) =>
  a.type === "SetRoutes" && a.weights?.canary === 100;

/** Reconciles `n` times, pods settling but EndpointSlices not (their controller lags), `ms` apart. */
function lagging(w: ModelWorld, n: number, ms = 1000): void {
  for (let i = 0; i < n; i++) {
    reconcile(w);
    settle(w);
    w.now += ms;
  }
}

describe("blue/green steps", () => {
  it("preview (analysis), approval when asked, cut-over to 100 %, rollback window; weights only 0 or 100", () => {
    assert.deepEqual(expandSteps(blueGreen().strategy), [
      { setWeight: 0 },
      { setWeight: 100 },
      { pause: { duration: "1m" } },
    ]);
    assert.deepEqual(
      expandSteps(blueGreen({ autoPromotion: false, previewAnalysis: false, rollbackWindow: "0s" }).strategy),
      [{ pause: { duration: "0s" } }, { pause: {} }, { setWeight: 100 }],
    );
  });
});

describe("a blue/green rollout", () => {
  it("previews at full size, cuts over once, keeps the old version warm for the window, then promotes", () => {
    const w = healthyBlueGreen();
    const start = w.log.length;
    pushRevision(w, "rev-2");
    const weights: number[] = [];
    run(w, (x) => {
      if (x.routes && weights.at(-1) !== x.routes.canary) weights.push(x.routes.canary);
      return x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2" && x.canary.desired === 0;
    });
    reconcile(w);
    assert.deepEqual(weights, [0, 100, 0], "one cut-over, one switch back to the promoted primary");
    const log = w.log.slice(start);
    const at = (pred: (a: { type: string; at?: string; weights?: { canary: number } }) => boolean) =>
      log.findIndex((l) => l.decision.actions.some((a) => pred(a as never)));
    const preview = at((a) => a.type === "PointPreview" && a.at === "canary");
    const switched = at(cutOver);
    const promoted = at((a) => a.type === "PromotePrimary");
    const back = at((a) => a.type === "SetRoutes" && a.weights?.canary === 0);
    const down = at((a) => a.type === "ScaleCanaryDown");
    assert.ok(preview >= 0 && preview < switched && switched < promoted && promoted < back && back < down);
    // The preview pointed at the new pods only with all of them ready in the canary Service's slices.
    assert.equal(log[preview]!.observations.endpoints?.canaryReady, 2);
    // Analysis judged the preview (weight 0) and the new version at 100 %, each with a passing tick.
    const history = w.status?.analysis?.history ?? [];
    assert.ok(history.some((m) => m.weight === 0 && m.verdict === "Pass"));
    assert.ok(history.some((m) => m.weight === 100 && m.verdict === "Pass"));
    // The old version stayed warm through the window: nothing replaced the primary's template before it ended.
    assert.ok(log[promoted]!.now - log[switched]!.now >= 60_000, "promoted before the rollback window ended");
    // The canary is scaled down only after the preview is back on the primary and the scale-down delay passed.
    assert.equal(log[down]!.observations.endpoints?.preview, "primary");
    assert.ok(log[down]!.now - log[back]!.now >= 30_000, "scaled down before scaleDownDelay (30s)");
    assert.ok(reasons(w).includes("CutOver"));
    assert.equal(w.primary.revision, "rev-2");
    assert.equal(w.status?.scaleDownAt, undefined);
  });

  it("points the preview and cuts over only once the EndpointSlices list the new pods ready", () => {
    const w = healthyBlueGreen({ previewAnalysis: false });
    pushRevision(w, "rev-2");
    lagging(w, 10);
    // The pods are ready, but the slices have not caught up: the preview stays on the active, no cut-over.
    assert.equal(w.canary.ready, 2);
    assert.equal(w.previewSelects, "primary");
    assert.equal(w.routes?.canary, 0);
    assert.match(w.status?.message ?? "", /0\/2 ready endpoints/);
    syncEndpoints(w);
    lagging(w, 3);
    assert.equal(w.previewSelects, "canary", "preview pointed at the new pods");
    assert.equal(w.status?.stepStartedAt, undefined, "the preview step waits for the preview's slices");
    assert.equal(w.routes?.canary, 0, "no cut-over before the preview's slices confirm it");
    syncEndpoints(w);
    run(w, (x) => x.routes?.canary === 100);
    const cut = w.log.at(-1)!;
    assert.equal(cut.observations.endpoints?.canaryReady, 2);
    assert.equal(cut.observations.endpoints?.preview, "canary");
  });

  it("before its first step, someone's edit that sends traffic to the new pods is put back on the active version", () => {
    const w = healthyBlueGreen({ previewAnalysis: false });
    pushRevision(w, "rev-2");
    w.canary.desired = 2;
    w.canary.ready = 1;
    reconcile(w);
    // The canary rolls (1/2 ready); someone's edit sends it all traffic.
    w.routes = { primary: 0, canary: 100 };
    assert.match(reconcile(w).status.message ?? "", /waiting for the canary rev-2/);
    assert.deepEqual(w.routes, { primary: 100, canary: 0 }, "put back while the canary rolls");
    settle(w);
    lagging(w, 2);
    // Ready at full size, the preview's slices lag behind: the same edit again.
    assert.match(w.status?.message ?? "", /0\/2 ready endpoints/);
    w.routes = { primary: 0, canary: 100 };
    reconcile(w);
    assert.deepEqual(w.routes, { primary: 100, canary: 0 }, "put back while the preview waits");
    assert.equal(w.status?.canaryWeight, 0);
  });

  it("a failed analysis in the rollback window switches all traffic back to the warm primary at once", () => {
    const w = healthyBlueGreen();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 100 && x.status?.currentStepIndex === 2);
    const inWindow = w.log.length;
    w.nextAnalysis = (spec) => measurements(spec, "fail");
    run(w, (x) => x.status?.phase === "RolledBack" && x.canary.desired === 0);
    const log = w.log.slice(inWindow);
    const back = log.findIndex((l) => l.decision.actions.some((a) => a.type === "SetRoutes"));
    // The decision that recorded the failing tick is the one that switched back.
    assert.equal(log[back]!.decision.status.phase, "RolledBack");
    assert.deepEqual(w.routes, { primary: 100, canary: 0 });
    assert.equal(w.primary.revision, "rev-1", "the primary still runs the old version");
    assert.deepEqual(actionsOf(w, "PromotePrimary"), []);
    const down = log.findIndex((l) => l.decision.actions.some((a) => a.type === "ScaleCanaryDown"));
    assert.ok(down > back && log[down]!.now - log[back]!.now >= 30_000);
  });

  it("an abort in the rollback window switches back too, and retry starts again from the preview", () => {
    const w = healthyBlueGreen();
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 100 && x.status?.currentStepIndex === 2);
    w.requests.abort = "now";
    reconcile(w);
    assert.equal(w.status?.phase, "Aborted");
    assert.deepEqual(w.routes, { primary: 100, canary: 0 }, "switched back in the same decision");
    assert.equal(w.canary.desired, 2, "the new version is not scaled down before its delay");
    w.requests.retry = "again";
    run(w, (x) => x.status?.phase === "Progressing" && x.previewSelects === "canary");
    assert.equal(w.routes?.canary, 0);
  });

  it("with autoPromotion false waits at the preview for vireo.dev/promote", () => {
    const w = healthyBlueGreen({ autoPromotion: false });
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(w.status?.pauseReason, "PauseStep");
    assert.equal(w.routes?.canary, 0);
    assert.match(
      w.status?.message ?? "",
      /^preview: revision rev-2 at full size behind Service podinfo-preview/,
    );
    w.requests.promote = "go";
    run(w, (x) => x.routes?.canary === 100);
  });

  it("a full promotion at the preview still cuts over before the primary takes the template (never rolls a serving primary)", () => {
    const w = healthyBlueGreen();
    pushRevision(w, "rev-2");
    run(w, (x) => x.previewSelects === "canary" && x.status?.stepStartedAt !== undefined);
    w.requests.promote = "full";
    run(w, (x) => x.status?.phase === "Healthy" && x.status.stableRevision === "rev-2");
    const switched = firstAt(w, cutOver);
    const promoted = firstAt(w, (a) => a.type === "PromotePrimary");
    assert.ok(switched >= 0 && switched < promoted);
    assert.equal(w.log[promoted]!.observations.routes?.canary, 100);
  });

  it("switches back to the promoted primary only once the preview's slices agree with the primary's", () => {
    const w = healthyBlueGreen({ rollbackWindow: "0s" });
    pushRevision(w, "rev-2");
    run(w, (x) => x.primary.revision === "rev-2");
    // The primary rolls its pods to the new template; its slices still list the old pods as ready (stale counts).
    w.primary.ready = 0;
    lagging(w, 5);
    assert.equal(w.slices.primary, 2);
    assert.equal(w.previewSelects, "primary", "the preview moves to the promoted primary first");
    assert.equal(w.routes?.canary, 100, "no switch back while the primary's slices may be stale");
    assert.match(w.status?.message ?? "", /EndpointSlices/);
    syncEndpoints(w);
    run(w, (x) => x.routes?.canary === 0);
    assert.equal(w.log.at(-1)!.observations.endpoints?.preview, "primary");
  });

  it("with an HPA, the preview is full at the size the user's HPA gives it (Vireo never fights the HPA)", () => {
    const w = healthyBlueGreen({ previewAnalysis: false }, {}, (x) => {
      x.autoscalers = { user: { min: 1, max: 8, spec: 0 } };
    });
    w.primary.desired = 5;
    pushRevision(w, "rev-2");
    reconcile(w);
    w.canary.desired = 3; // the user's HPA shrank the idle preview
    run(w, (x) => x.routes?.canary === 100);
    assert.deepEqual(
      actionsOf(w, "ScaleCanaryUp").length,
      1,
      "scaled up from zero once, never against the HPA afterwards",
    );
  });
});

describe("promotion that the world undoes", () => {
  it("a primary lost while finalizing and made again from the stable revision (the target reverted) is never declared promoted", () => {
    const w = healthyBlueGreen({ previewAnalysis: false, rollbackWindow: "0s" });
    pushRevision(w, "rev-2");
    run(w, (x) => x.status?.phase === "Finalizing");
    w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
    pushRevision(w, "rev-1");
    const from = w.log.length;
    run(w, (x) => x.status?.phase === "Healthy" && x.routes?.canary === 0 && x.canary.desired === 0);
    const promoted = w.log.slice(from).filter((l) => l.decision.status.stableRevision === "rev-2");
    assert.deepEqual(promoted, [], "rev-2 is never the stable revision: the primary runs rev-1");
    assert.deepEqual([w.status?.stableRevision, w.primary.revision], ["rev-1", "rev-1"]);
  });
});

describe("a blue/green decision that crosses phases", () => {
  it("a promotion finished as a new revision starts keeps the preview off the rolling canary, and deciding again on its status says the same", () => {
    const w = healthyBlueGreen({ previewAnalysis: false, rollbackWindow: "0s" });
    pushRevision(w, "rev-2");
    run(w, (x) => x.primary.revision === "rev-2");
    settle(w);
    assert.equal(w.previewSelects, "canary");
    // The target is deleted and re-applied with another template: its pods roll, none ready yet.
    w.canary = { ...w.canary, exists: false, desired: 0, ready: 0 };
    reconcile(w);
    w.canary = { exists: true, revision: "rev-3", desired: 2, ready: 0, broken: false };
    const input = { generation: w.generation, spec: w.spec, status: w.status };
    const obs = observe(w);
    const first = reconcile(w);
    assert.deepEqual(
      [first.status.phase, first.status.stableRevision, first.status.canaryRevision],
      ["Progressing", "rev-2", "rev-3"],
    );
    const world = (d: Decision) => d.actions.filter((a) => a.type !== "RecordEvent" && a.type !== "Notify");
    assert.deepEqual(world(first), [{ type: "PointPreview", at: "primary" }]);
    // A crash right after the status write: the next decision starts from the new status and must point it too.
    const again = decide({ ...input, status: first.status }, obs, new Date(w.now));
    assert.deepEqual(world(again), world(first));
  });
});

describe("blue/green with checks", () => {
  const smoke = { name: "smoke", webhook: { url: "http://smoke.test/run", timeout: "5s", retries: 0 } };

  it("preRollout checks run once the preview serves only the new pods, before the cut-over", () => {
    const w = healthyBlueGreen(
      { previewAnalysis: false },
      { checks: [smoke], hooks: { preRollout: ["smoke"] } },
    );
    pushRevision(w, "rev-2");
    let calledWith: { preview: string | null; routed: number | undefined } | undefined;
    run(w, (x) => {
      if (!calledWith && x.checks.calls.size > 0)
        calledWith = { preview: x.slices.preview, routed: x.routes?.canary };
      return x.routes?.canary === 100;
    });
    assert.deepEqual(calledWith, { preview: "canary", routed: 0 }, "the smoke test can call the preview");
    const run0 = w.status?.checks?.find((c) => c.point === "preRollout");
    assert.equal(run0?.phase, "Passed");
  });

  it("a failed prePromotion check at the end of the window switches all traffic back to the warm primary", () => {
    const w = healthyBlueGreen(
      { previewAnalysis: false, rollbackWindow: "20s" },
      { checks: [smoke], hooks: { prePromotion: ["smoke"] } },
    );
    pushRevision(w, "rev-2");
    run(w, (x) => x.routes?.canary === 100);
    w.checks.webhook = "fail";
    run(w, (x) => x.routes?.canary === 0);
    assert.equal(w.status?.checks?.find((c) => c.point === "prePromotion")?.phase, "Failed");
    assert.notEqual(w.primary.revision, "rev-2", "the old version was never replaced");
    assert.ok(w.primary.ready > 0, "and still serves");
    assert.equal(w.status?.phase, "RolledBack");
  });
});
