// The Ready, Progressing and Degraded conditions and the summary message, from the phase the decision settled in.

import { CONDITION_TYPES, REASONS } from "../api/constants.ts";
import { setCondition } from "./conditions.ts";
import type { Draft } from "./draft.ts";
import { readiness } from "./readiness.ts";
import type { Observations } from "./types.ts";

/**
 * Writes the three conditions and the summary message from the final phase. Ready also needs the world to be as
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
  const ready = phaseReady && notReady === undefined;
  const progressing = ["Progressing", "Promoting", "Finalizing", "Initializing"].includes(phase) && !degraded;
  if (notReady) {
    set(CONDITION_TYPES.ready, "False", notReady.reason, notReady.message);
    d.wakeIn(notReady.recheckMs);
  } else set(CONDITION_TYPES.ready, ready ? "True" : "False", ready && !degraded ? phase : d.reason, msg);
  set(CONDITION_TYPES.progressing, progressing ? "True" : "False", d.reason, msg);
  if (degraded) {
    set(CONDITION_TYPES.degraded, "True", d.reason, msg);
  } else {
    set(CONDITION_TYPES.degraded, "False", REASONS.Healthy, "no problem detected");
  }
  s.message = msg;
}
