// The load generator's own Prometheus metrics: runs by outcome, runs sending, requests by how they ended, targets
// the egress policy refused.
import { Counter, Gauge, Registry } from "prom-client";
import { LOAD_OUTCOMES, LOAD_REFUSED_AT, type LoadOutcome, type LoadRefusedAt } from "../api/loadgen.ts";

/** Answers to check calls, as `vireo_loadgen_runs_total{outcome}` counts them. */
export type RunAnswer = "started" | "existing" | "refused" | "busy";

/** The load generator's registry and its series. */
export class LoadgenMetrics {
  readonly registry = new Registry();
  readonly #runs = new Counter({
    name: "vireo_loadgen_runs_total",
    help: "Check calls by answer: started a run, got the run of the same Idempotency-Key, refused, busy.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly #requests = new Counter({
    name: "vireo_loadgen_requests_total",
    help: "Generated requests by how they ended: status class, timeout or network failure.",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly #skipped = new Counter({
    name: "vireo_loadgen_requests_skipped_total",
    help: "Requests not sent because the run's cap on requests in flight was reached.",
    registers: [this.registry],
  });
  readonly #refusedTargets = new Counter({
    name: "vireo_loadgen_targets_refused_total",
    help: "Load targets the egress policy refused: at the check's call (no run), or at connect time (run stopped).",
    labelNames: ["at"] as const,
    registers: [this.registry],
  });
  readonly active: Gauge;

  /** @param active reads the number of runs sending, at scrape time */
  constructor(active: () => number) {
    this.active = new Gauge({
      name: "vireo_loadgen_active_runs",
      help: "Runs sending load now.",
      registers: [this.registry],
      collect() {
        this.set(active());
      },
    });
    for (const o of LOAD_OUTCOMES) this.#requests.inc({ outcome: o }, 0);
    for (const at of LOAD_REFUSED_AT) this.#refusedTargets.inc({ at }, 0);
  }

  /** Counts one answer to a check call. */
  answered(outcome: RunAnswer): void {
    this.#runs.inc({ outcome });
  }

  /** Counts one answered generated request. */
  request(outcome: LoadOutcome): void {
    this.#requests.inc({ outcome });
  }

  /** Counts one target the egress policy refused. */
  targetRefused(at: LoadRefusedAt): void {
    this.#refusedTargets.inc({ at });
  }

  /** Counts one skipped request. */
  skipped(): void {
    this.#skipped.inc();
  }
}
