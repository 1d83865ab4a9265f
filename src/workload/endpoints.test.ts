// The EndpointSlice reads a reconcile makes: every backend for blue/green, only a switch's targets for a canary.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EndpointSlice } from "../kube/endpoint-slices.ts";
import { observeEndpoints } from "./endpoints.ts";
import type { WorkloadSnapshot } from "./snapshot.ts";

const names = {
  namespace: "shop",
  rollout: "jump",
  target: "jump",
  primary: "jump-primary",
  rootService: "jump",
  primaryService: "jump-primary",
  canaryService: "jump-canary",
};
/** Only the names matter to the reads (the Services' objects only to blue/green's preview agreement). */
const canarySnapshot = { names } as WorkloadSnapshot;

/** A lister that counts its reads: `ready` ready pods for each Service named. */
function lister(ready: Record<string, number>) {
  const reads: string[] = [];
  const list = async (_ns: string, service: string): Promise<EndpointSlice[]> => {
    reads.push(service);
    const endpoints = Array.from({ length: ready[service] ?? 0 }, (_, i) => ({
      addresses: [`10.0.0.${i + 1}`],
      targetRef: { uid: `${service}-${i}` },
    }));
    return [{ metadata: { name: `${service}-1` }, endpoints }];
  };
  return { reads, list };
}

describe("observeEndpoints", () => {
  it("canary strategy: no read at all without a switch target (Healthy, or weight on both backends)", async () => {
    const { reads, list } = lister({});
    assert.equal(await observeEndpoints(canarySnapshot, list, []), undefined);
    assert.deepEqual(reads, []);
  });

  it("canary strategy: reads only the backend a switch may go to, and leaves the other unread", async () => {
    const { reads, list } = lister({ "jump-canary": 2, "jump-primary": 2 });
    assert.deepEqual(await observeEndpoints(canarySnapshot, list, ["canary"]), {
      canaryReady: 2,
      preview: null,
    });
    assert.deepEqual(reads, ["jump-canary"]);
  });

  it("blue/green reads both backends every reconcile (and the preview, once it exists)", async () => {
    const { reads, list } = lister({ "jump-canary": 1, "jump-primary": 2 });
    const snap = {
      ...canarySnapshot,
      names: { ...names, previewService: "jump-preview" },
    } as WorkloadSnapshot;
    const seen = await observeEndpoints(snap, list, []);
    assert.deepEqual(seen, { primaryReady: 2, canaryReady: 1, preview: null });
    assert.deepEqual(reads, ["jump-primary", "jump-canary"]);
  });
});
