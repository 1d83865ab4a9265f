// How several values (Prometheus series, or the numbers a web metric's JSONPath selects) collapse into one.

/** How several values collapse into one (a metric's `reduce`). */
export type Reduce = "sum" | "avg" | "min" | "max";

/** `values` (finite, at least one) collapsed by `reduce`. */
export function reduceValues(values: readonly number[], reduce: Reduce): number {
  switch (reduce) {
    case "sum":
      return values.reduce((a, b) => a + b, 0);
    case "avg":
      return values.reduce((a, b) => a + b, 0) / values.length;
    case "min":
      return Math.min(...values);
    case "max":
      return Math.max(...values);
    default:
      throw new Error(`unknown reduce ${String(reduce)}`);
  }
}
