// Shared analysis vocabulary: what a provider measured and what the verdict logic concluded.
import type { Measurement } from "../api/rollout-schema.ts";
import type { Bucket } from "./judge-latency.ts";
import type { ArmCounts } from "./judge-sequential-counts.ts";

/** Outcome of one metric at one tick. */
export type Verdict = "Pass" | "Fail" | "Inconclusive" | "Error";

/**
 * What the provider measured for one metric in one tick. `value: null` means "no data" (empty result, NaN, ±Inf);
 * `error` means the metric could not be evaluated (network, bad query, several series).
 */
export interface MetricMeasurement {
  metric: string;
  value: number | null;
  /** The primary's value, present only for metrics with compareToPrimary. */
  primaryValue?: number | null;
  /** For judge: sequential on request-success-rate: requests and errors of each workload since the step started. */
  counts?: { canary: ArmCounts; primary: ArmCounts };
  /** For judge: sequential on request-duration: cumulative latency buckets of each workload since the step started. */
  buckets?: { canary: Bucket[]; primary: Bucket[] };
  error?: string;
}

/** A measurement judged against its metric's thresholds. */
export interface MetricResult {
  metric: string;
  verdict: Verdict;
  value?: number;
  primaryValue?: number;
  /** The bound in words, e.g. ">= 99" or "<= 1.2 × primary (240)". */
  threshold: string;
  message?: string;
  /** What the sequential judge saw (judge: sequential). */
  sequential?: NonNullable<Measurement["sequential"]>;
  /** A Fail that needs no repetition: the sequential judge's error guarantee is for its first crossing. */
  conclusive?: boolean;
  /**
   * Inconclusive only because the sequential judge is still gathering evidence: traffic is there, so it is not "no
   * data" and does not count towards inconclusiveLimit; maxStepDuration bounds the wait instead.
   */
  gathering?: boolean;
}
