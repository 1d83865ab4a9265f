// `history NAME`: what happened to past revisions (started, promoted, rolled back, by whom, the failing metric).
import { ANNOTATIONS, REASONS } from "../../api/constants.ts";
import { eventTime, type KubeEvent } from "../../api/kube-event.ts";
import type { Rollout } from "../../api/rollout-schema.ts";
import type { Args } from "../args.ts";
import { connect } from "../context.ts";
import { CliError } from "../errors.ts";
import { formatObjects } from "../output.ts";
import { getRollout, rolloutEvents } from "../rollout-api.ts";
import { style, table } from "../style.ts";

/** Event reasons that mark a revision's life. */
const MILESTONES = new Set<string>([
  REASONS.RolloutStarted,
  REASONS.NewRevision,
  REASONS.Retried,
  REASONS.PromotedByUser,
  REASONS.Promoting,
  REASONS.Promoted,
  REASONS.RolledBack,
  REASONS.AnalysisFailed,
  REASONS.AnalysisErrors,
  REASONS.ProgressDeadlineExceeded,
  REASONS.Aborted,
  REASONS.RevisionReverted,
  REASONS.RequestIgnored,
]);

/** One line of history. */
export interface HistoryEntry {
  at: string;
  reason: string;
  by: string;
  detail: string;
}

/** Who or what caused a milestone. */
function actor(e: KubeEvent, requesters: Map<string, string>): string {
  switch (e.reason) {
    case REASONS.PromotedByUser:
      return `user (${requesters.get("promote") ?? "annotation"})`;
    case REASONS.Aborted:
      return `user (${requesters.get("abort") ?? "annotation"})`;
    case REASONS.Retried:
      return `user (${requesters.get("retry") ?? "annotation"})`;
    case REASONS.RequestIgnored:
      return "controller";
    case REASONS.AnalysisFailed:
    case REASONS.AnalysisErrors:
      return "analysis";
    case REASONS.Promoting:
      return "steps/analysis";
    case REASONS.NewRevision:
    case REASONS.RolloutStarted:
    case REASONS.RevisionReverted:
      return "Deployment change";
    default:
      return "controller";
  }
}

/** Which field manager last wrote each request annotation (kubectl-annotate, kubectl-vireo, …). */
export function requesters(r: Rollout): Map<string, string> {
  const out = new Map<string, string>();
  const fields =
    (
      r.metadata as {
        managedFields?: { manager?: string; fieldsV1?: { "f:metadata"?: { "f:annotations"?: object } } }[];
      }
    ).managedFields ?? [];
  for (const [kind, key] of Object.entries(ANNOTATIONS)) {
    for (const f of fields) {
      const annotations = f.fieldsV1?.["f:metadata"]?.["f:annotations"] ?? {};
      if (`f:${key}` in annotations && f.manager) out.set(kind, f.manager);
    }
  }
  return out;
}

/** The history of a Rollout from its Events and status, oldest first. Pure. */
export function buildHistory(r: Rollout, events: KubeEvent[]): HistoryEntry[] {
  const who = requesters(r);
  return events
    .filter((e) => MILESTONES.has(e.reason ?? ""))
    .map((e) => ({ at: eventTime(e), reason: e.reason ?? "", by: actor(e, who), detail: e.message ?? "" }));
}

/** `kubectl vireo history NAME`. */
export async function history(args: Args): Promise<number> {
  const ctx = await connect(args);
  const name = args.positional[0];
  if (!name) throw new CliError("usage: kubectl vireo history NAME", 2);
  const rollout = await getRollout(ctx.kube, ctx.namespace, name);
  const entries = buildHistory(rollout, await rolloutEvents(ctx.kube, ctx.namespace, name));
  if (args.output === "json" || args.output === "yaml") {
    ctx.out.write(await formatObjects(entries, args.output));
    return 0;
  }
  const s = style(ctx.color);
  const st = rollout.status ?? {};
  const lines = [
    `${s.bold("Stable revision:")} ${st.stableRevision ?? "-"}${st.promotedBy ? ` (promoted by ${st.promotedBy})` : ""}`,
  ];
  if (st.canaryRevision && st.canaryRevision !== st.stableRevision)
    lines.push(`${s.bold("Canary revision:")} ${st.canaryRevision} (${st.phase ?? "Unknown"})`);
  const failing = (st.analysis?.history ?? []).filter((m) => m.verdict === "Fail" || m.verdict === "Error");
  for (const m of failing.slice(-5)) {
    lines.push(
      `${s.bold("Failed check:")}    ${m.at} ${m.metric} = ${m.value ?? "no data"} (${m.threshold}) at weight ${m.weight}%${m.message ? `: ${m.message}` : ""}`,
    );
  }
  if (entries.length === 0) lines.push("No history Events (Events expire after an hour by default).");
  else {
    lines.push("");
    lines.push(
      ...table([
        ["TIME", "WHAT", "BY", "DETAIL"].map((h) => s.bold(h)),
        ...entries.map((e) => [e.at, e.reason, e.by, e.detail]),
      ]),
    );
  }
  ctx.out.write(`${lines.join("\n")}\n`);
  return 0;
}
