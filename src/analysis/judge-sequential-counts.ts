// Pure anytime-valid sequential tests of a canary's event rate (errors, slow requests) against the primary's: one that
// fails a canary shown worse, and two that pass a canary shown no worse — a step never passes on no evidence.
//
// Derivation (after Lindon, Sanden, Shirikian, "Rapid Regression Detection in Software Deployments through
// Sequential Testing", KDD 2022, and Lindon & Malek's sequential multinomial test): requests reach the canary with a
// known share s of the traffic, and every request fails with probability p_c on the canary and p_p on the primary.
// Given that an event (an error) happened, it landed on the canary with probability
//     θ = s·ρ / (s·ρ + 1 − s),  where ρ = p_c / p_p is the canary's relative risk,
// whatever the unknown baseline p_p is — conditioning on "which arm did the event land in" removes the nuisance
// parameter. With x canary and y primary events:
//
// FAIL ("worse"). Null: ρ ≤ 1 + margin, i.e. θ ≤ θ0. The likelihood ratio of θ against θ0, mixed over a conjugate
// Beta(a, b) prior restricted to θ > θ0, is the beta-binomial Bayes factor
//     E = [B(a+x, b+y) · (1 − I_θ0(a+x, b+y))] / [B(a, b) · (1 − I_θ0(a, b))] / [θ0^x · (1 − θ0)^y]
// (B the beta function, I the regularized incomplete beta). Every component θ > θ0 of the mixture gives a
// likelihood ratio whose expectation per event is ≤ 1 for any true θ ≤ θ0, so E is a non-negative supermartingale
// under the whole null and, by Ville's inequality, P(E ever reaches 1/α) ≤ α: the judge may look after every
// scrape and still fails an A/A canary with probability at most α. The prior a = kθ0, b = k(1−θ0) is centred on the
// null; k only trades speed on big regressions against speed on small ones, never validity.
//
// PASS ("no worse"). Null: ρ ≥ 1 + passMargin, i.e. θ ≥ θ0' (the canary IS that much worse). The likelihood ratio
// of θ1 = s (the canary exactly as good as the primary) against θ0' is (θ1/θ0')^x · ((1−θ1)/(1−θ0'))^y. Per event its
// expectation under a true θ is θ·θ1/θ0' + (1−θ)(1−θ1)/(1−θ0'), linear in θ and equal to 1 at θ = θ0', so ≤ 1 on
// the whole null θ ≥ θ0': a test supermartingale again, and P(a canary worse than the margin ever passes) ≤ β. A
// single alternative (not a mixture) is the fastest test for the common case, a canary as good as its primary, and
// still gains evidence for any canary closer to θ1 than to θ0'.
//
// FLOOR (errors only). A service whose primary has no errors gives the two tests above no events, so no evidence
// either way. The floor test asks the absolute question: null p_c ≥ floor, alternative p_c = floor/4, on the canary's
// own requests n and errors x: (1/4)^x · ((1 − floor/4)/(1 − floor))^(n−x), a supermartingale under the null by the
// same argument. With the pass rule's weighting (below), 0 errors in about 6,100 canary requests show the canary below
// a 0.1 % floor (1,200 below 0.5 %).
//
// The pass rule averages the two pass tests, w·E_noWorse + (1−w)·E_floor ≥ 1/β: an average of test supermartingales
// is one, so the combined rule keeps β for the null "worse than the margin AND above the floor" and costs the
// relative test only log(1/w) when the floor never helps.
//
// Steps: the share s is constant within a step but changes between steps, so each step is its own test, started
// afresh at 1, and the judge multiplies the evidence of the finished steps into the current one (carried as logs). A
// product of test supermartingales restarted at known times is again one, so 1/α and 1/β keep their meaning for the
// whole rollout, however the weights were chosen. The share is the realised one (canary requests / all requests in
// the step), not the nominal weight: a mesh that routes 6 % for a 5 % step would otherwise bias every verdict.
import { SEQUENTIAL_DEFAULTS as API_DEFAULTS } from "../api/rollout-schema.ts";
import { logBeta, logRegularizedBeta, logRegularizedBetaUpper } from "./special-functions.ts";

