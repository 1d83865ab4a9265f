import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseResourcePath, verbFor } from "./request-verb.ts";

describe("verbFor", () => {
  const cases: [string, string, string][] = [
    ["GET", "https://k/api/v1/pods", "list"],
    ["GET", "https://k/api/v1/namespaces", "list"],
    ["GET", "https://k/api/v1/namespaces/a", "get"],
    ["GET", "https://k/api/v1/namespaces/a/status", "get"],
    ["GET", "https://k/api/v1/namespaces/a/configmaps", "list"],
    ["GET", "https://k/api/v1/namespaces/a/configmaps?watch=true&resourceVersion=5", "watch"],
    ["GET", "https://k/api/v1/namespaces/a/configmaps/x", "get"],
    ["GET", "https://k/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/r/status", "get"],
    ["GET", "https://k/apis/vireo.dev/v1alpha1/rollouts?labelSelector=x", "list"],
    ["GET", "https://k/apis/apps/v1/deployments?watch=1", "watch"],
    ["GET", "https://k/apis", "get"],
    ["GET", "https://k/apis/split.smi-spec.io/v1alpha2", "get"],
    ["GET", "https://k/version", "get"],
    ["POST", "https://k/apis/events.k8s.io/v1/namespaces/a/events", "create"],
    ["PUT", "https://k/apis/coordination.k8s.io/v1/namespaces/a/leases/l", "update"],
    ["PATCH", "https://k/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/r/status", "patch"],
    ["DELETE", "https://k/api/v1/namespaces/a/pods/p", "delete"],
    ["DELETE", "https://k/api/v1/namespaces/a/pods", "deletecollection"],
  ];
  for (const [method, url, verb] of cases) {
    it(`${method} ${url.replace("https://k", "")} → ${verb}`, () => assert.equal(verbFor(method, url), verb));
  }
});

describe("parseResourcePath", () => {
  it("extracts resource, namespace and name", () => {
    assert.deepEqual(parseResourcePath("/api/v1/namespaces/kube-system/secrets"), {
      resource: "secrets",
      namespace: "kube-system",
    });
    assert.deepEqual(parseResourcePath("/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/r/status"), {
      resource: "rollouts.vireo.dev/status",
      namespace: "a",
      name: "r",
    });
    assert.deepEqual(parseResourcePath("/api/v1/namespaces/a"), { resource: "namespaces", name: "a" });
    assert.deepEqual(parseResourcePath("/apis"), {});
  });
});
