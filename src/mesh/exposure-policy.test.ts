import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import {
  CLOSED_POLICY,
  type ExposurePolicy,
  exposureIssues,
  hostMatches,
  parseExposureRule,
} from "./exposure-policy.ts";

const OWN = {
  namespace: "shop",
  rootService: "web",
  primaryService: "web-primary",
  canaryService: "web-canary",
};
const istio = (hosts: string[], gateways: string[] = []): RolloutSpec =>
  makeSpec({ provider: "istio", service: { port: 80, name: "web", hosts, gateways } });
const gatewayApi = (parentRefs: { name: string; namespace?: string }[], hostnames?: string[]): RolloutSpec =>
  makeSpec({
    provider: "gateway-api",
    service: { port: 80, name: "web" },
    gatewayApi: { parentRefs, ...(hostnames ? { hostnames } : {}) },
  });
const policy = (hosts: string[], gateways: string[] = []): ExposurePolicy => ({
  hosts: hosts.map((h) => parseExposureRule(h, "host")),
  gateways: gateways.map((g) => parseExposureRule(g, "gateway")),
});
const paths = (spec: RolloutSpec, p: ExposurePolicy = CLOSED_POLICY) =>
  exposureIssues(spec, OWN, p).map((i) => i.path);

describe("exposure policy", () => {
  it("parses [namespace=]pattern and refuses other shapes", () => {
    assert.deepEqual(parseExposureRule("shop=*.shop.example.com", "host"), {
      namespace: "shop",
      pattern: "*.shop.example.com",
    });
    assert.deepEqual(parseExposureRule("{namespace}.apps.example.com", "host"), {
      namespace: "*",
      pattern: "{namespace}.apps.example.com",
    });
    assert.deepEqual(parseExposureRule("*=istio-system/*", "gateway"), {
      namespace: "*",
      pattern: "istio-system/*",
    });
    for (const [bad, kind] of [
      ["shop=http://x", "host"],
      ["Shop Space=x.example.com", "host"],
      ["istio-system", "gateway"],
      ["a/b/c", "gateway"],
    ] as const)
      assert.throws(() => parseExposureRule(bad, kind), /is not \[namespace=\]/);
  });

  it("matches wildcards as Gateway API does: *.d covers every host below d, wildcards too, but not d", () => {
    assert.ok(hostMatches("*.example.com", "a.example.com"));
    assert.ok(hostMatches("*.example.com", "a.b.example.com"));
    assert.ok(hostMatches("*.example.com", "*.a.example.com"));
    assert.ok(!hostMatches("*.example.com", "example.com"));
    assert.ok(!hostMatches("*.example.com", "evilexample.com"));
    assert.ok(!hostMatches("a.example.com", "*.example.com"));
    assert.ok(hostMatches("*", "anything.example"));
  });

  it("allows a Rollout's own Services by every name Istio knows them by, and nothing else by default", () => {
    const own = ["web", "web.shop", "web.shop.svc", "web-canary.shop.svc.cluster.local"];
    assert.deepEqual(paths(istio(own)), []);
    assert.deepEqual(paths(istio(["db.victim.svc.cluster.local", "checkout.example.com", "web.victim"])), [
      "spec.service.hosts[0]",
      "spec.service.hosts[1]",
      "spec.service.hosts[2]",
    ]);
    const [issue] = exposureIssues(istio(["checkout.example.com"]), OWN, CLOSED_POLICY);
    assert.match(
      issue?.message ?? "",
      /host checkout\.example\.com is not allowed in namespace shop.*--allowed-hosts/,
    );
  });

  it("allows hosts the operator gives this namespace, or every namespace through {namespace}", () => {
    const p = policy([
      "shop=checkout.example.com",
      "*.{namespace}.apps.example.com",
      "pay=*.pay.example.com",
    ]);
    assert.deepEqual(paths(istio(["checkout.example.com", "x.shop.apps.example.com"]), p), []);
    assert.deepEqual(paths(istio(["x.pay.example.com", "x.pay.apps.example.com"]), p), [
      "spec.service.hosts[0]",
      "spec.service.hosts[1]",
    ]);
  });

  it("Istio gateways: mesh and this namespace's always; another namespace's only when allowed", () => {
    assert.deepEqual(paths(istio([], ["mesh", "public", "shop/public"])), []);
    assert.deepEqual(paths(istio([], ["istio-system/public"])), ["spec.service.gateways[0]"]);
    assert.deepEqual(paths(istio([], ["istio-system/public"]), policy([], ["shop=istio-system/public"])), []);
    assert.deepEqual(paths(istio([], ["istio-system/public"]), policy([], ["istio-system/*"])), []);
    assert.deepEqual(paths(istio([], ["istio-system/public"]), policy([], ["pay=istio-system/*"])), [
      "spec.service.gateways[0]",
    ]);
  });

  it("Gateway API: parents in other namespaces need --allowed-gateways, and then their hostnames --allowed-hosts", () => {
    assert.deepEqual(paths(gatewayApi([{ name: "own" }], ["anything.example.com"])), []);
    assert.deepEqual(paths(gatewayApi([{ name: "shared", namespace: "infra" }], ["shop.example.com"])), [
      "spec.gatewayApi.parentRefs[0]",
      "spec.gatewayApi.hostnames[0]",
    ]);
    const p = policy(["shop=shop.example.com"], ["shop=infra/shared"]);
    assert.deepEqual(
      paths(gatewayApi([{ name: "shared", namespace: "infra" }], ["shop.example.com"]), p),
      [],
    );
    assert.deepEqual(paths(gatewayApi([{ name: "shared", namespace: "infra" }], ["admin.example.com"]), p), [
      "spec.gatewayApi.hostnames[0]",
    ]);
  });
});
