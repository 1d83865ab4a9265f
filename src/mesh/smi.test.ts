import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServedGroup } from "../kube/discovery.ts";
import { KubeApiError } from "../kube/errors.ts";
import { MeshError } from "./errors.ts";
import { resourcePath } from "./object-store.ts";
import { createMeshAdapter, detectMeshApis } from "./registry.ts";
import { detectSmiVersions, SmiAdapter } from "./smi.ts";
import { trafficSplitType } from "./smi-render.ts";
import { FakeApi } from "./testing/fake-api.ts";
import { anOwner, aPolicy, aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const owned = { ...ref, owner: anOwner() };
const splitPath = resourcePath(trafficSplitType("v1alpha2"), "shop", "checkout");

function setup(conflictRetries?: number) {
  const api = new FakeApi();
  const adapter = new SmiAdapter({ client: api, splitVersion: "v1alpha2", conflictRetries });
  return { api, adapter };
}

describe("SmiAdapter against a fake API server", () => {
  it("creates, reads back, and makes zero writes when nothing changed", async () => {
    const { api, adapter } = setup();
    assert.equal(await adapter.getRoutes(ref), null);
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }));
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 90, canary: 10 });
    api.resetCalls();
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }));
    assert.deepEqual(api.writes(), []);
    await adapter.setRoutes(aSplit({ primary: 50, canary: 50 }));
    assert.deepEqual(
      api.writes().map((c) => c.method),
      ["PUT"],
    );
  });

  it("keeps other writers' metadata and re-applies after a 409", async () => {
    const { api, adapter } = setup();
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }));
    let interfered = false;
    api.beforeWrite = (call) => {
      if (call.method !== "PUT" || interfered) return;
      interfered = true;
      const live = api.objects.get(splitPath)!;
      live.metadata.annotations = { "someone/else": "was here" };
      api.store(splitPath, live);
    };
    await adapter.setRoutes(aSplit({ primary: 40, canary: 60 }));
    const live = api.objects.get(splitPath)!;
    assert.equal(live.metadata.annotations?.["someone/else"], "was here");
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 40, canary: 60 });
    assert.equal(api.calls.filter((c) => c.method === "PUT").length, 2);
  });

  it("reports a Conflict, without writing, when another writer keeps winning", async () => {
    const { api, adapter } = setup(2);
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }));
    api.beforeWrite = (call) => {
      if (call.method === "PUT") api.store(splitPath, api.objects.get(splitPath)!);
    };
    await assert.rejects(
      adapter.setRoutes(aSplit({ primary: 0, canary: 100 })),
      (e: unknown) => e instanceof KubeApiError && e.kind === "Conflict",
    );
    assert.equal(api.calls.filter((c) => c.method === "PUT").length, 3);
    api.beforeWrite = undefined;
    assert.deepEqual(await adapter.getRoutes(ref), { primary: 90, canary: 10 });
  });

  it("refuses to take over a same-named object it doesn't manage, and never deletes it", async () => {
    const { api, adapter } = setup();
    api.store(splitPath, {
      apiVersion: "split.smi-spec.io/v1alpha2",
      kind: "TrafficSplit",
      metadata: { name: "checkout", namespace: "shop" },
      spec: { service: "checkout", backends: [{ service: "checkout-primary", weight: 1 }] },
    });
    await assert.rejects(
      adapter.setRoutes(aSplit({ primary: 90, canary: 10 })),
      (e: unknown) => e instanceof MeshError && e.kind === "NotOwned",
    );
    await adapter.cleanup(ref);
    assert.ok(api.objects.has(splitPath));
  });

  it("adopts its own objects after the Rollout was re-created (new uid replaces the stale owner reference)", async () => {
    const { api, adapter } = setup();
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }));
    const newOwner = anOwner("checkout", "new-uid");
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, newOwner));
    const refs = api.objects.get(splitPath)!.metadata.ownerReferences ?? [];
    assert.deepEqual(
      refs.map((r) => r.uid),
      ["new-uid"],
    );
  });

  it("access policy: apply, in sync, change detected, zero writes when unchanged, null removes it", async () => {
    const { api, adapter } = setup();
    const policy = aPolicy();
    assert.equal(await adapter.accessPolicyInSync(ref, null), true);
    assert.equal(await adapter.accessPolicyInSync(ref, policy), false);
    await adapter.applyAccessPolicy(owned, policy);
    assert.equal(await adapter.accessPolicyInSync(ref, policy), true);
    api.resetCalls();
    await adapter.applyAccessPolicy(
      owned,
      aPolicy({ routes: [{ methods: ["post", "GET"], pathRegex: "/api/.*" }] }),
    );
    assert.deepEqual(api.writes(), [], "a semantically equal policy must not write");
    const changed = aPolicy({ sources: [{ serviceAccount: "admin", namespace: "ops" }] });
    assert.equal(await adapter.accessPolicyInSync(ref, changed), false);
    await adapter.applyAccessPolicy(owned, changed);
    assert.equal(await adapter.accessPolicyInSync(ref, changed), true);
    assert.equal(await adapter.accessPolicyInSync(ref, null), false);
    await adapter.applyAccessPolicy(owned, null);
    assert.equal(await adapter.accessPolicyInSync(ref, null), true);
    assert.equal(api.objects.size, 0);
  });

  it("an inexpressible policy is out of sync and applying it writes nothing", async () => {
    const { api, adapter } = setup();
    await adapter.applyAccessPolicy(owned, aPolicy());
    const wildcard = aPolicy({ sources: [{ serviceAccount: "*", namespace: "web" }] });
    assert.equal(await adapter.accessPolicyInSync(ref, wildcard), false);
    api.resetCalls();
    await assert.rejects(adapter.applyAccessPolicy(owned, wildcard), MeshError);
    assert.deepEqual(api.writes(), []);
  });

  it("cleanup deletes everything it owns and is idempotent", async () => {
    const { api, adapter } = setup();
    await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }));
    await adapter.applyAccessPolicy(owned, aPolicy());
    assert.equal(api.objects.size, 3);
    await adapter.cleanup(ref);
    assert.equal(api.objects.size, 0);
    api.resetCalls();
    await adapter.cleanup(ref);
    assert.deepEqual(api.writes(), []);
  });
});

