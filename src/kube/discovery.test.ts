import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RawRequest } from "./clients.ts";
import { ApiDiscovery } from "./discovery.ts";
import { FakeClock } from "./testing/fake-clock.ts";

describe("ApiDiscovery", () => {
  it("reports served and preferred versions of mesh groups, cached with a TTL", async () => {
    let calls = 0;
    const groups = [
      { name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }] },
      {
        name: "networking.istio.io",
        versions: [
          { groupVersion: "networking.istio.io/v1", version: "v1" },
          { groupVersion: "networking.istio.io/v1beta1", version: "v1beta1" },
        ],
        preferredVersion: { groupVersion: "networking.istio.io/v1", version: "v1" },
      },
    ];
    const clients = {
      request: async <T>(req: RawRequest): Promise<T> => {
        assert.equal(req.path, "/apis");
        calls++;
        return { kind: "APIGroupList", groups } as T;
      },
    };
    const clock = new FakeClock();
    const d = new ApiDiscovery({
      clients,
      clock,
      ttlMs: 1000,
      groups: ["networking.istio.io", "split.smi-spec.io"],
    });
    assert.deepEqual(await d.servedVersions("networking.istio.io"), ["v1", "v1beta1"]);
    assert.equal(await d.preferredVersion("networking.istio.io"), "v1");
    assert.equal(await d.preferredVersion("split.smi-spec.io"), undefined);
    assert.equal(await d.serves("networking.istio.io", "v1beta1"), true);
    assert.equal((await d.served()).has("apps"), false, "only groups of interest");
    assert.equal(calls, 1);
    groups.push({
      name: "split.smi-spec.io",
      versions: [{ groupVersion: "split.smi-spec.io/v1alpha2", version: "v1alpha2" }],
    });
    clock.advance(1001);
    assert.equal(await d.preferredVersion("split.smi-spec.io"), "v1alpha2");
    assert.equal(calls, 2);
    await Promise.all([d.refresh(), d.refresh()]);
    assert.equal(calls, 3, "concurrent refreshes share one request");
  });
});
