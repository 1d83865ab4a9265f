// Tests that an unserved API version is a discovery fact (NotServed), never read as "no routes".
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MeshError } from "./errors.ts";
import { reportNotServed } from "./not-served.ts";
import { SmiAdapter } from "./smi.ts";
import { FakeApi } from "./testing/fake-api.ts";
import { anOwner, aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef("shop", "checkout");
const notServed = (e: unknown) => e instanceof MeshError && e.kind === "NotServed";

describe("an unserved API version is a discovery fact, not a missing object", () => {
  it("getRoutes and setRoutes refuse with NotServed and write nothing", async () => {
    const api = new FakeApi();
    api.served = new Set(["split.smi-spec.io/v1alpha4"]);
    const adapter = new SmiAdapter({ client: api, splitVersion: "v1alpha2" });
    await assert.rejects(adapter.getRoutes(ref), notServed);
    await assert.rejects(adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, anOwner())), notServed);
    assert.deepEqual(api.writes(), []);
  });

  it("a served version with no object still reads as no routes", async () => {
    const api = new FakeApi();
    api.served = new Set(["split.smi-spec.io/v1alpha4"]);
    const adapter = new SmiAdapter({ client: api, splitVersion: "v1alpha4" });
    assert.equal(await adapter.getRoutes(ref), null);
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, anOwner()));
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 90, canary: 10 });
  });

  it("cleanup does not wait on discovery: nothing of ours is readable at an unserved version", async () => {
    const api = new FakeApi();
    api.served = new Set(["split.smi-spec.io/v1alpha4"]);
    const adapter = new SmiAdapter({ client: api, splitVersion: "v1alpha2" });
    await adapter.cleanup(ref);
    assert.deepEqual(api.writes(), []);
  });

  it("reportNotServed signals a stale discovery and still fails the operation", async () => {
    const api = new FakeApi();
    api.served = new Set(["split.smi-spec.io/v1alpha4"]);
    let signals = 0;
    const stale = reportNotServed(new SmiAdapter({ client: api, splitVersion: "v1alpha2" }), () => signals++);
    await assert.rejects(stale.getRoutes(ref), notServed);
    assert.equal(signals, 1);
    const fresh = reportNotServed(new SmiAdapter({ client: api, splitVersion: "v1alpha4" }), () => signals++);
    assert.equal(await fresh.getRoutes(ref), null);
    assert.equal(fresh.name, "smi");
    assert.equal(signals, 1, "a missing object is not a discovery fact");
  });
});
