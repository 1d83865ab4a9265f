// Checks the special functions against exact values: factorials, and binomial tails for integer beta parameters.
import assert from "node:assert/strict";
import { test } from "node:test";
import { logBeta, logGamma, logRegularizedBeta, logRegularizedBetaUpper } from "./special-functions.ts";

const close = (actual: number, expected: number, tol: number) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not within ${tol} of ${expected}`);

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/** P(Bin(n, p) ≥ k), summed exactly. */
function binomialUpper(n: number, p: number, k: number): number {
  let s = 0;
  for (let j = k; j <= n; j++) s += Math.exp(logChoose(n, j) + j * Math.log(p) + (n - j) * Math.log1p(-p));
  return s;
}

test("logGamma matches log((n-1)!) and Γ(1/2) = √π", () => {
  let fact = 0;
  for (let n = 1; n <= 60; n++) {
    close(logGamma(n), fact, 1e-10 * Math.max(1, fact));
    fact += Math.log(n);
  }
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-12);
  close(logGamma(1e6), 1e6 * Math.log(1e6) - 1e6 - 0.5 * Math.log(1e6) + 0.5 * Math.log(2 * Math.PI), 1e-6);
  assert.throws(() => logGamma(0), RangeError);
});

test("logBeta is symmetric and B(1, b) = 1/b", () => {
  close(logBeta(1, 7), -Math.log(7), 1e-12);
  close(logBeta(2.5, 3.25), logBeta(3.25, 2.5), 1e-12);
});

test("I_x(a, b) for integers equals the binomial tail P(Bin(a+b-1, x) >= a)", () => {
  for (const [a, b] of [
    [1, 1],
    [3, 5],
    [20, 2],
    [7, 40],
    [150, 300],
  ] as const) {
    for (const x of [0.01, 0.2, 0.5, 0.8, 0.99]) {
      const exact = binomialUpper(a + b - 1, x, a);
      const got = Math.exp(logRegularizedBeta(x, a, b));
      close(got, exact, 1e-10);
      close(Math.exp(logRegularizedBetaUpper(x, a, b)), 1 - exact, 1e-10);
    }
  }
});

test("tiny tails keep their digits in log space", () => {
  // P(Bin(999, 0.9) >= 990) = I_0.9(990, 10): about 1e-36, far below what 1 - (1 - tail) could represent.
  const exact = Math.log(binomialUpper(999, 0.9, 990));
  close(logRegularizedBeta(0.9, 990, 10), exact, 1e-8);
  assert.equal(logRegularizedBeta(0, 2, 3), Number.NEGATIVE_INFINITY);
  assert.equal(logRegularizedBeta(1, 2, 3), 0);
});
