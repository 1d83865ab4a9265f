// Tests of ObjectStore's write after a read: it starts from the read, and every race falls back to a fresh one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshError } from "./errors.ts";
import { ObjectStore, type ResourceType, resourcePath } from "./object-store.ts";
import type { MeshObject } from "./objects.ts";
import { FakeApi } from "./testing/fake-api.ts";

const type: ResourceType = {
  group: "split.smi-spec.io",
  version: "v1alpha2",
  plural: "trafficsplits",
  kind: "TrafficSplit",
};
const path = resourcePath(type, "shop", "checkout");
const labels = { "app.kubernetes.io/managed-by": "vireo", "vireo.dev/rollout": "checkout" };
const split = (weight: number, extra: Partial<MeshObject["metadata"]> = {}): MeshObject => ({
  apiVersion: "split.smi-spec.io/v1alpha2",
  kind: "TrafficSplit",
  metadata: { name: "checkout", namespace: "shop", labels, ...extra },
  spec: { service: "checkout", backends: [{ service: "checkout-canary", weight }] },
});
const sameSpec = (a: MeshObject, b: MeshObject) => JSON.stringify(a.spec) === JSON.stringify(b.spec);

function setup() {
  const api = new FakeApi();
  const store = new ObjectStore(api);
  api.store(path, split(10));
  api.resetCalls();
  const methods = () => api.calls.map((c) => c.method);
  return { api, store, methods };
}

describe("ObjectStore: a write after a read of the same object", () => {
  it("starts from that read: one GET, one PUT, and the PUT's response is the result", async () => {
    const { api, store, methods } = setup();
    await store.get(type, "shop", "checkout");
    const stored = await store.ensure(type, split(50), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "PUT"]);
    assert.deepEqual(stored, api.objects.get(path));
    // The read is used once: the next write reads for itself.
    api.resetCalls();
    await store.ensure(type, split(60), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "PUT"]);
  });

  it("a change between read and write costs a 409 and a fresh read, and keeps the other writer's edit", async () => {
    const { api, store, methods } = setup();
    await store.get(type, "shop", "checkout");
    api.store(path, {
      ...api.objects.get(path)!,
      metadata: { ...split(10).metadata, annotations: { a: "b" } },
    });
    await store.ensure(type, split(50), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "PUT", "GET", "PUT"]);
    assert.equal(api.objects.get(path)?.metadata.annotations?.a, "b");
    assert.deepEqual(api.objects.get(path)?.spec, split(50).spec);
  });

  it("an object deleted since the read is created again; one created since a read of nothing is re-read", async () => {
    const { api, store, methods } = setup();
    await store.get(type, "shop", "checkout");
    api.objects.delete(path);
    await store.ensure(type, split(50), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "PUT", "GET", "POST"]);

    api.objects.delete(path);
    api.resetCalls();
    assert.equal(await store.get(type, "shop", "checkout"), null);
    api.store(path, split(50));
    await store.ensure(type, split(70), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "POST", "GET", "PUT"]);
    assert.deepEqual(api.objects.get(path)?.spec, split(70).spec);
  });

  it("never trusts a read for 'nothing to write' or for 'not ours': both come from a fresh read", async () => {
    const { api, store, methods } = setup();
    await store.get(type, "shop", "checkout");
    // Someone moved the weight away after our read; a read that looked in sync must not hide it.
    api.store(path, split(30));
    await store.ensure(type, split(10), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "GET", "PUT"]);
    assert.deepEqual(api.objects.get(path)?.spec, split(10).spec);

    // A read that saw a foreign object is not enough to refuse: the user may have fixed the labels since.
    api.store(path, split(10, { labels: {} }));
    await store.get(type, "shop", "checkout");
    api.store(path, split(10));
    api.resetCalls();
    await store.ensure(type, split(40), "checkout", sameSpec);
    assert.deepEqual(methods(), ["GET", "PUT"]);
    api.store(path, split(10, { labels: {} }));
    await assert.rejects(
      store.ensure(type, split(40), "checkout", sameSpec),
      (e: unknown) => e instanceof MeshError && e.kind === "NotOwned",
    );
  });
});
