// The rollout engine: a pure function from (spec, status, observations, now) to the next status and the actions
// that move the world towards it. This file is the outer loop; each rule family lives in its own module
// (phases/, transitions, traffic, analysis-rules, requests, repair, status-conditions).

import { type Phase, REASONS } from "../api/constants.ts";
import type { RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { describeIssues } from "../api/validate.ts";
import { pruneHistory } from "./analysis-rules.ts";
import { syncAutoscaler } from "./autoscaling.ts";
import { observeChecks, syncCheckJobs } from "./checks.ts";
import { type Ctx, Draft } from "./draft.ts";
import {
  onInPlaceEnded,
  onInPlaceFinalizing,
  onInPlaceHealthy,
  onInPlaceInitializing,
  onInPlacePromoting,
} from "./in-place/phases.ts";
import { inPlaceView } from "./in-place/pods.ts";
import { recordManagedRoutes } from "./managed-routes.ts";
import { claimObjects, handBackRenamed } from "./ownership.ts";
import { onEnded } from "./phases/ended.ts";
import { onHealthy } from "./phases/healthy.ts";
import { onInFlight } from "./phases/in-flight.ts";
import { onInitializing } from "./phases/initializing.ts";
import { onFinalizing, onPromoting } from "./phases/promotion.ts";
import { ensureObjects, followReplicas, holdForLostPrimary, routeAllToPrimary } from "./repair.ts";
import { handleRequests } from "./requests.ts";
import { clipMessage, withinBudget } from "./status-budget.ts";
import { finishConditions } from "./status-conditions.ts";
import { expandSteps } from "./steps.ts";
import { pinAfter } from "./template-pin.ts";
import { IN_PLACE_POLL_MS, MISSING_TARGET_POLL_MS, WORKLOAD_POLL_MS } from "./timing.ts";
import type { Decision, Observations } from "./types.ts";

export { analysisDue, analysisRequired, nextAnalysisAt } from "./analysis-schedule.ts";
export { isReady } from "./draft.ts";
export { MISSING_TARGET_POLL_MS, ROUTE_POLL_MS, WORKLOAD_POLL_MS } from "./timing.ts";

/** The parts of a Rollout the engine reads. `spec` is undefined when it failed validation. */
export interface EngineInput {
  generation: number;
  spec: RolloutSpec | undefined;
  status: RolloutStatus | undefined;
  /**
   * When `spec` is the one pinned for the step under way (see pinnedSpec): the Rollout's templates resolved as they
   * are now, for a step that starts in this decision; null when they cannot be resolved now.
   */
  fresh?: RolloutSpec | null;
}

/** Phases that create or replace the primary themselves, so a missing one is theirs to handle. */
const USES_OWN_PRIMARY: readonly Phase[] = ["Initializing", "Promoting", "Finalizing"];

/** The phase rules of a Deployment target. */
const PHASE_RULES: Record<Phase, (ctx: Ctx) => void> = {
  Initializing: onInitializing,
  Healthy: onHealthy,
  Progressing: onInFlight,
  Paused: onInFlight,
  Promoting: onPromoting,
  Finalizing: onFinalizing,
  RolledBack: onEnded,
  Aborted: onEnded,
  Invalid: () => {},
};

/**
 * The phase rules of a StatefulSet or DaemonSet target, updated in place: the in-flight phases are the same rules;
 * the others differ where a Deployment's work is about its primary copy (src/rollout/in-place/).
 */
const IN_PLACE_RULES: Record<Phase, (ctx: Ctx) => void> = {
  ...PHASE_RULES,
  Initializing: onInPlaceInitializing,
  Healthy: onInPlaceHealthy,
  Promoting: onInPlacePromoting,
  Finalizing: onInPlaceFinalizing,
  RolledBack: onInPlaceEnded,
  Aborted: onInPlaceEnded,
};

/**
 * Decides what to do next. Pure: the same input always gives the same output, and applying the actions and
 * deciding again with the resulting observations yields no new actions.
 */
export function decide(input: EngineInput, observed: Observations, now: Date): Decision {
  const d = new Draft(structuredClone(input.status ?? {}), now);
  const obs = inPlaceView(observed, input.status);
  d.status.observedGeneration = input.generation;
  /**
   * `autoscale`: false while handing back, when the observed HPAs are of names not yet taken over. `checkJobs`: the
   * check Jobs are converged only on the full path, once the Rollout's objects are claimed.
   */
  let acted: RolloutSpec | undefined;
  const done = (autoscale = true, checkJobs = false): Decision => {
    if (autoscale) syncAutoscaler(d, obs);
    if (checkJobs) syncCheckJobs(d, obs);
    recordManagedRoutes(d.status, obs.managedRoutes);
    // Before the conditions, which read the spec the step is judged by (a pinned one where a template changed).
    if (acted) recordPin(d.status, input, acted);
    // The view again from the status this decision wrote (it may have taken the workload over).
    finishConditions(d, input.generation, inPlaceView(observed, d.status));
    const requeueAfterMs = d.requeueAfterMs();
    return {
      status: withinBudget(d.status),
      actions: d.actions(obs),
      ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    };
  };

  const invalid = obs.specIssues.length > 0 || !input.spec;
  if (invalid || !input.spec || obs.refusals.length > 0) {
    // A possibly bad canary must not keep its weight while the engine cannot judge it.
    const traffic = routeAllToPrimary(d, obs);
    const reason = invalid ? REASONS.InvalidSpec : (obs.refusals[0]?.reason ?? REASONS.InvalidSpec);
    const message = invalid
      ? `invalid spec, ${traffic}: ${describeIssues(obs.specIssues)}`
      : `refused, ${traffic}: ${obs.refusals.map((r) => r.message).join("; ")}`;
    if (d.phase !== "Invalid" || d.status.message !== clipMessage(message))
      d.event("Warning", reason, message);
    d.phase = "Invalid";
    d.say(reason, message);
    // Neither the objects refused nor the policy are watched: look again for the conflict to clear.
    if (!invalid) d.wakeIn(MISSING_TARGET_POLL_MS);
    return done();
  }
  const spec = input.spec;
  acted = spec;
  const ctx: Ctx = { d, spec, obs, steps: expandSteps(spec.strategy), generation: input.generation };
  pruneHistory(ctx);
  observeChecks(ctx);

  if (d.phase === "Invalid") {
    // The spec is valid again: resume from the last stable state; a pending revision restarts from step 0. A
    // promotion the invalid spec interrupted after the primary took the canary's template is finished instead:
    // rolling that revision out again would canary it against itself while status named the old one stable.
    const { canaryRevision, stableRevision } = d.status;
    const promoted = canaryRevision !== stableRevision && obs.primary.revision === canaryRevision;
    d.phase = canaryRevision && promoted ? "Promoting" : stableRevision ? "Healthy" : "Initializing";
  }
  // Renamed target or Service: the old ones go back first, whatever the new ones look like.
  if (handBackRenamed(ctx)) return done(false);
  if (!obs.canary.exists || !obs.canary.revision) {
    // The canary backend has no pods any more: keeping its weight would black-hole that share of traffic.
    const message = `target ${spec.targetRef.kind} ${spec.targetRef.name} not found; ${routeAllToPrimary(d, obs)}`;
    if (d.status.message !== clipMessage(message)) d.event("Warning", REASONS.TargetNotFound, message);
    d.say(REASONS.TargetNotFound, message);
    d.wakeIn(MISSING_TARGET_POLL_MS);
    return done();
  }

  claimObjects(ctx);
  if (!sameKind(d, obs)) {
    // The target's kind changed (not while in flight: admission refuses that): take it over afresh.
    delete d.status.workload;
    d.phase = "Initializing";
  }
  handleRequests(ctx);
  if (!obs.inPlace) followReplicas(ctx);
  const rules = obs.inPlace ? IN_PLACE_RULES : PHASE_RULES;
  // The one loop that moves between phases: the rules of each phase the rollout enters run until it settles, so one
  // decision says everything the current observations allow and deciding again on its own status changes nothing.
  // (Initializing → Healthy → Progressing → Promoting → Finalizing → Healthy is the longest chain.) A primary lost
  // for good stops the loop in whichever phase finds it, so the phase a decision settles in is judged the same way
  // the next decision will judge it.
  for (let pass = 0; pass < 8; pass++) {
    const phase: Phase = d.phase;
    if (!obs.inPlace && !USES_OWN_PRIMARY.includes(phase) && holdForLostPrimary(ctx)) {
      d.wakeIn(WORKLOAD_POLL_MS);
      return done();
    }
    rules[phase](ctx);
    if (d.phase === phase) break;
  }
  // Whatever phase the rollout settled in, the objects it owns are converged (Initializing creates its own).
  if (d.phase !== "Initializing" && !obs.inPlace) ensureObjects(ctx);
  if (obs.inPlace) d.wakeIn(IN_PLACE_POLL_MS);
  return done(true, true);
}

/** Records lastValidSpec and the template pin for the step `status` is at (see pinAfter). */
function recordPin(status: RolloutStatus, input: EngineInput, spec: RolloutSpec): void {
  const { lastValidSpec, templatePin } = pinAfter(input.status, status, input.generation, spec, input.fresh);
  status.lastValidSpec = lastValidSpec;
  if (templatePin) status.templatePin = templatePin;
  else delete status.templatePin;
}

/** Whether status was written for the target's kind: `status.workload` exists exactly for in-place targets. */
function sameKind(d: Draft, obs: Observations): boolean {
  const recorded = d.status.workload?.kind;
  if (d.phase === "Initializing" || d.status.stableRevision === undefined) return true;
  return obs.inPlace ? recorded === obs.inPlace.kind : recorded === undefined;
}
