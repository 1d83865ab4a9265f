import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeApiError, KubeErrorKind } from "./errors.ts";
import { NamespaceLabels } from "./namespace-labels.ts";

/** A client answering namespace GETs from `labels`, counting them. */
function fakeClient(labels: Record<string, Record<string, string>>) {
  const calls: string[] = [];
  let fail = false;
  return {
    calls,
    failNext() {
      fail = true;
    },
    async request<T>(req: { path: string }): Promise<T> {
      calls.push(req.path);
      if (fail) {
        fail = false;
        throw new KubeApiError(KubeErrorKind.ServerError, "down");
      }
      const name = req.path.split("/").pop() ?? "";
      const l = labels[name];
      if (!l) throw new KubeApiError(KubeErrorKind.NotFound, "not found");
      return { metadata: { labels: l } } as T;
    },
  };
}

describe("NamespaceLabels", () => {
  it("reads once per TTL, shares concurrent reads, and reads again once the TTL passed", async () => {
    let now = 0;
    const client = fakeClient({ shop: { "istio.io/use-waypoint": "waypoint" } });
    const cache = new NamespaceLabels(client, 1000, () => now);
    const [a, b] = await Promise.all([cache.get("shop"), cache.get("shop")]);
    assert.deepEqual(a, { "istio.io/use-waypoint": "waypoint" });
    assert.deepEqual(b, a);
    now = 999;
    await cache.get("shop");
    assert.equal(client.calls.length, 1);
    now = 1000;
    await cache.get("shop");
    assert.equal(client.calls.length, 2);
  });

  it("a missing namespace has no labels; a failed read is not cached", async () => {
    const client = fakeClient({ shop: {} });
    const cache = new NamespaceLabels(client, 60_000, () => 0);
    assert.equal(await cache.get("gone"), undefined);
    client.failNext();
    await assert.rejects(cache.get("shop"));
    assert.deepEqual(await cache.get("shop"), {});
    assert.equal(client.calls.filter((p) => p.endsWith("/shop")).length, 2);
  });
});
