// Analysis rules: record one tick in status and apply its verdict (count failures, roll back, pause on silence), and
// the analysis checks' share of it: a run at every tick, a failed or timed-out run counted like a failed metric.

import { sequentialContext } from "../analysis/judge-sequential-metric.ts";
import { judgeTick } from "../analysis/verdict.ts";
import { REASONS } from "../api/constants.ts";
import type { Measurement } from "../api/rollout-schema.ts";
import { analysisRequired } from "./analysis-schedule.ts";
import { describeRun, startTickChecks } from "./checks.ts";
import { type Ctx, IN_FLIGHT } from "./draft.ts";
import { recordEvidence } from "./evidence-budget.ts";
import { pause, rollBack } from "./transitions.ts";

/** Records one analysis tick and applies its consequences (rollback, pause). Returns false if the rollout ended. */
export function recordAnalysis(ctx: Ctx): boolean {
  const { d, spec, obs } = ctx;
  if (!obs.analysis || !analysisRequired(spec) || !IN_FLIGHT.includes(d.phase)) return true;
  if (ctx.analysisRecorded) return true;
  ctx.analysisRecorded = true;
  d.status.analysis ??= { failedChecks: 0, consecutiveErrors: 0, inconclusiveCount: 0, history: [] };
  const a = d.status.analysis;
  const step = d.status.currentStepIndex ?? 0;
  const { verdict, results } = judgeTick(
    spec.analysis.metrics,
    obs.analysis,
    spec.analysis.noData,
    (metric) => sequentialContext(a.history ?? [], metric, step),
  );
  // A tick is never younger than the decision reading it: one stamped later (another time base) would count as
  // evidence for the step this very decision enters, which its traffic never reached.
  const analysedAt = obs.analysisAt && obs.analysisAt < d.now ? obs.analysisAt : d.now;
  const at = analysedAt.toISOString();
  a.lastRunAt = at;
  a.ticks = (a.ticks ?? 0) + 1;
  const fresh: Measurement[] = results.map((r) => ({
    metric: r.metric,
    verdict: r.verdict,
    ...(r.value !== undefined ? { value: r.value } : {}),
    ...(r.primaryValue !== undefined ? { primaryValue: r.primaryValue } : {}),
    threshold: r.threshold,
    ...(r.message ? { message: r.message.slice(0, 1024) } : {}),
    weight: d.status.canaryWeight ?? 0,
    at,
    ...(r.sequential ? { sequential: r.sequential } : {}),
  }));
  a.history = trimHistory([...(a.history ?? []), ...fresh], spec.analysis.historyLimit);
  recordEvidence(ctx, results, analysedAt);
  const failing = results.find((r) => r.verdict === "Fail") ?? results.find((r) => r.verdict === "Error");
  switch (verdict) {
    case "Pass":
      a.lastPassAt = at;
      a.consecutiveErrors = 0;
      a.inconclusiveCount = 0;
      return true;
    case "Fail": {
      a.failedChecks = (a.failedChecks ?? 0) + 1;
      a.consecutiveErrors = 0;
      a.inconclusiveCount = 0;
      const limit = spec.analysis.failureLimit;
      const count = failing?.conclusive ? "conclusive" : `${a.failedChecks}/${limit}`;
      const message = `analysis failed (${count}): ${failing?.metric} ${failing?.message ?? ""}`.trim();
      d.notify("AnalysisFailed", "warning", message, String(a.failedChecks), failing);
      // A sequential Fail is conclusive: its error guarantee is for the first crossing, so waiting buys nothing.
      if (a.failedChecks >= limit || failing?.conclusive) {
        // One decision, one Event: the rollback's Event already carries this check's message.
        rollBack(ctx, REASONS.AnalysisFailed, `rolled back: ${message}`, failing);
        return false;
      }
      d.event("Warning", REASONS.AnalysisFailed, message);
      return true;
    }
    case "Error": {
      a.consecutiveErrors = (a.consecutiveErrors ?? 0) + 1;
      const limit = spec.analysis.consecutiveErrorLimit;
      const message = `analysis could not be evaluated (${a.consecutiveErrors}/${limit} in a row): ${failing?.metric}: ${failing?.message ?? ""}`;
      if (a.consecutiveErrors >= limit) {
        rollBack(ctx, REASONS.AnalysisErrors, `rolled back: ${message}`, failing);
        return false;
      }
      d.event("Warning", REASONS.AnalysisErrors, message);
      return true;
    }
    case "Inconclusive": {
      a.consecutiveErrors = 0;
      // A judge still gathering evidence has data; only silence counts (maxStepDuration bounds the gathering).
      const silent = results.some((r) => r.verdict === "Inconclusive" && !r.gathering);
      a.inconclusiveCount = silent ? (a.inconclusiveCount ?? 0) + 1 : 0;
      if (a.inconclusiveCount >= spec.analysis.inconclusiveLimit && d.phase === "Progressing") {
        pause(
          ctx,
          "Inconclusive",
          `analysis inconclusive ${a.inconclusiveCount} times in a row (no data); waiting for vireo.dev/resume or vireo.dev/promote`,
        );
      }
      return true;
    }
  }
}

