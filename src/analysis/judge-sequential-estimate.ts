// Pure estimate of how many canary requests a step still needs before the sequential judge can pass it, from the
// rates observed so far: what status.analysis.evidence and the InsufficientTraffic condition are computed from.
//
// The estimate assumes the canary is as good as the primary (the common case, and the longest way to a verdict a
// good canary takes; a clearly worse canary usually fails sooner). Under that assumption each event lands on the
// canary with probability s (its share), there are p/s events per canary request (p the pooled event rate), and the
// pass test's log-evidence grows on average by KL(s ‖ θ0') per event — the Kullback–Leibler divergence between
// "lands on the canary with probability s" and the pass null θ0'. The floor test grows by
// p·log(1/4) + (1 − p)·log((1 − floor/4)/(1 − floor)) per canary request. Wald's approximation then says the
// remaining log-evidence divided by the drift is the expected number of requests still needed; the faster of the
// two pass tests wins (each needs its share of the pass rule's weight).
import {
  type ArmCounts,
  cleanCounts,
  FLOOR_ALTERNATIVE,
  nullCanaryShare,
  passWeights,
  type SequentialJudgement,
  type SequentialSettings,
} from "./judge-sequential-counts.ts";

/** KL(a ‖ b) of two Bernoulli distributions, in nats. */
function bernoulliKL(a: number, b: number): number {
  const term = (x: number, y: number) => (x <= 0 ? 0 : x * Math.log(x / y));
  return term(a, b) + term(1 - a, 1 - b);
}

/**
 * Canary requests the current step needs in all (those seen plus those still to come) before a canary as good as
 * the primary passes, at the rates seen so far; the requests seen once it has passed; Infinity when no amount of
 * such traffic would (the canary's own errors put it above the floor and there is no relative test left to win).
 */
export function requestsToPass(
  canary: ArmCounts,
  primary: ArmCounts,
  judged: SequentialJudgement,
  settings: SequentialSettings,
): number {
  const c = cleanCounts(canary);
  const p = cleanCounts(primary);
  const seen = c.requests;
  const floorSamples = Math.max(seen, settings.minSamples);
  if (judged.reason === "no-worse") return floorSamples;
  if (c.requests <= 0 || p.requests <= 0) return Number.POSITIVE_INFINITY;
  const s = c.requests / (c.requests + p.requests);
  // Half a pseudo-event (Jeffreys): a step that has seen no events yet gets the figure for the highest rate its
  // silence leaves plausible, which grows as the silence goes on, instead of none.
  const rate = (c.events + p.events + 0.5) / (c.requests + p.requests + 1);
  const [w, wf] = passWeights(settings);
  const passAt = Math.log(1 / settings.beta);
  const more = (missing: number, drift: number) =>
    missing <= 0 ? 0 : drift > 0 ? missing / drift : Number.POSITIVE_INFINITY;
  const theta0 = nullCanaryShare(c.requests, p.requests, settings.passMargin);
  const relative = more(passAt - Math.log(w) - judged.evidence.noWorse, (rate / s) * bernoulliKL(s, theta0));
  let floor = Number.POSITIVE_INFINITY;
  if (wf > 0) {
    const p1 = settings.floor * FLOOR_ALTERNATIVE;
    const drift =
      rate * Math.log(FLOOR_ALTERNATIVE) + (1 - rate) * (Math.log1p(-p1) - Math.log1p(-settings.floor));
    floor = more(passAt - Math.log(wf) - judged.evidence.floor, drift);
  }
  const still = Math.min(relative, floor);
  return Number.isFinite(still) ? Math.max(floorSamples, Math.ceil(seen + still)) : still;
}
