// Measurements of real RPCs through istiod's routes: reaction to a weight write, served share, failures.
import type { Counts } from "../dataplane/load.ts";
import type { Slice } from "../support/traffic-timeline.ts";
import { type GrpcLoad, type Outcome, tally } from "./grpc-load.ts";

/** Canary share (percent) of the answered RPCs among `outcomes`. */
export function canaryShare(outcomes: readonly Outcome[], canary: string): { share: number; n: number } {
  const t = tally(outcomes);
  const n = t.ok;
  return { share: n === 0 ? Number.NaN : (100 * (t.byWorkload.get(canary) ?? 0)) / n, n };
}

/**
 * When a stream of RPCs switched from `previous` to `next` % canary: the start of the RPC that best splits the
 * answered ones into a run at `previous` and a run at `next` (maximum likelihood of two Bernoulli runs with those
 * known shares; one RPC of resolution), no earlier than `notBefore`.
 */
export function switchAt(
  outcomes: readonly Outcome[],
  canary: string,
  previous: number,
  next: number,
  notBefore: number,
): number {
  const xs = outcomes.filter((o) => o.code === 0);
  const p = (w: number) => Math.min(0.999, Math.max(0.001, w / 100));
  const ll = (isCanary: boolean, w: number) => Math.log(isCanary ? p(w) : 1 - p(w));
  // Split before RPC i: RPCs [0, i) at `previous`, [i, n) at `next`.
  let score = xs.reduce((sum, x) => sum + ll(x.workload === canary, next), 0);
  let best = { score: Number.NEGATIVE_INFINITY, at: notBefore };
  for (let i = 0; i <= xs.length; i++) {
    const at = xs[i]?.at ?? xs.at(-1)?.at ?? notBefore;
    if (at >= notBefore && score > best.score) best = { score, at };
    const x = xs[i];
    if (x) score += ll(x.workload === canary, previous) - ll(x.workload === canary, next);
  }
  return best.at;
}

/**
 * Milliseconds from `since` (a weight write) until the proxyless client served the new weight ({@link switchAt}
 * over [since − 1 s, since + `spanMs`)); waits until the client recorded that span.
 */
export async function reactionMs(
  load: GrpcLoad,
  canary: string,
  previous: number,
  next: number,
  since: number,
  spanMs = 4000,
): Promise<number> {
  while (Date.now() < since + spanMs + 500) await new Promise((r) => setTimeout(r, 200));
  await load.refresh();
  return switchAt(load.between(since - 1000, since + spanMs), canary, previous, next, since) - since;
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

/**
 * The client's deadline per RPC (xdsprobe client's --timeout default, 2 s) and half a second for it to record the
 * outcome: an RPC started longer ago than this is in the client's results.
 */
const SETTLED_MS = 2500;

/**
 * Waits until `workload` answered more than `perSecond` RPCs in one whole second of the client's. The second
 * counted is the one that ended an RPC deadline ago, so every RPC in it has finished: counting the last second
 * instead missed every RPC still in flight and every one that finished during the fetch, a shortfall of
 * (latency + fetch time) × rate that grows with the machine's load, not with anything routing does.
 * On timeout the error says what the client saw.
 */
export async function waitForAnswers(load: GrpcLoad, workload: string, perSecond: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const end = Date.now() - SETTLED_MS;
    await load.refresh();
    const window = load.between(end - 1000, end);
    const second = tally(window);
    if ((second.byWorkload.get(workload) ?? 0) > perSecond) return;
    if (Date.now() > deadline) {
      const answered = [...second.byWorkload].map(([w, n]) => `${w} ${n}`).join(", ") || "none";
      const ms = window.map((x) => x.durationMs).sort((a, b) => a - b);
      throw new Error(
        `${workload} never answered ${perSecond} RPCs a second; the last whole second: ${second.total} RPCs, ` +
          `answered by ${answered}, median ${ms[ms.length >> 1] ?? "-"} ms, ${failureSummary(second.failed) || "none failed"}; ` +
          `client skipped ${load.skipped()} ticks`,
      );
    }
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

/**
 * RPC outcomes of a root and a preview client from `from` on, as the traffic timeline's 100 ms slices (each stamped
 * with its end, like a live timeline's sample): an answered RPC counts as a 2xx of the workload that answered, a
 * failed one as a failure of no workload, so the timeline's summaries read gRPC as they read HTTP.
 */
export function grpcSlices(root: readonly Outcome[], preview: readonly Outcome[], from: number): Slice[] {
  const slices: Slice[] = [];
  const empty = (): Counts => ({ byApp: new Map(), total: 0, transportErrors: 0 });
  const add = (side: "root" | "preview", x: Outcome) => {
    if (x.at < from) return;
    const i = Math.floor((x.at - from) / 100);
    for (let j = slices.length; j <= i; j++)
      slices.push({ at: from + (j + 1) * 100, root: empty(), preview: empty() });
    const c = (slices[i] as Slice)[side];
    const app = x.code === 0 ? x.workload : "";
    const cls = x.code === 0 ? "2xx" : `grpc ${x.code}`;
    const classes = c.byApp.get(app) ?? new Map<string, number>();
    classes.set(cls, (classes.get(cls) ?? 0) + 1);
    c.byApp.set(app, classes);
    c.total++;
  };
  for (const x of root) add("root", x);
  for (const x of preview) add("preview", x);
  return slices;
}