/**
 * The analysis checks' failures in this decision: rolls back once failed runs (counted when their verdict was
 * recorded: an answer, a Job, a timeout, never a pass) reach failureLimit, as failed metrics do. Returns false if the
 * rollout ended.
 */
export function analysisChecks(ctx: Ctx): boolean {
  const { d, spec } = ctx;
  if (!spec.analysis.checks?.length || !analysisRequired(spec) || !IN_FLIGHT.includes(d.phase)) return true;
  const failed = d.status.analysis?.failedChecks ?? 0;
  const limit = spec.analysis.failureLimit;
  const run = ctx.failedAnalysisRun;
  delete ctx.failedAnalysisRun; // notified once, should the rules run again in this decision
  if (run || failed >= limit) {
    const what = run
      ? `${describeRun(run)} (tick ${run.attempt}): ${run.message ?? "failed"}`
      : "checks failed";
    const message = `analysis failed (${failed}/${limit}): ${what}`;
    d.notify("AnalysisFailed", "warning", message, String(failed));
    if (failed >= limit) {
      rollBack(ctx, REASONS.AnalysisFailed, `rolled back: ${message}`);
      return false;
    }
  }
  return true;
}

/**
 * Starts the analysis checks of the tick this decision recorded, once the steps have had their say: a run that passed
 * is counted for its step before the tick's new run replaces it in status.
 */
export function startAnalysisChecks(ctx: Ctx): void {
  const { d, spec } = ctx;
  if (!ctx.analysisRecorded || !spec.analysis.checks?.length || !IN_FLIGHT.includes(d.phase)) return;
  startTickChecks(ctx, d.status.analysis?.ticks ?? 0);
}

/**
 * Keeps the newest `limit` measurements of each metric, in time order; with `metrics`, only those metrics' (the
 * ones the spec still has).
 */
export function trimHistory(
  history: Measurement[],
  limit: number,
  metrics?: ReadonlySet<string>,
): Measurement[] {
  const kept = new Map<string, number>();
  const out: Measurement[] = [];
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    const n = kept.get(m.metric) ?? 0;
    if (n >= limit || (metrics && !metrics.has(m.metric))) continue;
    kept.set(m.metric, n + 1);
    out.push(m);
  }
  return out.reverse();
}

/**
 * Drops history of metrics no longer in the spec and cuts each metric's to `historyLimit` at once, not at the next
 * rollout: a removed metric's entries would otherwise sit in status (and count against its budget) indefinitely.
 */
export function pruneHistory(ctx: Ctx): void {
  const a = ctx.d.status.analysis;
  if (!a?.history?.length) return;
  const { metrics, historyLimit } = ctx.spec.analysis;
  const history = trimHistory(a.history, historyLimit, new Set(metrics.map((m) => m.name)));
  if (history.length !== a.history.length) a.history = history;
}
