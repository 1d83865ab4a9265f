// Pure anytime-valid sequential test of "the canary's event rate (errors, slow requests) is no worse than the primary's".
//
// Derivation (after Lindon, Sanden, Shirikian, "Rapid Regression Detection in Software Deployments through
// Sequential Testing", KDD 2022, and Lindon & Malek's sequential multinomial test): requests reach the canary with a
// known share s of the traffic, and every request fails with probability p_c on the canary and p_p on the primary.
// Given that an event (an error) happened, it landed on the canary with probability
//     θ = s·ρ / (s·ρ + 1 − s),  where ρ = p_c / p_p is the canary's relative risk,
// whatever the unknown baseline p_p is — conditioning on "which arm did the event land in" removes the nuisance
// parameter. "No worse by more than the margin m" is ρ ≤ ρ0 = 1 + m, i.e. θ ≤ θ0 = s·ρ0 / (s·ρ0 + 1 − s).
// With x canary and y primary events, the likelihood ratio of θ against θ0, mixed over a conjugate Beta(a, b)
// prior restricted to θ > θ0 (the alternative "worse than the margin"), is the beta-binomial Bayes factor
//     E = [B(a+x, b+y) · (1 − I_θ0(a+x, b+y))] / [B(a, b) · (1 − I_θ0(a, b))] / [θ0^x · (1 − θ0)^y]
// (B the beta function, I the regularized incomplete beta). Every component θ > θ0 of the mixture gives a
// likelihood ratio whose expectation per event is ≤ 1 for any true θ ≤ θ0, so E is a non-negative supermartingale
// under the whole null and, by Ville's inequality, P(E ever reaches 1/α) ≤ α: the judge may look after every
// scrape and still fails an A/A canary with probability at most α. The prior a = kθ0, b = k(1−θ0) is centred on the
// null; k only trades speed on big regressions against speed on small ones, never validity.
//
// The same formula with the prior restricted to θ < θ0 tests the opposite null (the canary IS worse than the
// margin); when that evidence reaches 1/α the canary is shown no worse and passes early.
//
// Steps: the share s is constant within a step but changes between steps, so each step is its own conjugate
// test, started afresh at 1, and the judge multiplies the evidence of the finished steps into the current one
// (carried as a log). A product of test martingales restarted at known times is again a test martingale, so the
// 1/α boundary keeps its meaning for the whole rollout. The share is the realised one (canary requests / all
// requests in the step), not the nominal weight: a mesh that routes 6 % for a 5 % step would otherwise make every
// A/A canary look worse and fail it eventually.
import { logBeta, logRegularizedBeta, logRegularizedBetaUpper } from "./special-functions.ts";

/** Requests served and events (errors, or requests slower than the boundary) among them, for one workload. */
export interface ArmCounts {
  requests: number;
  events: number;
}

/** Tunables of the sequential judge. */
export interface SequentialSettings {
  /** Type-I error: the highest probability of failing a canary that is no worse than the margin. */
  alpha: number;
  /** Tolerated relative increase of the canary's event rate (0.1 = 10 % more errors than the primary). */
  margin: number;
  /** Canary requests a step must serve before it passes without conclusive evidence either way. */
  minSamples: number;
}

/** Defaults of {@link SequentialSettings}. */
export const SEQUENTIAL_DEFAULTS: SequentialSettings = { alpha: 0.01, margin: 0, minSamples: 0 };

/** Strength k of the Beta(kθ0, k(1−θ0)) prior: two pseudo-events, diffuse enough for 1.5× … 10× regressions. */
export const PRIOR_STRENGTH = 2;

/** What the judge saw and concluded in one evaluation. */
export interface SequentialJudgement {
  verdict: "Pass" | "Fail" | "Inconclusive";
  /** log of the evidence against the canary over the whole rollout (finished steps times this step). */
  logEvidence: number;
  /** log of this step's factor of it. */
  stepLogEvidence: number;
  /** log of this step's evidence that the canary is no worse than the margin. */
  logNoWorse: number;
  /** Why the verdict: evidence crossed, shown no worse, enough samples, or still waiting. */
  reason: "evidence" | "no-worse" | "min-samples" | "waiting" | "no-traffic";
}

/** log E of the test against θ0 (`side: "worse"`) or of the opposite test (`side: "better"`), for x and y events. */
export function logBayesFactor(x: number, y: number, theta0: number, side: "worse" | "better"): number {
  if (x + y <= 0) return 0;
  const a = PRIOR_STRENGTH * theta0;
  const b = PRIOR_STRENGTH * (1 - theta0);
  const tail = side === "worse" ? logRegularizedBetaUpper : logRegularizedBeta;
  const posterior = logBeta(a + x, b + y) + tail(theta0, a + x, b + y);
  const prior = logBeta(a, b) + tail(theta0, a, b);
  return posterior - prior - x * Math.log(theta0) - y * Math.log1p(-theta0);
}

/** θ0: the probability an event lands on the canary when its rate is exactly (1 + margin) × the primary's. */
export function nullCanaryShare(canaryRequests: number, primaryRequests: number, margin: number): number {
  const s = canaryRequests / (canaryRequests + primaryRequests);
  const r = 1 + margin;
  return (s * r) / (s * r + 1 - s);
}

/**
 * Judges one evaluation: the counts of the current step so far plus the log-evidence carried from finished steps.
 * Fail when the evidence reaches 1/α; Pass when the canary is shown no worse, or has served `minSamples` requests
 * in this step without failing; Inconclusive otherwise (keep waiting). Deterministic; no I/O.
 */
export function judgeSequentialCounts(
  canary: ArmCounts,
  primary: ArmCounts,
  carriedLogEvidence: number,
  settings: SequentialSettings,
): SequentialJudgement {
  const threshold = Math.log(1 / settings.alpha);
  const clean = (c: ArmCounts) => ({
    requests: Math.max(0, c.requests),
    events: Math.min(Math.max(0, c.events), Math.max(0, c.requests)),
  });
  const c = clean(canary);
  const p = clean(primary);
  if (c.requests <= 0 || p.requests <= 0) {
    const failed = carriedLogEvidence >= threshold;
    return {
      verdict: failed ? "Fail" : "Inconclusive",
      logEvidence: carriedLogEvidence,
      stepLogEvidence: 0,
      logNoWorse: 0,
      reason: failed ? "evidence" : "no-traffic",
    };
  }
  const theta0 = nullCanaryShare(c.requests, p.requests, settings.margin);
  const stepLogEvidence = logBayesFactor(c.events, p.events, theta0, "worse");
  const logNoWorse = logBayesFactor(c.events, p.events, theta0, "better");
  const logEvidence = carriedLogEvidence + stepLogEvidence;
  const base = { logEvidence, stepLogEvidence, logNoWorse };
  if (logEvidence >= threshold) return { ...base, verdict: "Fail", reason: "evidence" };
  if (logNoWorse >= threshold) return { ...base, verdict: "Pass", reason: "no-worse" };
  if (c.requests >= Math.max(1, settings.minSamples))
    return { ...base, verdict: "Pass", reason: "min-samples" };
  return { ...base, verdict: "Inconclusive", reason: "waiting" };
}
