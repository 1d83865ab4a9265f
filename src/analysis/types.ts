// Shared analysis vocabulary: what a provider measured and what the verdict logic concluded.

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
}
