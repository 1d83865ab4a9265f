// Tests of the mesh resolver: re-reading discovery at once when an adapter meets an unserved version.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients, RawRequest } from "../kube/clients.ts";
import { ApiDiscovery } from "../kube/discovery.ts";
import { MeshError } from "../mesh/errors.ts";
import { FakeApi } from "../mesh/testing/fake-api.ts";
import { aSplitRef } from "../mesh/testing/models.ts";
import { MeshResolver } from "./mesh-resolver.ts";

describe("MeshResolver", () => {
  it("re-reads discovery at once when an adapter meets an unserved version, then writes the served one", async () => {
    const api = new FakeApi();
    let splitVersion = "v1alpha2";
    api.served = new Set([`split.smi-spec.io/${splitVersion}`]);
    let discoveryReads = 0;
    const clients = {
      request: async <T>(req: RawRequest): Promise<T> => {
        if (req.path !== "/apis") return api.request<T>(req);
        discoveryReads++;
        const v = { groupVersion: `split.smi-spec.io/${splitVersion}`, version: splitVersion };
        return { groups: [{ name: "split.smi-spec.io", versions: [v], preferredVersion: v }] } as T;
      },
    } as unknown as KubeClients;
    const resolver = new MeshResolver(clients, new ApiDiscovery({ clients }));
    await resolver.warm();
    const spec = { provider: "smi" } as RolloutSpec;
    const ref = aSplitRef();
    assert.equal(await resolver.resolve(spec).getRoutes(ref), null);

    // The TrafficSplit CRD is replaced by one serving only v1alpha4 (discovery's cache still says v1alpha2).
    splitVersion = "v1alpha4";
    api.served = new Set(["split.smi-spec.io/v1alpha4"]);
    await assert.rejects(
      resolver.resolve(spec).getRoutes(ref),
      (e: unknown) => e instanceof MeshError && e.kind === "NotServed",
    );
    for (let i = 0; i < 10 && resolver.apis.smi?.split !== "v1alpha4"; i++) await tick();
    assert.equal(resolver.apis.smi?.split, "v1alpha4", "detected again without waiting for the TTL");
    assert.equal(discoveryReads, 2);
    assert.equal(await resolver.resolve(spec).getRoutes(ref), null);
  });
});
