// The analysis a detection run uses on the Vireo side, and the simulator behaviours of a healthy and a bad canary
// (shared by bench:detection and bench:compare so both measure the same thing).
import type { Behaviour } from "../../e2e/simulator/backend.ts";

/** Prometheus scrapes the simulator every second (the harness's global scrape interval). */
export const SCRAPE_MS = 1000;

/**
 * The canary's weights in bench:compare's detection runs: 1 % more per passing tick from 20 % to 50 %, the same for
 * both controllers, so the canary is mid-rollout at about 20 % for 30 intervals. (Flagger has no step that holds
 * still while its checks run.)
 */
export const DETECTION_WEIGHTS: readonly number[] = Array.from({ length: 31 }, (_, i) => 20 + i);

/** A healthy backend: no errors, ~20 ms. */
export const HEALTHY: Partial<Behaviour> = { errorRate: 0, latencyMs: 20, jitterMs: 5 };

/** The bad canary: `errorRate` of its requests fail with a 5xx. */
export function bad(errorRate: number): Partial<Behaviour> {
  if (!(errorRate > 0 && errorRate <= 1))
    throw new RangeError(`error rate must be in (0, 1], got ${errorRate}`);
  return { errorRate };
}

/**
 * Vireo's analysis for a detection run: the builtin request-success-rate (Linkerd's `response_total` with
 * `--metrics-mesh=linkerd`) ≥ 99 % over `window`, checked every `interval`, rolled back on the first failure.
 */
export function vireoDetectionAnalysis(interval: string, window: string): Record<string, unknown> {
  return {
    interval,
    failureLimit: 1,
    metrics: [{ name: "success", builtin: "request-success-rate", window, thresholdRange: { min: 99 } }],
  };
}

/** Controller flags for a detection run against the cluster's Prometheus. */
export function vireoDetectionArgs(prometheusUrl: string): string[] {
  return [
    `--prometheus-url=${prometheusUrl}`,
    "--metrics-mesh=linkerd",
    `--prometheus-scrape-interval=${SCRAPE_MS}ms`,
  ];
}
