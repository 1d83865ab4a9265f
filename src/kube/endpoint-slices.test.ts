import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type EndpointSlice,
  listedPods,
  readyCount,
  type SelectedPods,
  switchedTo,
} from "./endpoint-slices.ts";

type Pod = { uid: string; ready: boolean; terminating?: boolean };
const slice = (...pods: Pod[]): EndpointSlice => ({
  metadata: {},
  endpoints: pods.map((p) => ({
    addresses: [`10.0.0.${p.uid}`],
    conditions: { ready: p.ready, terminating: p.terminating ?? false },
    targetRef: { kind: "Pod", uid: p.uid },
  })),
});
const PRIMARY = { app: "web-primary" };
const CANARY = { app: "web" };
const backends = (primary: Pod[], canary: Pod[]): Record<"primary" | "canary", SelectedPods> => ({
  primary: { selector: PRIMARY, slices: [slice(...primary)] },
  canary: { selector: CANARY, slices: [slice(...canary)] },
});

describe("EndpointSlices as Vireo reads them", () => {
  it("counts a pod once, ready if any slice says so; terminating endpoints are never ready", () => {
    const a = { uid: "1", ready: true };
    assert.equal(
      readyCount([slice(a), slice({ uid: "1", ready: false }), slice({ uid: "2", ready: false })]),
      1,
    );
    assert.equal(readyCount([slice({ uid: "3", ready: true, terminating: true })]), 0);
    assert.equal(listedPods([slice(a, { uid: "2", ready: false })]).size, 2);
  });

  it("a switched selector counts only once the slices list exactly the chosen backend's ready pods", () => {
    const p = [{ uid: "1", ready: true }];
    const c = [
      { uid: "2", ready: true },
      { uid: "3", ready: true },
    ];
    const b = backends(p, c);
    // The selector changed but the slices still list the old pods: not switched.
    assert.equal(switchedTo({ selector: CANARY, slices: [slice(...p)] }, b), null);
    // Half way: an old pod still listed beside the new ones.
    assert.equal(switchedTo({ selector: CANARY, slices: [slice(...p, ...c)] }, b), null);
    // Not yet every ready new pod listed.
    assert.equal(switchedTo({ selector: CANARY, slices: [slice(c[0]!)] }, b), null);
    assert.equal(switchedTo({ selector: CANARY, slices: [slice(...c)] }, b), "canary");
    assert.equal(switchedTo({ selector: PRIMARY, slices: [slice(...p)] }, b), "primary");
    // A selector of neither backend.
    assert.equal(switchedTo({ selector: { app: "other" }, slices: [] }, b), null);
  });

  it("never confirms a side while the Service's slices list a pod of the other side (property)", () => {
    const pod = fc.record({ uid: fc.constantFrom("1", "2", "3", "4", "5", "6"), ready: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(pod, { maxLength: 4 }),
        fc.array(pod, { maxLength: 4 }),
        fc.array(pod, { maxLength: 6 }),
        fc.constantFrom(PRIMARY, CANARY),
        (p, c, listed, selector) => {
          const side = switchedTo({ selector, slices: [slice(...listed)] }, backends(p, c));
          if (side === null) return;
          const other = side === "primary" ? c : p;
          for (const x of listed)
            assert.ok(!other.some((o) => o.uid === x.uid), "lists a pod of the other side");
          const own = listedPods([slice(...(side === "primary" ? p : c))]);
          for (const [uid, ready] of own)
            if (ready) assert.equal(listedPods([slice(...listed)]).get(uid), true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
