// People's requests (vireo.dev/promote, abort, pause, resume, retry): each new annotation value is acted on once.

import { createHash } from "node:crypto";
import { isFullPromote, REASONS } from "../api/constants.ts";
import { approve, skipGates, startHooks } from "./checks.ts";
import { type Ctx, IN_FLIGHT, isReady } from "./draft.ts";
import { markForRestore } from "./in-place/converge.ts";
import { advance, enterStep, pause, resumeFromPause, startPromotion, startRollout } from "./transitions.ts";

/** Longest annotation value kept in `status.handledRequests` as it is; a longer one is kept as its digest. */
const REQUEST_VALUE_LIMIT = 253;

/**
 * The form a request value is remembered in: itself, or `sha256:<hex>` when long, so five annotations of up to
 * 256 KiB together cannot make status outgrow its budget. Either way a new value is a new request.
 */
function recordable(value: string | undefined): string | undefined {
  if (value === undefined || value.length <= REQUEST_VALUE_LIMIT) return value;
  return `sha256:${createHash("sha256").update(value).digest("hex")}`;
}

/** Acts on new annotation values, once each. Runs before the phase rules so a request wins over a timer. */
export function handleRequests(ctx: Ctx): void {
  const { d, obs } = ctx;
  const ignore = (what: string, why: string) =>
    d.event("Normal", REASONS.RequestIgnored, `${what} request ignored: ${why} (phase ${d.phase})`);
  const take = (kind: "promote" | "abort" | "pause" | "resume" | "retry" | "approve"): string | undefined => {
    const value = obs.requests[kind];
    const recorded = recordable(value);
    if (value === undefined || recorded === d.status.handledRequests?.[kind]) return undefined;
    d.status.handledRequests = { ...d.status.handledRequests, [kind]: recorded };
    return value;
  };

  if (take("abort") !== undefined) {
    if (IN_FLIGHT.includes(d.phase)) {
      const message = `aborted by request at step ${(d.status.currentStepIndex ?? 0) + 1}; traffic back to primary`;
      d.phase = "Aborted";
      markForRestore(ctx);
      delete d.status.waitingSince;
      d.say(REASONS.Aborted, message);
      d.event("Warning", REASONS.Aborted, message);
      d.notify("Aborted", "warning", message, "once");
      skipGates(ctx, "the rollout was aborted");
      startHooks(ctx, "onAbort");
    } else if (d.phase === "Promoting" || d.phase === "Finalizing") {
      ignore("abort", "the new revision is already being promoted to primary");
    } else {
      ignore("abort", "no rollout in flight");
    }
  }

  const retry = take("retry");
  if (retry !== undefined) {
    const rev = d.status.canaryRevision;
    if ((d.phase === "RolledBack" || d.phase === "Aborted") && rev && rev === obs.canary.revision) {
      startRollout(ctx, rev, REASONS.Retried, `retrying rollout of ${rev} from the first step`);
    } else {
      ignore("retry", "only a rolled-back or aborted rollout of the current revision can be retried");
    }
  }

  if (take("pause") !== undefined) {
    if (d.phase === "Progressing") pause(ctx, "UserRequest", "paused by request; vireo.dev/resume continues");
    else ignore("pause", d.phase === "Paused" ? "already paused" : "no rollout in flight");
  }

  if (take("resume") !== undefined) {
    if (d.phase !== "Paused") ignore("resume", "not paused");
    else if (d.status.pauseReason === "WindowClosed" || !obs.window.open)
      ignore("resume", "a deployment window is closed");
    else resumeFromPause(ctx, "resumed by request");
  }

  const approval = take("approve");
  if (approval !== undefined) {
    const why = approve(ctx, approval);
    if (why) ignore("approve", why);
  }

  const promote = take("promote");
  if (promote !== undefined) {
    if (!IN_FLIGHT.includes(d.phase)) ignore("promote", "no rollout in flight");
    else if (d.status.pauseReason === "WindowClosed" || !obs.window.open)
      ignore("promote", "a deployment window is closed");
    else if (obs.canary.revision !== d.status.canaryRevision)
      ignore("promote", `the target runs ${obs.canary.revision}, not the revision in flight`);
    else if (!isReady(obs.canary)) ignore("promote", "the canary is not ready");
    else if (isFullPromote(promote)) {
      d.phase = "Progressing";
      skipGates(ctx, "promoted by request (full)");
      startPromotion(
        ctx,
        "User",
        `promoted by request (full): skipping remaining steps of ${d.status.canaryRevision}`,
      );
    } else {
      d.phase = "Progressing";
      skipGates(ctx, "promoted past it by request");
      const past = (d.status.currentStepIndex ?? 0) + 1;
      // Past the last step, advance() starts the promotion and its PromotedByUser Event says so: one decision,
      // one Event.
      if (past < ctx.steps.length)
        d.event("Normal", REASONS.PromotedByUser, `promoted past step ${past} by request`);
      if (d.status.stepStartedAt === undefined) enterStep(ctx, d.status.currentStepIndex ?? 0);
      advance(ctx, "User");
    }
  }
}
