// Every derived name and label value is checked against its limit, naming the field and the limit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import { checkDerivedLimits } from "./limits.ts";
import { workloadNames } from "./names.ts";
import type { Deployment, Service } from "./objects.ts";

const target = (matchLabels: Record<string, string>, name = "podinfo"): Deployment => ({
  metadata: { name, namespace: "shop" },
  spec: { selector: { matchLabels }, template: { metadata: { labels: matchLabels } } },
});
const check = (spec: RolloutSpec, rollout = "podinfo", t = target({ app: "podinfo" }), root?: Service) =>
  checkDerivedLimits(spec, workloadNames("shop", rollout, spec), t, root);
const withSpec = (change: (s: RolloutSpec) => void): RolloutSpec => {
  const s = structuredClone(makeSpec());
  change(s);
  return s;
};

describe("checkDerivedLimits", () => {
  it("finds nothing wrong with an ordinary Rollout", () => {
    assert.deepEqual(check(makeSpec()), []);
  });

  it("a selector value one character too long for -primary is named with both lengths; 55 is fine", () => {
    assert.deepEqual(check(makeSpec(), "podinfo", target({ app: "a".repeat(55), tier: "web" })), []);
    const issues = check(makeSpec(), "podinfo", target({ app: "a".repeat(56), tier: "web" }));
    assert.equal(issues.length, 1);
    assert.equal(issues[0]?.path, "spec.targetRef.name");
    assert.match(issues[0]?.message ?? "", /selector label app=a{56} cannot get -primary .*\(64 > 63/);
    assert.match(issues[0]?.message ?? "", /shorten it to 55 characters/);
  });

  it("a matchExpressions selector is an issue, not an exception halfway through", () => {
    const t = target({ app: "podinfo" });
    t.spec.selector.matchExpressions = [{ key: "app", operator: "In", values: ["x"] }];
    assert.match(check(makeSpec(), "podinfo", t)[0]?.message ?? "", /matchLabels only/);
  });

  it("a Rollout name over 63 (the vireo.dev/rollout label value) is named at metadata.name", () => {
    assert.deepEqual(check(makeSpec(), "r".repeat(63)), []);
    const issues = check(makeSpec(), "r".repeat(70));
    assert.deepEqual(
      issues.map((i) => i.path),
      ["metadata.name"],
    );
    assert.match(issues[0]?.message ?? "", /70 characters; at most 63/);
  });

  it("Service names: <service>-primary over 63, or not a DNS-1035 label, at the field that names them", () => {
    const long = check(withSpec((s) => (s.service!.name = `s${"e".repeat(55)}`)));
    assert.equal(long[0]?.path, "spec.service.name");
    assert.match(long[0]?.message ?? "", /-primary would have 64 characters; Service names are at most 63/);
    const defaulted = withSpec((s) => {
      s.targetRef.name = "podinfo.v2";
      delete s.service!.name;
    });
    const dotted = check(defaulted, "podinfo", target({ app: "podinfo" }, "podinfo.v2"));
    assert.equal(dotted[0]?.path, "spec.targetRef.name");
    assert.match(dotted[0]?.message ?? "", /DNS-1035/);
  });

  it("a target name whose -primary exceeds 253 is named", () => {
    const spec = withSpec((s) => {
      s.targetRef.name = "t".repeat(246);
      s.service!.name = "podinfo";
    });
    const issues = check(spec, "podinfo", target({ app: "podinfo" }, spec.targetRef.name));
    assert.deepEqual(
      issues.map((i) => i.path),
      ["spec.targetRef.name"],
    );
    assert.match(issues[0]?.message ?? "", /254 characters; Deployment names are at most 253/);
  });

  it("a root Service port named like the split port would clash on the backend Services", () => {
    const root: Service = {
      metadata: { name: "podinfo" },
      spec: {
        ports: [
          { name: "web", port: 80 },
          { name: "http", port: 9090 },
        ],
      },
    };
    const spec = withSpec((s) => {
      s.service!.port = 80;
      s.service!.portName = "http";
    });
    const issues = check(spec, "podinfo", target({ app: "podinfo" }), root);
    assert.equal(issues[0]?.path, "spec.service.portName");
    assert.match(issues[0]?.message ?? "", /already names port 9090 "http"/);
    // Without portName the split port keeps the root Service's own name for it: no clash.
    assert.deepEqual(
      check(
        withSpec((s) => {
          s.service!.port = 80;
          delete s.service!.portName;
        }),
        "podinfo",
        target({ app: "podinfo" }),
        root,
      ),
      [],
    );
  });
});
