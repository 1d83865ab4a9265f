// promote/abort/pause/resume/retry/approve: write the request annotation with a fresh value, wait for the controller's
// acknowledgement in status.handledRequests, and say what happened (or why it was ignored).

import { ANNOTATIONS, REASONS, type RequestKind } from "../../api/constants.ts";
import { displayText } from "../../api/display-text.ts";
import type { Rollout } from "../../api/rollout-schema.ts";
import { expandSteps } from "../../rollout/steps.ts";
import type { Args } from "../args.ts";
import { connect } from "../context.ts";
import { ApiError, CliError } from "../errors.ts";
import type { KubeClient } from "../kube-client.ts";
import { getRollout, requestValue, waitingApproval, watchRollouts, writeRequest } from "../rollout-api.ts";

/** Exit code when the controller acknowledged but ignored the request. */
export const EXIT_IGNORED = 3;
/** Exit code when the controller did not acknowledge within --timeout. */
export const EXIT_TIMEOUT = 4;

/** What a request led to, as decided from the status before and after (milestones included). */
export interface Outcome {
  ignored?: string;
  summary: string;
}

function where(r: Rollout): string {
  const st = r.status ?? {};
  const steps = expandSteps(r.spec.strategy).length;
  const inFlight = ["Progressing", "Paused"].includes(st.phase ?? "");
  return `${st.phase ?? "Unknown"}${inFlight ? ` step ${(st.currentStepIndex ?? 0) + 1}/${steps}` : ""} weight ${st.canaryWeight ?? 0}%`;
}

/**
 * Describes the change a request made: "Paused step 2/4 weight 10% → Progressing step 3/4 weight 40%", or why the
 * controller ignored it: its RequestIgnored milestone, written in the same status update that acknowledged the
 * request (an Event saying so could be anyone's).
 */
export function describeOutcome(kind: RequestKind, before: Rollout, after: Rollout): Outcome {
  const earlier = new Set((before.status?.milestones ?? []).map((m) => JSON.stringify(m)));
  const ignored = (after.status?.milestones ?? []).findLast(
    (m) =>
      !earlier.has(JSON.stringify(m)) &&
      m.reason === REASONS.RequestIgnored &&
      m.message.startsWith(`${kind} request ignored`),
  );
  if (ignored) {
    const why = displayText(ignored.message.replace(`${kind} request ignored: `, ""));
    return { ignored: why, summary: `ignored: ${why}` };
  }
  const from = where(before);
  const to = where(after);
  return { summary: from === to ? `acknowledged; still ${to}` : `${from} → ${to}` };
}

/** Waits until status.handledRequests[kind] equals `value`; returns the acknowledging Rollout. */
async function waitForAck(
  kube: KubeClient,
  written: Rollout,
  kind: RequestKind,
  value: string,
  timeoutMs: number,
): Promise<Rollout | undefined> {
  const { namespace, name } = written.metadata;
  const acked = (r: Rollout) => r.status?.handledRequests?.[kind] === value;
  if (acked(written)) return written;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  let found: Rollout | undefined;
  let resourceVersion = written.metadata.resourceVersion;
  try {
    while (!stop.signal.aborted && !found) {
      try {
        await watchRollouts(kube, { namespace, name, resourceVersion, signal: stop.signal }, (e) => {
          if (e.type === "ERROR") {
            resourceVersion = undefined;
            return;
          }
          resourceVersion = e.object.metadata.resourceVersion;
          if (e.type !== "BOOKMARK" && acked(e.object)) {
            found = e.object;
            stop.abort();
          }
        });
      } catch (err) {
        if (stop.signal.aborted) break;
        if (err instanceof ApiError && err.status !== 410) throw err;
        resourceVersion = undefined;
      }
      if (!found && !stop.signal.aborted && resourceVersion === undefined) {
        const now = await getRollout(kube, namespace, name);
        if (acked(now)) found = now;
        resourceVersion = now.metadata.resourceVersion;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  return found;
}

/** Runs one steering command. */
export async function steer(args: Args, kind: RequestKind): Promise<number> {
  const ctx = await connect(args);
  const name = args.positional[0];
  if (!name) throw new CliError(`usage: kubectl vireo ${kind} NAME [-n NAMESPACE]`, 2);
  if (args.full && kind !== "promote") throw new CliError("--full only applies to promote", 2);
  const before = await getRollout(ctx.kube, ctx.namespace, name);
  const check = kind === "approve" ? (args.positional[1] ?? waitingApproval(before)) : undefined;
  const value = requestValue(kind, { full: args.full, ...(check ? { check } : {}), now: ctx.now() });
  const written = await writeRequest(ctx.kube, ctx.namespace, name, kind, value);
  const annotation = `${ANNOTATIONS[kind]}=${value}`;
  if (!args.wait) {
    ctx.out.write(`requested ${kind} of ${ctx.namespace}/${name} (${annotation}); not waiting\n`);
    return 0;
  }
  const acked = await waitForAck(ctx.kube, written, kind, value, args.timeoutMs);
  if (!acked) {
    process.stderr.write(
      `error: the controller did not acknowledge ${annotation} on ${ctx.namespace}/${name} within ${args.timeoutMs / 1000}s (is it running and watching this namespace?)\n`,
    );
    return EXIT_TIMEOUT;
  }
  const outcome = describeOutcome(kind, before, acked);
  ctx.out.write(`${kind} ${ctx.namespace}/${name} (${annotation}): ${outcome.summary}\n`);
  return outcome.ignored ? EXIT_IGNORED : 0;
}
