// Measurements of real RPCs through istiod's routes: reaction to a weight write, served share, failures.
import { type GrpcLoad, type Outcome, tally } from "./grpc-load.ts";

/** Canary share (percent) of the answered RPCs among `outcomes`. */
export function canaryShare(outcomes: readonly Outcome[], canary: string): { share: number; n: number } {
  const t = tally(outcomes);
  const n = t.ok;
  return { share: n === 0 ? Number.NaN : (100 * (t.byWorkload.get(canary) ?? 0)) / n, n };
}

/**
 * Milliseconds from `since` to the start of the first run of `window` RPCs (started after `since`) whose canary
 * share is nearer `next` than `previous`: when the proxyless client began serving the new weight.
 */
export async function reactionMs(
  load: GrpcLoad,
  canary: string,
  previous: number,
  next: number,
  since: number,
  opts: { window?: number; timeoutMs?: number } = {},
): Promise<number> {
  const window = opts.window ?? 40;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    await load.refresh();
    const after = load.between(since).filter((o) => o.code === 0);
    for (let i = 0; i + window <= after.length; i += 5) {
      const { share } = canaryShare(after.slice(i, i + window), canary);
      if (Math.abs(share - next) < Math.abs(share - previous)) return (after[i]?.at ?? since) - since;
    }
    if (Date.now() > deadline)
      throw new Error(`the client never moved from ${previous} % to ${next} % canary`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Whether a served share is consistent with weight `w` over `n` picks: within 4 standard deviations of the
 * binomial (gRPC picks a weighted cluster per RPC), plus one RPC of rounding.
 */
export function withinBinomial(share: number, w: number, n: number): boolean {
  const p = w / 100;
  const sd = 100 * Math.sqrt((p * (1 - p)) / Math.max(n, 1));
  return Math.abs(share - w) <= 4 * sd + 100 / Math.max(n, 1);
}

/** Waits until `workload` answered more than `perSecond` RPCs of the client's last second. */
export async function waitForAnswers(load: GrpcLoad, workload: string, perSecond: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await load.refresh();
    if ((tally(load.between(Date.now() - 1000)).byWorkload.get(workload) ?? 0) > perSecond) return;
    if (Date.now() > deadline) throw new Error(`${workload} never answered ${perSecond} RPCs a second`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Failed RPCs grouped by message, most frequent first, for reports. */
export function failureSummary(failed: readonly Outcome[]): string {
  const by = new Map<string, number>();
  for (const f of failed)
    by.set(`${f.code} ${f.error.slice(0, 160)}`, (by.get(`${f.code} ${f.error.slice(0, 160)}`) ?? 0) + 1);
  return [...by.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${n}× ${m}`)
    .join("; ");
}
