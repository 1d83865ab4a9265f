// Tests for the simulator's weight extraction from mesh routing objects (no cluster needed).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromHttpRoute, fromTrafficSplit, fromVirtualService, parseWeight, versionOf } from "./routing.ts";

const names = { service: "podinfo", target: "podinfo", namespace: "shop" };

describe("parseWeight", () => {
  it("reads integers, numeric strings and milli-quantities", () => {
    assert.equal(parseWeight(90), 90);
    assert.equal(parseWeight("90"), 90);
    assert.equal(parseWeight("500m"), 0.5);
    assert.equal(parseWeight("1"), 1);
    assert.equal(parseWeight("1.5k"), 1500);
  });
  it("treats garbage and negatives as zero", () => {
    assert.equal(parseWeight("ten"), 0);
    assert.equal(parseWeight(-5), 0);
    assert.equal(parseWeight(undefined), 0);
  });
});

describe("versionOf", () => {
  it("maps -primary/-canary services, FQDNs in our namespace and subsets", () => {
    assert.equal(versionOf(names, "podinfo-primary"), "primary");
    assert.equal(versionOf(names, "podinfo-canary.shop.svc.cluster.local"), "canary");
    assert.equal(versionOf(names, "podinfo"), "primary");
    assert.equal(versionOf(names, "podinfo", "canary"), "canary");
    assert.equal(versionOf(names, "podinfo", "stable"), "primary");
  });
  it("ignores other services and other namespaces", () => {
    assert.equal(versionOf(names, "checkout-canary"), undefined);
    assert.equal(versionOf(names, "podinfo-canary.other.svc.cluster.local"), undefined);
  });
});

describe("fromTrafficSplit", () => {
  it("normalises v1alpha1 quantities to percentages", () => {
    const d = fromTrafficSplit(
      {
        metadata: { name: "podinfo" },
        spec: {
          service: "podinfo",
          backends: [
            { service: "podinfo-primary", weight: "700m" },
            { service: "podinfo-canary", weight: "300m" },
          ],
        },
      },
      names,
    );
    assert.ok(d);
    assert.ok(Math.abs(d.percent.canary - 30) < 1e-9);
    assert.equal(d.addressedService.canary, "podinfo-canary");
    assert.equal(d.source, "TrafficSplit/podinfo");
  });
  it("ignores splits of other root services and all-zero splits", () => {
    const other = { spec: { service: "checkout", backends: [{ service: "podinfo-canary", weight: 1 }] } };
    assert.equal(fromTrafficSplit(other, names), undefined);
    const zero = {
      spec: { service: "podinfo", backends: [{ service: "podinfo-primary", weight: 0 }] },
    };
    assert.equal(fromTrafficSplit(zero, names), undefined);
  });
});

describe("fromVirtualService", () => {
  it("reads subset routes of the first http route", () => {
    const d = fromVirtualService(
      {
        metadata: { name: "podinfo" },
        spec: {
          hosts: ["podinfo.shop.svc.cluster.local"],
          http: [
            {
              route: [
                { destination: { host: "podinfo", subset: "primary" }, weight: 80 },
                { destination: { host: "podinfo", subset: "canary" }, weight: 20 },
              ],
            },
          ],
        },
      },
      names,
    );
    assert.deepEqual(d?.percent, { primary: 80, canary: 20 });
    assert.equal(d?.addressedService.canary, "podinfo");
  });
  it("gives a single unweighted destination 100%", () => {
    const d = fromVirtualService(
      { spec: { hosts: ["podinfo"], http: [{ route: [{ destination: { host: "podinfo-canary" } }] }] } },
      names,
    );
    assert.deepEqual(d?.percent, { primary: 0, canary: 100 });
  });
});

describe("fromHttpRoute", () => {
  it("requires a Service parentRef and defaults missing weights to 1", () => {
    const route = {
      metadata: { name: "podinfo" },
      spec: {
        parentRefs: [{ group: "", kind: "Service", name: "podinfo" }],
        rules: [{ backendRefs: [{ name: "podinfo-primary" }, { name: "podinfo-canary" }] }],
      },
    };
    assert.deepEqual(fromHttpRoute(route, names)?.percent, { primary: 50, canary: 50 });
    const gatewayParent = { spec: { ...route.spec, parentRefs: [{ kind: "Gateway", name: "podinfo" }] } };
    assert.equal(fromHttpRoute(gatewayParent, names), undefined);
  });
});
