// The managed-route fields as the controller validates them: the shared corpus, defaults, and the regex rule.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INVALID_ROUTE_SPECS, routeSpec, VALID_ROUTE_SPECS } from "./testing/route-specs.ts";
import { isPortableRegex } from "./traffic-route-schema.ts";
import { describeIssues, validateRolloutSpec } from "./validate.ts";

describe("managed-route fields (zod)", () => {
  for (const c of VALID_ROUTE_SPECS)
    it(`accepts ${c.name}`, () => {
      const v = validateRolloutSpec(c.spec);
      assert.ok(v.ok, v.ok ? "" : describeIssues(v.issues));
    });

  for (const c of INVALID_ROUTE_SPECS)
    it(`refuses ${c.name}`, () => {
      const v = validateRolloutSpec(c.spec);
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.ok(
        v.issues.some(
          (i) => `${i.path}: ${i.message}`.includes(c.message) && i.path.startsWith("spec.strategy.canary"),
        ),
        describeIssues(v.issues),
      );
    });

  it("defaults: header match Exact; cookies on /, HttpOnly, not Secure, 24h, primary pinned", () => {
    const v = validateRolloutSpec(
      routeSpec(
        [
          { setHeaderRoute: { name: "t", matches: [{ headers: [{ name: "x-t", value: "1" }] }] } },
          { setWeight: 5 },
        ],
        { sessionAffinity: { cookieName: "c" } },
      ),
    );
    assert.ok(v.ok);
    if (!v.ok) return;
    const canary = v.spec.strategy.canary!;
    assert.equal(canary.steps?.[0]?.setHeaderRoute?.matches?.[0]?.headers?.[0]?.type, "Exact");
    assert.deepEqual(canary.sessionAffinity, {
      cookieName: "c",
      pinPrimary: true,
      maxAge: "24h",
      path: "/",
      secure: false,
      httpOnly: true,
    });
  });

  it("names the step and field of a cross-step problem", () => {
    const v = validateRolloutSpec(routeSpec([{ setMirror: { name: "m", percent: 5 } }, { setWeight: 10 }]));
    assert.equal(v.ok, false);
    if (v.ok) return;
    assert.ok(
      v.issues.some((i) => i.path === "spec.strategy.canary.steps[1].setWeight"),
      describeIssues(v.issues),
    );
  });

  it("portable regexes: what RE2 and JavaScript both compile", () => {
    for (const ok of ["^a.*$", "(a|b)+", "[^;]*", "\\d{3}", "x\\.y"]) assert.ok(isPortableRegex(ok), ok);
    for (const bad of ["(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "(a)\\1", "(?<n>a)\\k<n>", "(", "a{2,1}"])
      assert.equal(isPortableRegex(bad), false, bad);
  });
});
