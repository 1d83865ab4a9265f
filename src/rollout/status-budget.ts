// Keeps a Rollout's status within a size budget, so every status write still fits in etcd beside the spec, its copy
// in lastValidSpec and kubectl's last-applied annotation: messages are clipped, and the oldest analysis history goes
// first once the status would outgrow its share.

import type { RolloutStatus } from "../api/rollout-schema.ts";

/**
 * Bytes of JSON the status may take, `lastValidSpec` aside (the spec's schema bounds that copy). etcd refuses a
 * request above 1.5 MiB; the object also holds the spec (at most 263 KiB at every schema bound), its copy in
 * lastValidSpec, the annotations (at most 256 KiB, kubectl's last-applied copy among them) and metadata, which
 * leaves status a fifth of the limit and 64 KiB for metadata with 370 KiB to spare (status-budget.test.ts
 * does the sum).
 */
export const STATUS_BUDGET_BYTES = 320 * 1024;

/** Characters of a message (status.message, a condition's) that status keeps; the rest becomes an ellipsis. */
export const MESSAGE_LIMIT = 2048;

/** `text` cut to `limit` characters, the cut marked with an ellipsis. */
export function clipMessage(text: string, limit = MESSAGE_LIMIT): string {
  if (text.length <= limit) return text;
  let end = limit - 1;
  // Never leave half of a surrogate pair: JSON would carry a lone surrogate.
  if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end)}…`;
}

/** Size of `status` as the API server stores it (JSON, UTF-8), without `lastValidSpec`. */
export function statusBytes(status: RolloutStatus): number {
  const { lastValidSpec: _boundedBySchema, ...rest } = status;
  return Buffer.byteLength(JSON.stringify(rest));
}

/**
 * `status` within {@link STATUS_BUDGET_BYTES}: the oldest history entries are dropped first, the newest of each
 * metric last (the sequential judge carries its evidence forward from it). Returns `status` itself when it fits.
 */
export function withinBudget(status: RolloutStatus, budget = STATUS_BUDGET_BYTES): RolloutStatus {
  let excess = statusBytes(status) - budget;
  const history = status.analysis?.history ?? [];
  if (excess <= 0 || history.length === 0) return status;
  const sizes = history.map((m) => Buffer.byteLength(JSON.stringify(m)) + 1); // + the comma between entries
  const newestOf = new Set<number>();
  const seen = new Set<string>();
  for (let i = history.length - 1; i >= 0; i--) {
    if (seen.has(history[i]!.metric)) continue;
    seen.add(history[i]!.metric);
    newestOf.add(i);
  }
  const dropped = new Set<number>();
  for (const spare of [false, true]) {
    for (let i = 0; i < history.length && excess > 0; i++) {
      if (dropped.has(i) || (!spare && newestOf.has(i))) continue;
      dropped.add(i);
      excess -= sizes[i]!;
    }
  }
  const analysis = { ...status.analysis!, history: history.filter((_, i) => !dropped.has(i)) };
  return { ...status, analysis };
}
