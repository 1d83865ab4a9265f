// deploy/argocd/health.lua run by a real Lua 5.1 interpreter (Debian lua5.1, as Argo CD embeds gopher-lua, a Lua
// 5.1) against fixed Rollout statuses: Healthy, Progressing, Degraded and Suspended.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  initialized,
  makeSpec,
  newWorld,
  pushRevision,
  reconcile,
  run,
} from "../src/rollout/testing/world.ts";

const ROOT = join(import.meta.dirname, "..");
const SCRIPT = join(ROOT, "deploy/argocd/health.lua");
const HARNESS = join(ROOT, "test/argocd/harness.lua");

/** A JSON value as a Lua 5.1 table literal (ASCII strings only, which JSON.stringify escapes the Lua way). */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return "nil";
  if (typeof v === "string") {
    assert.match(v, /^[\x20-\x7e]*$/, "the harness passes printable ASCII strings only");
    return JSON.stringify(v);
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(", ")}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(", ")}}`;
}

function health(rollout: object): { status: string; message: string } {
  const r = spawnSync("lua5.1", [HARNESS, SCRIPT], { input: toLua(rollout), encoding: "utf8" });
  assert.equal(
    r.error,
    undefined,
    "lua5.1 must be installed (npm test's pretest, e2e/cluster/build-test-tools.sh, installs it)",
  );
  assert.equal(r.status, 0, r.stderr);
  const [status = "", message = ""] = r.stdout.split("\n");
  return { status, message };
}

const cond = (type: string, status: "True" | "False", reason: string, message = "") => ({
  type,
  status,
  reason,
  message,
  observedGeneration: 2,
  lastTransitionTime: "2026-12-01T10:00:00Z",
});
const rollout = (status: object | undefined, extra: { generation?: number; suspend?: boolean } = {}) => ({
  apiVersion: "vireo.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "podinfo", namespace: "demo", generation: extra.generation ?? 2 },
  spec: { targetRef: { name: "podinfo" }, ...(extra.suspend ? { suspend: true } : {}) },
  ...(status ? { status } : {}),
});
const kstatus = (ready: boolean, reconciling: boolean, stalled: boolean, reason: string, message = "") => [
  cond("Ready", ready ? "True" : "False", ready ? "Healthy" : reason, message),
  cond("Reconciling", reconciling ? "True" : "False", reason, message),
  cond("Stalled", stalled ? "True" : "False", stalled ? reason : "Healthy", message),
];

describe("deploy/argocd/health.lua", () => {
  it("Healthy when Ready=True on the observed generation", () => {
    const hs = health(
      rollout({
        observedGeneration: 2,
        phase: "Healthy",
        conditions: kstatus(true, false, false, "Healthy", "primary serves revision abc"),
      }),
    );
    assert.deepEqual(hs, { status: "Healthy", message: "primary serves revision abc" });
  });

  it("Progressing while a canary is in flight, and before the controller observed the generation", () => {
    const inFlight = health(
      rollout({
        observedGeneration: 2,
        phase: "Progressing",
        conditions: kstatus(false, true, false, "WaitingForAnalysis", "step 1/3 at 20%"),
      }),
    );
    assert.deepEqual(inFlight, { status: "Progressing", message: "WaitingForAnalysis: step 1/3 at 20%" });
    const stale = health(
      rollout(
        { observedGeneration: 2, phase: "Healthy", conditions: kstatus(true, false, false, "Healthy") },
        { generation: 3 },
      ),
    );
    assert.equal(stale.status, "Progressing", "Ready=True of an older generation is not Healthy");
    assert.match(stale.message, /generation 3/);
    assert.equal(health(rollout(undefined)).status, "Progressing");
  });

  it("Degraded when Stalled=True: rolled back, aborted, invalid", () => {
    const hs = health(
      rollout({
        observedGeneration: 2,
        phase: "RolledBack",
        conditions: kstatus(false, false, true, "AnalysisFailed", "success 50 < 99"),
      }),
    );
    assert.deepEqual(hs, { status: "Degraded", message: "AnalysisFailed: success 50 < 99" });
  });

  it("Suspended when paused for a person or by spec.suspend", () => {
    const paused = health(
      rollout({
        observedGeneration: 2,
        phase: "Paused",
        pauseReason: "PauseStep",
        message: "paused at step 2",
        conditions: kstatus(false, true, false, "PauseStep", "paused at step 2"),
      }),
    );
    assert.deepEqual(paused, { status: "Suspended", message: "paused at step 2" });
    const suspended = health(
      rollout(
        { observedGeneration: 2, phase: "Progressing", conditions: kstatus(false, true, false, "Suspended") },
        { suspend: true },
      ),
    );
    assert.equal(suspended.status, "Suspended");
    // A suspended Rollout that is Healthy is simply Healthy: nothing is held back.
    const idle = health(
      rollout(
        { observedGeneration: 2, phase: "Healthy", conditions: kstatus(true, false, false, "Healthy", "ok") },
        { suspend: true },
      ),
    );
    assert.equal(idle.status, "Healthy");
  });
});

describe("deploy/argocd/health.lua on the statuses the engine writes", () => {
  it("maps a real life: Healthy → Progressing → Suspended (pause step) → Healthy, and a rollback to Degraded", () => {
    const spec = makeSpec({ strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } });
    const w = initialized(newWorld(spec));
    const of = () => health(rollout({ ...w.status }, { generation: 1 })).status;
    assert.equal(of(), "Healthy");
    pushRevision(w, "rev-2");
    reconcile(w);
    assert.equal(of(), "Progressing");
    run(w, (x) => x.status?.phase === "Paused");
    assert.equal(of(), "Suspended");
    w.requests.promote = "go";
    run(w, (x) => x.status?.phase === "Healthy");
    assert.equal(of(), "Healthy");
    pushRevision(w, "rev-3");
    w.nextAnalysis = (s) => s.analysis.metrics.map((m) => ({ metric: m.name, value: 0, primaryValue: 100 }));
    run(w, (x) => x.status?.phase === "RolledBack");
    assert.equal(of(), "Degraded");
  });
});
