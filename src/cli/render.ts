// Renders a Rollout for `get`: a pure function of the object, its Events, its Deployments and the time.
import { isRollingOut } from "../api/constants.ts";
import { displaySafe } from "../api/display-text.ts";
import { formatDuration, parseDuration } from "../api/duration.ts";
import { type EvidenceProgress, evidenceProgress } from "../api/evidence-view.ts";
import { eventTime, type KubeEvent } from "../api/kube-event.ts";
import type { Measurement, Rollout } from "../api/rollout-schema.ts";
import { expandSteps } from "../rollout/steps.ts";
import type { DeploymentSummary } from "./rollout-api.ts";
import { type Style, style, table } from "./style.ts";

/** Everything `get` shows about one Rollout. */
export interface RolloutView {
  rollout: Rollout;
  events: KubeEvent[];
  primary?: DeploymentSummary;
  canary?: DeploymentSummary;
}

/** How to render. */
export interface RenderOptions {
  now: Date;
  color: boolean;
  /** Events shown (default 5). */
  events?: number;
}

/** The colour of a phase: red when a person should look, yellow while waiting for one, green when settled. */
export function phaseColor(phase: string | undefined, s: Style): (x: string) => string {
  switch (phase) {
    case "Healthy":
      return s.green;
    case "Progressing":
    case "Promoting":
    case "Finalizing":
      return s.cyan;
    case "Paused":
    case "Initializing":
      return s.yellow;
    case "RolledBack":
    case "Aborted":
    case "Invalid":
      return s.red;
    default:
      return (x) => x;
  }
}

/** "12s ago"-style age of a timestamp relative to now; "-" when unknown. */
export function age(at: string | undefined, now: Date): string {
  if (!at) return "-";
  const ms = now.getTime() - Date.parse(at);
  return Number.isFinite(ms) ? formatDuration(Math.max(0, ms)) : "-";
}

/** A progress bar of `width` cells for `done` of `total`. */
export function bar(done: number, total: number, width = 20): string {
  const full = total <= 0 ? 0 : Math.round((Math.min(done, total) / total) * width);
  return `${"█".repeat(full)}${"░".repeat(width - full)}`;
}

/** The latest measurement of each metric, in the order of the spec. */
export function latestMeasurements(rollout: Rollout): Measurement[] {
  const history = rollout.status?.analysis?.history ?? [];
  const latest = new Map<string, Measurement>();
  for (const m of history) latest.set(m.metric, m);
  const order = (rollout.spec.analysis?.metrics ?? []).map((m) => m.name);
  return [...latest.values()].sort((a, b) => order.indexOf(a.metric) - order.indexOf(b.metric));
}

function stepLabel(step: { setWeight?: number; pause?: { duration?: string } }): string {
  if (step.setWeight !== undefined) return `${step.setWeight}%`;
  return step.pause?.duration ? `pause ${step.pause.duration}` : "pause";
}

/** The steps as one line: done ✔, current ▶, to come ·. */
function stepsLine(r: Rollout, s: Style): string {
  const steps = expandSteps(r.spec.strategy);
  const phase = r.status?.phase;
  const current = r.status?.currentStepIndex ?? 0;
  const rollingOut = isRollingOut(phase);
  return steps
    .map((step, i) => {
      const label = stepLabel(step);
      if (!rollingOut) return s.dim(`· ${label}`);
      if (phase === "Promoting" || phase === "Finalizing" || i < current) return s.green(`✔ ${label}`);
      if (i === current) return s.bold(`▶ ${label}`);
      return s.dim(`· ${label}`);
    })
    .join(" → ");
}

