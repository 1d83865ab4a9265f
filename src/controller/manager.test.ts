// Which Rollout changes wake the reconciler: not our own status writes, but spec, annotations and resyncs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Rollout } from "../api/rollout-schema.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import { rolloutChangeMatters } from "./manager.ts";

const base: Rollout = {
  apiVersion: "vireo.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "r", namespace: "n", generation: 1, resourceVersion: "1", annotations: {} },
  spec: makeSpec(),
};
const with_ = (m: Partial<Rollout["metadata"]>, status?: Rollout["status"]): Rollout => ({
  ...base,
  metadata: { ...base.metadata, resourceVersion: "2", ...m },
  ...(status ? { status } : {}),
});

describe("rollout change filter", () => {
  it("ignores status-only updates (our own writes)", () => {
    assert.equal(rolloutChangeMatters(base, with_({}, { phase: "Progressing" })), false);
  });
  it("acts on spec, annotation, finalizer and deletion changes", () => {
    assert.equal(rolloutChangeMatters(base, with_({ generation: 2 })), true);
    assert.equal(rolloutChangeMatters(base, with_({ annotations: { "vireo.dev/promote": "1" } })), true);
    assert.equal(rolloutChangeMatters(base, with_({ finalizers: ["x"] })), true);
    assert.equal(rolloutChangeMatters(base, with_({ deletionTimestamp: "2026-01-01T00:00:00Z" })), true);
  });
  it("acts on informer resyncs (same resourceVersion)", () => {
    assert.equal(rolloutChangeMatters(base, base), true);
  });
});
