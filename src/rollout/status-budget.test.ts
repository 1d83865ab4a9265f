// The status budget: messages clipped, removed metrics' history gone at once, the oldest history dropped first, and
// (property) no status the engine produces outgrows the budget, whatever the spec, the analysis and the prior status.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { MetricMeasurement } from "../analysis/types.ts";
import { type Measurement, RolloutSpecSchema, type RolloutStatus } from "../api/rollout-schema.ts";
import { largestSpec } from "../api/testing/largest-spec.ts";
import { validateRolloutSpec } from "../api/validate.ts";
import { decide } from "./decide.ts";
import { clipMessage, STATUS_BUDGET_BYTES, statusBytes, withinBudget } from "./status-budget.ts";
import { eventArb, happen } from "./testing/lives.ts";
import { apply, makeSpec, newWorld, observe, settle } from "./testing/world.ts";

const RUNS = Math.min(Number(process.env.VIREO_PROPERTY_RUNS ?? 100), 300);
/** etcd's default --max-request-bytes: every write of the whole object must stay below it. */
const ETCD_REQUEST_LIMIT = 1.5 * 1024 * 1024;
/** The API server's cap on all annotations of an object together (the last-applied copy among them). */
const ANNOTATIONS_LIMIT = 256 * 1024;

const entry = (metric: string, i: number, message = "m".repeat(1024)): Measurement => ({
  metric,
  verdict: "Error",
  threshold: ">= 99",
  message,
  weight: 10,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
});

