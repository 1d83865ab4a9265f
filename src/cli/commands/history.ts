// `history NAME`: what happened to past revisions (started, promoted, rolled back, by whom, the failing metric), from
// the milestones the controller recorded in status: Events anyone may create never count as history.
import { ANNOTATIONS, REASONS } from "../../api/constants.ts";
import { displaySafe } from "../../api/display-text.ts";
import type { Milestone, Rollout } from "../../api/rollout-schema.ts";
import type { Args } from "../args.ts";
import { connect } from "../context.ts";
import { CliError } from "../errors.ts";
import { formatObjects } from "../output.ts";
import { getRollout } from "../rollout-api.ts";
import { style, table } from "../style.ts";

/** One line of history. */
export interface HistoryEntry {
  at: string;
  reason: string;
  revision: string;
  by: string;
  detail: string;
}

/** Who or what caused a milestone. */
function actor(m: Milestone, requesters: Map<string, string>): string {
  switch (m.reason) {
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

/**
 * The history of a Rollout, oldest first, from `status.milestones`: only the controller writes status, so no Event
 * (anyone allowed to create Events in the namespace can write one) becomes history. Pure.
 */
export function buildHistory(r: Rollout): HistoryEntry[] {
  const who = requesters(r);
  return (r.status?.milestones ?? []).map((m) => ({
    at: m.at,
    reason: m.reason,
    revision: m.revision,
    by: actor(m, who),
    detail: m.message,
  }));
}

/** `kubectl vireo history NAME`. */
export async function history(args: Args): Promise<number> {
  const ctx = await connect(args);
  const name = args.positional[0];
  if (!name) throw new CliError("usage: kubectl vireo history NAME", 2);
  const raw = await getRollout(ctx.kube, ctx.namespace, name);
  if (args.output === "json" || args.output === "yaml") {
    ctx.out.write(await formatObjects(buildHistory(raw), args.output));
    return 0;
  }
  const rollout = displaySafe(raw);
  const entries = buildHistory(rollout);
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
  if (entries.length === 0) {
    lines.push(
      "No milestones in status yet (a controller records them as revisions start, promote or roll back).",
    );
  } else {
    lines.push("");
    lines.push(
      ...table([
        ["TIME", "WHAT", "REVISION", "BY", "DETAIL"].map((h) => s.bold(h)),
        ...entries.map((e) => [e.at, e.reason, e.revision, e.by, e.detail]),
      ]),
    );
  }
  ctx.out.write(`${lines.join("\n")}\n`);
  return 0;
}
