// The conditions (kstatus Ready, Reconciling, Stalled; Progressing, Degraded), the summary message and the revision
// they are about, from the phase the decision settled in.

import { CONDITION_TYPES, REASONS } from "../api/constants.ts";
import { setCondition } from "./conditions.ts";
import type { Draft } from "./draft.ts";
import { setInsufficientTraffic } from "./evidence-budget.ts";
import { readiness } from "./readiness.ts";
import { clipMessage } from "./status-budget.ts";
import type { Observations } from "./types.ts";

/**
 * Writes the conditions and the summary message from the final phase. `Ready`, `Reconciling` and `Stalled` mean
 * what kstatus says (Ready = not Reconciling and not Stalled), so `kubectl wait --for=condition=Ready`, Flux health
 * checks and Argo CD see a release as done only when the target's current revision is stable and served as
 * intended; `Progressing` and `Degraded` say more about the way there. Ready also needs the world to be as
 * intended (primary serving, Services and routes in place), so a deleted primary never reads Ready=True.
 */
export function finishConditions(d: Draft, generation: number, obs: Observations): void {
  const s = d.status;
  const set = (type: string, status: "True" | "False", reason: string, message: string) => {
    s.conditions = setCondition(s.conditions, { type, status, reason, message }, generation, d.now);
  };
  const msg = d.message || d.reason;
  const phase = d.phase;
  const degraded =
    ["RolledBack", "Aborted", "Invalid"].includes(phase) ||
    d.reason === REASONS.TargetNotFound ||
    d.reason === REASONS.PrimaryLost;
  const phaseReady = !["Initializing", "Invalid"].includes(phase) && d.reason !== REASONS.TargetNotFound;
  const notReady = phaseReady ? readiness(d.status, obs) : undefined;
  // Done with the target's current revision: Healthy on it (not merely holding it back behind a window or a suspend).
  const settled =
    phase === "Healthy" && notReady === undefined && obs.canary.revision === s.stableRevision && !degraded;
  const progressing = ["Progressing", "Promoting", "Finalizing", "Initializing"].includes(phase) && !degraded;
  if (notReady) d.wakeIn(notReady.recheckMs);
  const why = notReady ?? { reason: d.reason, message: msg };
  if (settled) set(CONDITION_TYPES.ready, "True", phase, msg);
  else set(CONDITION_TYPES.ready, "False", why.reason, why.message);
  if (settled || degraded) set(CONDITION_TYPES.reconciling, "False", degraded ? d.reason : phase, msg);
  else set(CONDITION_TYPES.reconciling, "True", why.reason, why.message);
  set(CONDITION_TYPES.progressing, progressing ? "True" : "False", d.reason, msg);
  if (degraded) {
    set(CONDITION_TYPES.stalled, "True", d.reason, msg);
    set(CONDITION_TYPES.degraded, "True", d.reason, msg);
  } else {
    set(CONDITION_TYPES.stalled, "False", REASONS.Healthy, "no problem detected");
    set(CONDITION_TYPES.degraded, "False", REASONS.Healthy, "no problem detected");
  }
  setInsufficientTraffic(d, generation);
  s.message = clipMessage(msg);
  // The revision this status is about, so CI can wait for its own release (docs/gitops-ci-hpa.md#did-my-revision-succeed-ci).
  if (obs.canary.revision !== undefined) s.currentRevision = obs.canary.revision;
  if (obs.canary.generation !== undefined) s.observedTargetGeneration = obs.canary.generation;
}