function fmt(v: number | undefined): string {
  if (v === undefined) return "no data";
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function verdictMark(v: Measurement["verdict"], s: Style): string {
  if (v === "Pass") return s.green("✔");
  if (v === "Fail") return s.red("✖");
  if (v === "Error") return s.red("!");
  return s.yellow("?");
}

function checkMark(phase: string, s: Style): string {
  if (phase === "Passed") return s.green("✔");
  if (phase === "Failed") return s.red("✖");
  if (phase === "Skipped") return s.dim("-");
  return s.yellow("…");
}

function replicasText(d: DeploymentSummary | undefined): string {
  return d ? `${d.ready}/${d.replicas} ready` : "-";
}

/**
 * The `get` view of one Rollout, as lines without trailing newline. Every string from the API server is shown
 * through displayText (no escape sequences, controls or bidi overrides), Events under a heading that says what
 * they are: anyone allowed to create Events in the namespace can write one.
 */
export function renderRollout(unsafe: RolloutView, opts: RenderOptions): string[] {
  const view = displaySafe(unsafe);
  const s = style(opts.color);
  const r = view.rollout;
  const now = opts.now;
  const st = r.status ?? {};
  const phase = st.phase ?? "Unknown";
  const out: string[] = [];
  const field = (name: string, value: string) =>
    out.push(`${name ? s.bold(`${name}:`.padEnd(14)) : " ".repeat(14)}${value}`);

  field("Name", r.metadata.name);
  field("Namespace", r.metadata.namespace);
  field("Phase", phaseColor(st.phase, s)(phase) + (st.pauseReason ? ` (${st.pauseReason})` : ""));
  if (st.message) field("Message", st.message);

  const steps = expandSteps(r.spec.strategy);
  const rollingOut = isRollingOut(phase);
  const index = st.currentStepIndex ?? 0;
  const stepNo = rollingOut ? Math.min(index + 1, steps.length) : 0;
  const doneSteps = phase === "Promoting" || phase === "Finalizing" ? steps.length : rollingOut ? index : 0;
  field("Step", `${stepNo}/${steps.length} ${bar(doneSteps, steps.length)}  ${stepsLine(r, s)}`);
  if (rollingOut) {
    const timing = [`in step ${age(st.stepStartedAt, now)}`];
    const metrics = r.spec.analysis?.metrics ?? [];
    if (metrics.length > 0 && !r.spec.skipAnalysis && phase === "Progressing") {
      const interval = safeDuration(r.spec.analysis?.interval ?? "30s");
      const last = st.analysis?.lastRunAt ?? st.stepStartedAt;
      if (last && interval !== undefined) {
        const next = Date.parse(last) + interval - now.getTime();
        timing.push(next > 0 ? `next tick in ${formatDuration(next)}` : "next tick due");
      }
    }
    if (st.waitingSince) timing.push(`waiting ${age(st.waitingSince, now)}`);
    field("", timing.join(" · "));
  }
  const weight = st.canaryWeight ?? 0;
  field("Weights", `primary ${100 - weight}%  canary ${weight}%`);
  field("Replicas", `primary ${replicasText(view.primary)}  canary ${replicasText(view.canary)}`);
  field(
    "Revisions",
    `stable ${st.stableRevision ?? "-"}${st.canaryRevision && st.canaryRevision !== st.stableRevision ? `  canary ${st.canaryRevision}` : ""}${st.promotedBy ? `  (last promoted by ${st.promotedBy})` : ""}`,
  );

  const metrics = r.spec.analysis?.metrics ?? [];
  if (metrics.length > 0) {
    const a = r.spec.analysis;
    const counts = st.analysis;
    field(
      "Analysis",
      `every ${a?.interval ?? "30s"}  failed ${counts?.failedChecks ?? 0}/${a?.failureLimit ?? 2}  errors ${counts?.consecutiveErrors ?? 0}/${a?.consecutiveErrorLimit ?? 4}  inconclusive ${counts?.inconclusiveCount ?? 0}/${a?.inconclusiveLimit ?? 10}${counts?.lastRunAt ? `  last run ${age(counts.lastRunAt, now)} ago` : ""}`,
    );
    const evidence = evidenceProgress(st, now.getTime());
    if (evidence) field("Evidence", evidenceText(evidence, s));
    const latest = latestMeasurements(r);
    const rows = metrics.map((m) => {
      const got = latest.find((x) => x.metric === m.name);
      if (!got) return [s.dim("·"), m.name, "-", "not measured yet"];
      return [
        verdictMark(got.verdict, s),
        m.name,
        fmt(got.value),
        got.threshold,
        got.primaryValue !== undefined ? `primary ${fmt(got.primaryValue)}` : "",
        got.verdict === "Pass" ? "" : (got.message ?? got.verdict),
      ];
    });
    for (const line of table(rows)) out.push(`  ${line}`);
  }

  const runs = st.checks ?? [];
  if (runs.length > 0) {
    field("Checks", `${runs.filter((c) => c.phase === "Passed").length}/${runs.length} passed`);
    const rows = runs.map((c) => [
      checkMark(c.phase, s),
      c.name,
      c.point === "step" ? `step ${(c.step ?? 0) + 1}` : c.point,
      `${c.kind} #${c.attempt}`,
      c.phase,
      c.phase === "Pending" && c.kind === "approval"
        ? `kubectl vireo approve ${r.metadata.name} ${c.name}`
        : (c.message ?? ""),
    ]);
    for (const line of table(rows)) out.push(`  ${line}`);
  }

  const conditions = st.conditions ?? [];
  if (conditions.length > 0) {
    out.push(s.bold("Conditions:"));
    const rows = conditions.map((c) => [
      c.type,
      c.status === "True" ? s.green(c.status) : c.status === "False" ? s.red(c.status) : s.yellow(c.status),
      c.reason,
      age(c.lastTransitionTime, now),
      c.message,
    ]);
    for (const line of table(rows)) out.push(`  ${line}`);
  }

  const pending = st.notifications?.pending ?? [];
  if (pending.length > 0) {
    out.push(s.bold(`Notifications pending (${pending.length}):`));
    for (const n of pending) out.push(`  ${n.event}  ${n.severity}  ${n.message}`);
  }

  const events = view.events.slice(-(opts.events ?? 5));
  if (events.length > 0) {
    out.push(`${s.bold("Events:")} ${s.dim(EVENTS_CAVEAT(r.metadata.namespace))}`);
    const rows = events.map((e) => [
      age(eventTime(e), now),
      e.type === "Warning" ? s.yellow("Warning") : "Normal",
      e.reason ?? "",
      e.message ?? "",
    ]);
    for (const line of table(rows)) out.push(`  ${line}`);
  }
  return out;
}

/** "████░░ 1,200/~3,000 canary requests (errors) · ETA 12m · 48m of maxStepDuration left", red when it is late. */
function evidenceText(p: EvidenceProgress, s: Style): string {
  const when = p.late ? s.red(`${p.eta}: InsufficientTraffic`) : s.green(p.eta);
  return `${bar(p.fraction, 1)} ${p.requests} · ${when} · ${p.budget}`;
}

function safeDuration(text: string): number | undefined {
  try {
    return parseDuration(text);
  } catch {
    return undefined;
  }
}

/** What an Events heading says about them: they are claims, not Vireo's record (that is status.milestones). */
export const EVENTS_CAVEAT = (namespace: string) =>
  `(as reported; anyone allowed to create Events in ${namespace} can write one — history: kubectl vireo history)`;

/** The `list` table: one row per Rollout. */
export function renderList(
  unsafe: Rollout[],
  opts: { now: Date; color: boolean; allNamespaces: boolean },
): string[] {
  const rollouts = displaySafe(unsafe);
  const s = style(opts.color);
  const header = ["NAME", "PHASE", "WEIGHT", "STEP", "MESSAGE", "AGE"];
  if (opts.allNamespaces) header.unshift("NAMESPACE");
  const rows = rollouts.map((r) => {
    const st = r.status ?? {};
    const steps = expandSteps(r.spec.strategy).length;
    const rollingOut = isRollingOut(st.phase);
    const row = [
      r.metadata.name,
      phaseColor(st.phase, s)(st.phase ?? "Unknown"),
      `${st.canaryWeight ?? 0}%`,
      rollingOut ? `${Math.min((st.currentStepIndex ?? 0) + 1, steps)}/${steps}` : "-",
      age((r.metadata as { creationTimestamp?: string }).creationTimestamp, opts.now),
    ];
    row.splice(4, 0, truncate(st.message ?? "", 60));
    if (opts.allNamespaces) row.unshift(r.metadata.namespace);
    return row;
  });
  return table([header.map((h) => s.bold(h)), ...rows]);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