/** Requests served and events (errors, or requests slower than the boundary) among them, for one workload. */
export interface ArmCounts {
  requests: number;
  events: number;
}

/** Tunables of the sequential judge. */
export interface SequentialSettings {
  /** Highest probability of failing a canary that is no worse than `margin`: failing needs evidence 1/alpha. */
  alpha: number;
  /** Tolerated relative increase of the canary's event rate before it counts as worse (0.1 = 10 % more). */
  margin: number;
  /** Highest probability of passing a canary worse than `passMargin` (and above `floor`): passing needs 1/beta. */
  beta: number;
  /** Relative increase from which a canary is bad: a pass needs evidence it is below 1 + passMargin times the primary. */
  passMargin: number;
  /** An event rate (a fraction) low enough to pass whatever the primary does; 0 turns the floor test off. */
  floor: number;
  /** Canary requests a step must serve before it may pass, on top of the evidence. */
  minSamples: number;
}

/** Defaults of {@link SequentialSettings}: the Rollout API's, with the floor as a fraction. */
export const SEQUENTIAL_DEFAULTS: SequentialSettings = {
  alpha: API_DEFAULTS.alpha,
  margin: API_DEFAULTS.margin,
  beta: API_DEFAULTS.beta,
  passMargin: API_DEFAULTS.passMargin,
  floor: API_DEFAULTS.errorFloor / 100,
  minSamples: API_DEFAULTS.minSamples,
};

/** Strength k of the Beta(kθ0, k(1−θ0)) prior of the fail test: two pseudo-events, diffuse for 1.5× … 10×. */
export const PRIOR_STRENGTH = 2;
/** The floor test's alternative: a canary at a quarter of the floor. */
export const FLOOR_ALTERNATIVE = 0.25;
/** Weight of the floor test in the pass rule's average when the floor is on (the relative test has the rest). */
export const FLOOR_WEIGHT = 0.2;

/** The log-evidence of each test, for a step or carried over the rollout. */
export interface Evidence {
  /** Against the canary: it is worse than the margin. */
  worse: number;
  /** For the canary: it is no worse than the pass margin. */
  noWorse: number;
  /** For the canary: its error rate is below the floor. */
  floor: number;
}

/** Evidence of nothing yet: the start of a rollout. */
export const NO_EVIDENCE: Evidence = { worse: 0, noWorse: 0, floor: 0 };

/** What the judge saw and concluded in one evaluation. */
export interface SequentialJudgement {
  verdict: "Pass" | "Fail" | "Inconclusive";
  /** The evidence over the whole rollout: the finished steps' times this step's. */
  evidence: Evidence;
  /** This step's factor of it. */
  step: Evidence;
  /** log of the pass rule's combined evidence (compared with log 1/beta). */
  logPass: number;
  /** Why: evidence against the canary, evidence for it, still gathering, or no traffic to judge. */
  reason: "evidence" | "no-worse" | "gathering" | "no-traffic";
}

/** log E of the mixture test against θ0 (`side: "worse"`) or of the opposite test (`side: "better"`). */
export function logBayesFactor(x: number, y: number, theta0: number, side: "worse" | "better"): number {
  if (x + y <= 0) return 0;
  const a = PRIOR_STRENGTH * theta0;
  const b = PRIOR_STRENGTH * (1 - theta0);
  const tail = side === "worse" ? logRegularizedBetaUpper : logRegularizedBeta;
  const posterior = logBeta(a + x, b + y) + tail(theta0, a + x, b + y);
  const prior = logBeta(a, b) + tail(theta0, a, b);
  return posterior - prior - x * Math.log(theta0) - y * Math.log1p(-theta0);
}

/** The probability an event lands on the canary when its rate is exactly (1 + margin) × the primary's. */
export function nullCanaryShare(canaryRequests: number, primaryRequests: number, margin: number): number {
  const s = canaryRequests / (canaryRequests + primaryRequests);
  const r = 1 + margin;
  return (s * r) / (s * r + 1 - s);
}

