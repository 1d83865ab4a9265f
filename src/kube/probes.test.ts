import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { informersHealthyCheck, informersSyncedCheck } from "./probes.ts";

describe("informer probes", () => {
  it("report unsynced and unhealthy informers", async () => {
    const a = { synced: false, h: true as true | string };
    const inf = { hasSynced: () => a.synced, health: () => a.h };
    const ready = informersSyncedCheck([inf, { hasSynced: () => true, health: () => true }]);
    const live = informersHealthyCheck([inf]);
    assert.equal(await ready.check(), "1 of 2 informers not synced");
    a.synced = true;
    assert.equal(await ready.check(), true);
    assert.equal(await live.check(), true);
    a.h = "configmaps: no activity for 400 s";
    assert.equal(await live.check(), "configmaps: no activity for 400 s");
  });
});
