// Managed routes at admission on a real API server: the CRD (with its cross-step CEL) installs within the API
// server's cost budget, the specs the controller accepts are accepted, and the nonsense CEL can see is refused
// with the controller's own message.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { INVALID_ROUTE_SPECS, VALID_ROUTE_SPECS } from "../src/api/testing/route-specs.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { KubeApiError, kubeRequest } from "./cluster/kube-request.ts";
import { apply } from "./support/app.ts";

const NS = "routes";
const ROLLOUTS = `/apis/vireo.dev/v1alpha1/namespaces/${NS}/rollouts`;

describe("managed routes at admission (real API server)", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let seq = 0;
  const create = (spec: unknown) =>
    kubeRequest(kc, "POST", `${ROLLOUTS}?dryRun=All`, {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: `r${++seq}` },
      spec,
    });

  before(async () => {
    cluster = await startCluster({ prometheus: false });
    kc = cluster.kubeConfig();
    await apply(cluster, JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }));
  });
  after(async () => {
    await cluster?.stop();
  });

  for (const c of VALID_ROUTE_SPECS)
    it(`accepts ${c.name}`, async () => {
      await create(c.spec);
    });

  for (const c of INVALID_ROUTE_SPECS.filter((x) => x.cel))
    it(`refuses ${c.name}, saying why`, async () => {
      const err = await create(c.spec).then(
        () => assert.fail("the API server accepted it"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeApiError, String(err));
      assert.equal(err.status, 422, err.message);
      assert.ok(err.message.includes(c.apiServerSays ?? c.message), err.message);
    });

  it("the order-only cases pass CEL, which cannot see order cheaply (the controller refuses them: phase Invalid)", async () => {
    for (const c of INVALID_ROUTE_SPECS.filter((x) => !x.cel)) await create(c.spec);
  });
});