/** log of the pass test's likelihood ratio: the canary as good as the primary (θ = s) against θ0' = the pass margin. */
export function logNoWorseRatio(canary: ArmCounts, primary: ArmCounts, passMargin: number): number {
  const s = canary.requests / (canary.requests + primary.requests);
  const theta0 = nullCanaryShare(canary.requests, primary.requests, passMargin);
  return canary.events * Math.log(s / theta0) + primary.events * Math.log((1 - s) / (1 - theta0));
}

/** log of the floor test's likelihood ratio on the canary's own counts; 0 when the floor is off. */
export function logFloorRatio(canary: ArmCounts, floor: number): number {
  if (!(floor > 0)) return 0;
  const p1 = floor * FLOOR_ALTERNATIVE;
  return (
    canary.events * Math.log(FLOOR_ALTERNATIVE) +
    (canary.requests - canary.events) * (Math.log1p(-p1) - Math.log1p(-floor))
  );
}

/** The pass rule's weights: [relative, floor] (the floor has none when it is off). */
export function passWeights(settings: SequentialSettings): [number, number] {
  return settings.floor > 0 ? [1 - FLOOR_WEIGHT, FLOOR_WEIGHT] : [1, 0];
}

/** log(w·e^noWorse + (1−w)·e^floor): the pass rule's combined evidence. */
export function logPassEvidence(evidence: Evidence, settings: SequentialSettings): number {
  const [w, wf] = passWeights(settings);
  const a = Math.log(w) + evidence.noWorse;
  if (wf <= 0) return a;
  const b = Math.log(wf) + evidence.floor;
  const top = Math.max(a, b);
  return top + Math.log(Math.exp(a - top) + Math.exp(b - top));
}

/** Requests and events made sane: non-negative, events at most requests. */
export function cleanCounts(c: ArmCounts): ArmCounts {
  const requests = Math.max(0, c.requests);
  return { requests, events: Math.min(Math.max(0, c.events), requests) };
}

const add = (a: Evidence, b: Evidence): Evidence => ({
  worse: a.worse + b.worse,
  noWorse: a.noWorse + b.noWorse,
  floor: a.floor + b.floor,
});

/**
 * Judges one evaluation: the counts of the current step so far plus the evidence carried from finished steps.
 * Fail when the evidence against the canary reaches 1/alpha; Pass when the pass rule reaches 1/beta and the step
 * served `minSamples` canary requests; Inconclusive otherwise (gathering evidence, or no traffic). No I/O.
 */
export function judgeSequentialCounts(
  canary: ArmCounts,
  primary: ArmCounts,
  carried: Evidence,
  settings: SequentialSettings,
): SequentialJudgement {
  const failAt = Math.log(1 / settings.alpha);
  const passAt = Math.log(1 / settings.beta);
  const c = cleanCounts(canary);
  const p = cleanCounts(primary);
  if (c.requests <= 0 || p.requests <= 0) {
    const failed = carried.worse >= failAt;
    return {
      verdict: failed ? "Fail" : "Inconclusive",
      evidence: carried,
      step: NO_EVIDENCE,
      logPass: logPassEvidence(carried, settings),
      reason: failed ? "evidence" : "no-traffic",
    };
  }
  const theta0 = nullCanaryShare(c.requests, p.requests, settings.margin);
  const step: Evidence = {
    worse: logBayesFactor(c.events, p.events, theta0, "worse"),
    noWorse: logNoWorseRatio(c, p, settings.passMargin),
    floor: logFloorRatio(c, settings.floor),
  };
  const evidence = add(carried, step);
  const logPass = logPassEvidence(evidence, settings);
  const base = { evidence, step, logPass };
  if (evidence.worse >= failAt) return { ...base, verdict: "Fail", reason: "evidence" };
  if (logPass >= passAt && c.requests >= settings.minSamples)
    return { ...base, verdict: "Pass", reason: "no-worse" };
  return { ...base, verdict: "Inconclusive", reason: "gathering" };
}