describe("detectSmiVersions and createMeshAdapter", () => {
  const discovery = (groups: Record<string, ServedGroup>) => ({
    served: async () => new Map(Object.entries(groups)),
  });

  it("picks the preferred TrafficSplit version and the best served access/specs versions", async () => {
    const got = await detectSmiVersions(
      discovery({
        "split.smi-spec.io": { versions: ["v1alpha2", "v1alpha1"], preferred: "v1alpha2" },
        "access.smi-spec.io": { versions: ["v1alpha2", "v1alpha1"], preferred: "v1alpha1" },
        "specs.smi-spec.io": { versions: ["v1alpha4", "v1alpha3"], preferred: "v1alpha4" },
      }),
    );
    assert.deepEqual(got, { split: "v1alpha2", access: "v1alpha2", specs: "v1alpha4" });
  });

  it("falls back to a supported served version when the preferred one is unknown", async () => {
    const got = await detectSmiVersions(
      discovery({ "split.smi-spec.io": { versions: ["v1beta9", "v1alpha1"], preferred: "v1beta9" } }),
    );
    assert.deepEqual(got, { split: "v1alpha1" });
  });

  it("fails clearly without a TrafficSplit API", async () => {
    await assert.rejects(
      detectSmiVersions(discovery({})),
      (e: unknown) => e instanceof MeshError && e.kind === "Unsupported" && /CRD missing/.test(e.message),
    );
  });

  it("maps providers to adapters, and names the missing API otherwise", () => {
    const client = new FakeApi();
    const deps = {
      client,
      smi: { split: "v1alpha1" as const },
      istio: { networking: "v1" as const },
      linkerd: {},
      "gateway-api": { httpRoute: "v1" as const },
    };
    for (const p of ["smi", "istio", "linkerd", "gateway-api"] as const) {
      assert.equal(createMeshAdapter(p, deps).name, p);
      assert.throws(
        () => createMeshAdapter(p, { client }),
        (e: unknown) => e instanceof MeshError && e.kind === "Unsupported" && e.message.includes(`"${p}"`),
      );
    }
  });

  it("detectMeshApis reports every served mesh API and tolerates missing ones", async () => {
    const apis = await detectMeshApis(
      discovery({
        "networking.istio.io": { versions: ["v1", "v1beta1", "v1alpha3"], preferred: "v1" },
        "security.istio.io": { versions: ["v1beta1"], preferred: "v1beta1" },
        "gateway.networking.k8s.io": { versions: ["v1", "v1beta1"], preferred: "v1" },
        "policy.linkerd.io": { versions: ["v1beta3", "v1beta1", "v1alpha1"], preferred: "v1beta3" },
      }),
    );
    assert.deepEqual(apis, {
      istio: { networking: "v1", security: "v1beta1", httpRoute: "v1" },
      "gateway-api": { httpRoute: "v1" },
      linkerd: { server: "v1beta3" },
      // Plain Services: served by every cluster.
      kubernetes: {},
    });
    assert.deepEqual(await detectMeshApis(discovery({})), { kubernetes: {} });
  });
});
