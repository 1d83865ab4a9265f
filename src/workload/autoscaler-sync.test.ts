// WorkloadManager's primary-HPA writes against an in-memory API server with resourceVersions and preconditions:
// created when missing, replaced whole and fenced, never taken over, deleted with preconditions.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeClients } from "../kube/clients.ts";
import { isConflict } from "../kube/errors.ts";
import type { MeshObject } from "../mesh/objects.ts";
import { FakeApi } from "../mesh/testing/fake-api.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import { renderPrimaryAutoscaler } from "./autoscaler.ts";
import { workloadNames } from "./names.ts";
import type { HorizontalPodAutoscaler } from "./objects.ts";
import { WorkloadManager, type WorkloadSnapshot } from "./workload-manager.ts";

const names = workloadNames("shop", "podinfo", makeSpec());
const owner = { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "podinfo", uid: "u-1" };
const PATH = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers";
const user: HorizontalPodAutoscaler = {
  metadata: { name: "web", namespace: "shop" },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo" },
    minReplicas: 2,
    maxReplicas: 6,
    behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
  },
};

function setup() {
  const api = new FakeApi();
  const reader = {
    deployment: async () => undefined,
    service: async () => undefined,
    autoscalers: async () => [...api.objects.values()] as unknown as HorizontalPodAutoscaler[],
  };
  const wm = new WorkloadManager(api as unknown as KubeClients, reader);
  const snap = async (u: HorizontalPodAutoscaler | undefined = user): Promise<WorkloadSnapshot> => ({
    ...(await wm.snapshot(names)),
    userAutoscaler: u,
  });
  const primary = () => api.objects.get(`${PATH}/podinfo-primary`) as unknown as HorizontalPodAutoscaler;
  return { api, wm, snap, primary };
}

describe("WorkloadManager primary HPA", () => {
  it("creates it when missing, then replaces it whole when the user's changes (a removed field goes too)", async () => {
    const { api, wm, snap, primary } = setup();
    await wm.syncAutoscaler(await snap(), owner, 2);
    assert.deepEqual(api.writes(), [{ method: "POST", path: PATH }]);
    assert.equal(primary().spec.scaleTargetRef.name, "podinfo-primary");
    assert.ok(primary().spec.behavior);
    const edited = { ...user, spec: { ...user.spec, maxReplicas: 9, behavior: undefined } };
    api.resetCalls();
    await wm.syncAutoscaler(await snap(edited), owner, 4);
    assert.deepEqual(api.writes(), [{ method: "PUT", path: `${PATH}/podinfo-primary` }]);
    assert.equal(primary().spec.maxReplicas, 9);
    assert.equal(primary().spec.minReplicas, 4);
    assert.equal(primary().spec.behavior, undefined, "a merge patch would have kept it");
  });

  it("is fenced: a replace from a stale read is refused with a conflict", async () => {
    const { api, wm, snap, primary } = setup();
    await wm.syncAutoscaler(await snap(), owner, 2);
    const stale = await snap();
    // Someone (the HPA controller writes status only; a person here) changes it after our read.
    api.store(`${PATH}/podinfo-primary`, {
      ...primary(),
      spec: { ...primary().spec, minReplicas: 3 },
    } as MeshObject);
    await assert.rejects(wm.syncAutoscaler(stale, owner, 5), (err) => isConflict(err));
    assert.equal(primary().spec.minReplicas, 3);
  });

  it("never takes over an HPA of that name that Vireo did not make, nor deletes it", async () => {
    const { api, wm, snap } = setup();
    const foreign = { ...user, metadata: { name: "podinfo-primary", namespace: "shop" } };
    api.store(`${PATH}/podinfo-primary`, foreign as unknown as MeshObject);
    api.resetCalls();
    await assert.rejects(wm.syncAutoscaler(await snap(), owner, 2), /not made by Vireo/);
    await wm.deleteAutoscaler(await snap(undefined));
    assert.deepEqual(api.writes(), []);
  });

  it("deletes its own with uid and resourceVersion preconditions", async () => {
    const { api, wm, snap } = setup();
    api.store(
      `${PATH}/podinfo-primary`,
      renderPrimaryAutoscaler(user, names, owner, 2) as unknown as MeshObject,
    );
    const seen = await snap(undefined);
    api.resetCalls();
    await wm.deleteAutoscaler(seen);
    assert.deepEqual(api.writes(), [{ method: "DELETE", path: `${PATH}/podinfo-primary` }]);
    assert.equal(api.objects.size, 0);
  });
});
