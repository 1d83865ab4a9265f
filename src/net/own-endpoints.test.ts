import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AddressPolicy } from "./address-policy.ts";
import { controllerEndpoints } from "./own-endpoints.ts";

describe("controllerEndpoints", () => {
  it("protects the API server as resolved at start and the controller's port on every own address", async () => {
    const e = await controllerEndpoints("https://kubernetes.default.svc", [8080], async (host) => {
      assert.equal(host, "kubernetes.default.svc");
      return [{ address: "10.96.0.1", family: 4 }];
    });
    const policy = new AddressPolicy({
      allow: ["0.0.0.0/0", "::/0"],
      denyHosts: e.apiServerHosts,
      protectedEndpoints: e.protectedEndpoints,
    });
    assert.match(policy.refusal("10.96.0.1", 443) ?? "", /Kubernetes API server$/, "its port stays closed");
    assert.equal(policy.refusal("10.96.0.1", 80), undefined, "an allow range may open its other ports");
    for (const self of ["127.0.0.1", "127.9.9.9", "::1", "0.0.0.0"]) {
      assert.match(policy.refusal(self, 8080) ?? "", /controller's own port/, self);
    }
    assert.equal(policy.refusal("127.0.0.1", 9090), undefined);
  });

  it("takes an IP-literal API server as is, and survives a name that does not resolve", async () => {
    const literal = await controllerEndpoints("https://[fd00::1]:6443", [8080], async () => {
      throw new Error("no lookup for literals");
    });
    assert.deepEqual(
      literal.apiServerHosts.map((h) => h.address),
      ["fd00::1"],
    );
    const unresolved = await controllerEndpoints("https://nowhere.invalid", [8080], async () => {
      throw new Error("ENOTFOUND");
    });
    assert.deepEqual(unresolved.apiServerHosts, []);
    const outsidePod = await controllerEndpoints(undefined, [8080], undefined, "the load generator");
    assert.deepEqual(outsidePod.apiServerHosts, []);
    assert.ok(outsidePod.protectedEndpoints.every((p) => p.what === "the load generator's own port"));
    assert.ok(outsidePod.protectedEndpoints.some((p) => p.cidr === "127.0.0.0/8" && p.port === 8080));
  });
});
