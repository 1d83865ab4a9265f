// The canary's scale: fenced on the spec and claim the decision read (not on the Deployment controller's status
// updates), and not written again from a cache that lags Vireo's own last scale.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import type { KubeClients, RawRequest } from "../kube/clients.ts";
import { classifyError, isConflict } from "../kube/errors.ts";
import { CanaryScaler } from "./canary-scale.ts";
import type { Deployment } from "./objects.ts";

const PATH = "/apis/apps/v1/namespaces/shop/deployments/podinfo";

/** One Deployment behind an API server that applies JSON patches as kube-apiserver does (test/add, 422 on a failed test). */
function server() {
  let live: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "podinfo",
      namespace: "shop",
      uid: "u-1",
      generation: 3,
      resourceVersion: "10",
      labels: { app: "podinfo", "vireo.dev/rollout": "podinfo" },
    },
    spec: { replicas: 0, selector: { matchLabels: { app: "podinfo" } }, template: {} },
  } as Deployment;
  let rv = 10;
  const requests: RawRequest[] = [];
  const store = (next: Deployment, specChanged: boolean) => {
    live = structuredClone(next);
    live.metadata.resourceVersion = String(++rv);
    if (specChanged) live.metadata.generation = (live.metadata.generation ?? 0) + 1;
  };
  const invalid = (causes: object[]) =>
    new ApiException(
      422,
      "Invalid",
      JSON.stringify({ kind: "Status", code: 422, reason: "Invalid", details: { causes } }),
      {},
    );
  const clients = {
    async request<T>(req: RawRequest): Promise<T> {
      requests.push(req);
      assert.equal(req.contentType, "application/json-patch+json");
      const next = structuredClone(live) as unknown as Record<string, Record<string, unknown>>;
      for (const op of req.body as { op: string; path: string; value: unknown }[]) {
        const [, parent = "", key = ""] = op.path.split("/");
        if (op.op === "test" && JSON.stringify(next[parent]?.[key]) !== JSON.stringify(op.value))
          throw invalid([]);
        if (op.op === "add") {
          if (typeof op.value === "number" && op.value < 0)
            throw invalid([{ field: "spec.replicas", message: "must be greater than or equal to 0" }]);
          (next[parent] ?? {})[key] = op.value;
        }
      }
      store(next as unknown as Deployment, true);
      return structuredClone(live) as T;
    },
  } as unknown as KubeClients;
  return {
    clients,
    requests,
    live: () => structuredClone(live),
    /** Another writer's change: the Deployment controller's status (no new generation), or a spec/label change. */
    change: (edit: (d: Deployment) => void, specChanged: boolean) => {
      const next = structuredClone(live);
      edit(next);
      store(next, specChanged);
    },
  };
}

describe("the canary's scale", () => {
  it("goes through a status update the decision did not see, and records the generation it produced", async () => {
    const api = server();
    const seen = api.live();
    api.change((d) => Object.assign(d, { status: { observedGeneration: 3 } }), false);
    const generation = await new CanaryScaler(api.clients).scale(PATH, seen, 2);
    assert.equal(generation, 4);
    assert.equal(api.live().spec.replicas, 2);
  });

  it("is refused as a conflict when the spec or the claim changed since the read", async () => {
    for (const [what, edit, specChanged] of [
      ["a new template", (d: Deployment) => Object.assign(d.spec, { paused: true }), true],
      ["the claim label removed", (d: Deployment) => delete d.metadata.labels?.["vireo.dev/rollout"], false],
    ] as const) {
      const api = server();
      const seen = api.live();
      api.change(edit, specChanged);
      const err = await new CanaryScaler(api.clients).scale(PATH, seen, 2).catch((e: unknown) => e);
      assert.ok(isConflict(err), `${what}: ${String(err)}`);
      assert.equal(api.live().spec.replicas, 0, what);
    }
  });

  it("keeps a validation error what it is", async () => {
    const api = server();
    const err = await new CanaryScaler(api.clients).scale(PATH, api.live(), -1).catch((e: unknown) => e);
    assert.equal(classifyError(err).kind, "Invalid");
  });

  it("asks nothing again from a cache older than its own scale, and fences the next on the generation it wrote", async () => {
    const api = server();
    const scaler = new CanaryScaler(api.clients);
    const cached = api.live();
    assert.equal(await scaler.scale(PATH, cached, 2), 4);
    // The informer has not delivered the write yet: the same decision, taken again, writes nothing.
    assert.equal(await scaler.scale(PATH, cached, 2), undefined);
    assert.equal(api.requests.length, 1);
    // Still from the old copy, the opposite scale: fenced on the generation Vireo's own write produced.
    assert.equal(await scaler.scale(PATH, cached, 0), 5);
    assert.equal(api.live().spec.replicas, 0);
    // Once the cache shows the write, the cached copy is what counts again.
    assert.equal(await scaler.scale(PATH, api.live(), 0), undefined);
    assert.equal(await scaler.scale(PATH, api.live(), 3), 6);
    assert.equal(api.requests.length, 3);
  });
});