describe("status budget", () => {
  it("clips long messages with an ellipsis and never splits a surrogate pair", () => {
    assert.equal(clipMessage("short"), "short");
    const clipped = clipMessage("a".repeat(5000));
    assert.equal(clipped.length, 2048);
    assert.ok(clipped.endsWith("…"));
    const emoji = clipMessage(`${"a".repeat(2046)}😀😀`);
    assert.equal(emoji, `${"a".repeat(2046)}…`, "the pair is left out whole, not cut in half");
  });

  it("returns a status that fits unchanged, and drops the oldest history first, the newest of each metric last", () => {
    const small: RolloutStatus = { phase: "Healthy", analysis: { ...counts(), history: [entry("a", 0)] } };
    assert.equal(withinBudget(small), small);
    const history = [entry("old", 0), ...Array.from({ length: 400 }, (_, i) => entry("busy", i + 1))];
    const status: RolloutStatus = { phase: "Progressing", analysis: { ...counts(), history } };
    const kept = withinBudget(status).analysis?.history ?? [];
    assert.ok(statusBytes(withinBudget(status)) <= STATUS_BUDGET_BYTES);
    assert.ok(kept.length > 200, `kept ${kept.length} of ${history.length}`);
    assert.equal(kept[0]?.metric, "old", "a metric's only entry outlives older entries of a busier one");
    assert.deepEqual(kept.at(-1), history.at(-1), "the newest entry stays");
    assert.deepEqual(kept.slice(1), history.slice(history.length - kept.length + 1), "oldest dropped first");
    assert.deepEqual(withinBudget(withinBudget(status)), withinBudget(status), "idempotent");
  });

  it("drops the history of a metric removed from the spec at once, and cuts to a lowered historyLimit", () => {
    const spec = makeSpec({
      analysis: {
        historyLimit: 2,
        metrics: [{ name: "kept", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
      },
    });
    const w = newWorld(spec);
    for (let i = 0; i < 4; i++) settle(w);
    w.status = {
      ...(w.status ?? {}),
      phase: "Healthy",
      stableRevision: "rev-1",
      analysis: {
        ...counts(),
        history: [entry("gone", 0), entry("kept", 1), entry("kept", 2), entry("kept", 3)],
      },
    };
    w.primary = { exists: true, revision: "rev-1", desired: 2, ready: 2, broken: false };
    w.canary.desired = 0;
    w.servicesReady = true;
    w.routes = { primary: 100, canary: 0 };
    const d = decide({ generation: 1, spec, status: w.status }, observe(w), new Date(w.now));
    assert.deepEqual(
      d.status.analysis?.history.map((m) => `${m.metric}@${m.at.slice(17, 19)}`),
      ["kept@02", "kept@03"],
    );
  });

  it("leaves room in etcd's 1.5 MiB for the largest spec the schema allows, its copy, the last-applied annotation and a full status", () => {
    const spec = largestSpec({
      provider: "gateway-api",
      prometheusAddress: "http://prometheus.example:9090",
    });
    const valid = validateRolloutSpec(spec);
    assert.ok(valid.ok, "the largest spec is valid");
    const specBytes = Buffer.byteLength(JSON.stringify(spec));
    const lastValidBytes = Buffer.byteLength(JSON.stringify(RolloutSpecSchema.parse(spec)));
    // Metadata beside annotations: names, labels, finalizers, managedFields (a field set per writer).
    const metadataAllowance = 64 * 1024;
    const worst = specBytes + lastValidBytes + ANNOTATIONS_LIMIT + STATUS_BUDGET_BYTES + metadataAllowance;
    console.log(
      `largest spec ${specBytes} B, lastValidSpec ${lastValidBytes} B, status budget ${STATUS_BUDGET_BYTES} B: worst object ${worst} B of ${ETCD_REQUEST_LIMIT}`,
    );
    assert.ok(
      worst + 256 * 1024 < ETCD_REQUEST_LIMIT,
      `${worst} B leaves less than 256 KiB of etcd's limit spare`,
    );
  });

  it("holds for any status the engine produces: long messages, full histories, up to 20 metrics, a prior status already too big", () => {
    let largest = 0;
    fc.assert(
      fc.property(
        fc.record({
          metrics: fc.integer({ min: 1, max: 20 }),
          historyLimit: fc.integer({ min: 1, max: 50 }),
          /** Error messages of any length, some with characters of 2–4 UTF-8 bytes. */
          message: fc.oneof(
            fc.string({ maxLength: 3000 }),
            fc.string({ unit: "binary", maxLength: 3000 }),
            fc.integer({ min: 0, max: 3000 }).map((n) => "€".repeat(n)),
          ),
          /** A status written by an older controller: history of metrics since removed, long messages. */
          inherited: fc.integer({ min: 0, max: 3000 }),
          requestValue: fc.integer({ min: 1, max: 200_000 }).map((n) => "r".repeat(n)),
          events: fc.array(
            fc.oneof(
              { weight: 12, arbitrary: fc.constant({ kind: "tick" as const }) },
              { weight: 4, arbitrary: eventArb },
              { weight: 1, arbitrary: fc.constant({ kind: "longRequest" as const }) },
            ),
            { minLength: 1, maxLength: 200 },
          ),
        }),
        ({ metrics, historyLimit, message, inherited, requestValue, events }) => {
          const spec = makeSpec({
            analysis: {
              interval: "10s",
              historyLimit,
              failureLimit: 100,
              consecutiveErrorLimit: 100,
              inconclusiveLimit: 1000,
              // Every third metric is judged sequentially: its history carries the evidence, and status the estimate.
              metrics: Array.from({ length: metrics }, (_, i) =>
                i % 3 === 2
                  ? {
                      name: `metric-${i}`,
                      builtin: "request-success-rate" as const,
                      judge: "sequential" as const,
                    }
                  : { name: `metric-${i}`, query: "up", thresholdRange: { min: 1 } },
              ),
            },
          });
          const w = newWorld(spec);
          w.status = {
            message: "x".repeat(inherited * 40),
            conditions: [
              {
                type: "Degraded",
                status: "True",
                reason: "ReconcileError",
                message: "y".repeat(32_768),
                lastTransitionTime: "2026-01-01T00:00:00Z",
                observedGeneration: 1,
              },
            ],
            analysis: {
              ...counts(),
              history: Array.from({ length: inherited }, (_, i) =>
                entry(i % 2 ? `old-${i % 40}` : `metric-${i % metrics}`, i),
              ),
            },
            // The outbox at its schema bounds (a destination down for long).
            notifications: {
              delivered: Array.from({ length: 200 }, (_, i) => `k${i}`.padEnd(256, "k")),
              failed: Array.from({ length: 50 }, (_, i) => `f${i}`.padEnd(256, "f")),
              pending: Array.from({ length: 50 }, (_, i) => ({
                key: `p${i}`.padEnd(256, "p"),
                event: "AnalysisFailed" as const,
                severity: "warning" as const,
                message: "n".repeat(1024),
                revision: "r".repeat(64),
                canaryWeight: 10,
                metric: "m".repeat(253),
                value: 1,
                threshold: "t".repeat(256),
              })),
            },
          };
          w.nextAnalysis = (s) =>
            s.analysis.metrics.map(
              (m): MetricMeasurement =>
                m.judge === "sequential"
                  ? {
                      metric: m.name,
                      value: null,
                      counts: {
                        canary: { requests: 1234.5, events: 6.25 },
                        primary: { requests: 11_111.5, events: 55.5 },
                      },
                    }
                  : { metric: m.name, value: null, error: message },
            );
          // Adopted and healthy, then a new revision: most lives then spend their ticks in a rollout.
          const prelude = [
            ...Array.from({ length: 4 }, () => ({ kind: "settle" as const })),
            { kind: "revision" as const, rev: 2, broken: false },
          ];
          for (const e of [...prelude, ...events]) {
            if (e.kind === "tick") w.now += 10_000;
            else if (e.kind === "longRequest") w.requests.pause = `${requestValue}${w.now}`;
            else happen(w, e);
            const d = decide({ generation: 1, spec, status: w.status }, observe(w), new Date(w.now));
            const bytes = statusBytes(d.status);
            assert.ok(bytes <= STATUS_BUDGET_BYTES, `status of ${bytes} B after ${e.kind}`);
            largest = Math.max(largest, bytes);
            const kept = new Set(d.status.analysis?.history.map((m) => m.metric));
            for (const name of kept) assert.match(name, /^metric-/, "no history of a metric not in the spec");
            apply(w, d.actions);
            w.status = d.status;
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Not vacuous: some lives filled history up to the budget.
    assert.ok(largest > STATUS_BUDGET_BYTES * 0.9, `largest status seen: ${largest} B`);
  });
});

function counts() {
  return { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0 };
}
