// Adapts informers (and the elector) to the telemetry server's /healthz and /readyz checks.
import type { Check } from "../telemetry/http-server.ts";

/** The informer surface probes need. */
export interface ProbedInformer {
  hasSynced(): boolean;
  health(): true | string;
}

/** `/healthz` check: fails when any informer's watchdog could not restore list/watch activity. */
export function informersHealthyCheck(informers: readonly ProbedInformer[]): Check {
  return {
    name: "informers-watchdog",
    check: () => {
      const bad = informers.map((i) => i.health()).filter((h): h is string => h !== true);
      return bad.length === 0 ? true : bad.join("; ");
    },
  };
}

/**
 * `/readyz` check: passes once every informer has synced. Deliberately independent of leadership —
 * a standby replica is ready (it must be able to take over), it just does not reconcile.
 */
export function informersSyncedCheck(informers: readonly ProbedInformer[]): Check {
  return {
    name: "informers-synced",
    check: () => {
      const pending = informers.filter((i) => !i.hasSynced()).length;
      return pending === 0 ? true : `${pending} of ${informers.length} informers not synced`;
    },
  };
}
