// The upstream CRD list and the v1beta1 → v1 conversion, without a cluster.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubernetesObject } from "@kubernetes/client-node";
import { toV1Crd, upstreamCrds } from "./upstream-crds.ts";

type Version = {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema: Record<string, unknown> };
};
const versionsOf = (crd: KubernetesObject) =>
  (crd as unknown as { spec: { versions: Version[] } }).spec.versions;

describe("upstream CRDs", () => {
  const all = upstreamCrds();
  const byName = (n: string) => all.find((u) => u.crd.metadata?.name === n);

  it("come from the pinned modules, every one apiextensions.k8s.io/v1", () => {
    // Gateway API's standard channel, Istio's VirtualService and AuthorizationPolicy, smi-sdk-go's five.
    assert.equal(all.length, 6 + 2 + 5, all.map((u) => u.crd.metadata?.name).join(", "));
    for (const u of all) {
      assert.equal(u.crd.apiVersion, "apiextensions.k8s.io/v1", u.crd.metadata?.name);
      assert.ok(u.file.includes(u.module), `${u.file} is in the module cache dir of ${u.module}`);
    }
    assert.equal(byName("httproutes.gateway.networking.k8s.io")?.module, "sigs.k8s.io/gateway-api@v1.4.0");
    assert.equal(byName("virtualservices.networking.istio.io")?.module, "istio.io/api@v1.30.8");
  });

  it("convert smi-sdk-go's v1beta1 TrafficSplit keeping its served versions and schema, made structural", () => {
    const split = byName("trafficsplits.split.smi-spec.io")!;
    assert.equal(split.module, "github.com/servicemeshinterface/smi-sdk-go@v0.5.0");
    const versions = versionsOf(split.crd);
    assert.deepEqual(
      versions.filter((v) => v.served).map((v) => v.name),
      ["v1alpha4"],
    );
    assert.deepEqual(
      versions.filter((v) => v.storage).map((v) => v.name),
      ["v1alpha4"],
    );
    const schema = versions[0]!.schema!.openAPIV3Schema as {
      type: string;
      properties: { spec: { type: string; required: string[] } };
    };
    assert.equal(schema.type, "object", "root gets type: object");
    assert.deepEqual(schema.properties.spec.required, ["service", "backends"]);
    const spec = (split.crd as unknown as { spec: Record<string, unknown> }).spec;
    assert.equal(spec.version, undefined);
    assert.equal(spec.validation, undefined);
  });

  it("toV1Crd moves printer columns and subresources into each version and leaves v1 CRDs alone", () => {
    const v1beta1 = {
      apiVersion: "apiextensions.k8s.io/v1beta1",
      kind: "CustomResourceDefinition",
      metadata: { name: "things.example.com" },
      spec: {
        group: "example.com",
        version: "v1",
        versions: [{ name: "v1", served: true, storage: true }],
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: "Age", type: "date", JSONPath: ".metadata.creationTimestamp" }],
        validation: {
          openAPIV3Schema: { properties: { spec: { properties: { properties: { type: "string" } } } } },
        },
      },
    } as KubernetesObject;
    const v1 = toV1Crd(v1beta1);
    assert.deepEqual(versionsOf(v1), [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }],
        schema: {
          openAPIV3Schema: {
            type: "object",
            // A field named "properties" is data: it is not mistaken for a schema node.
            properties: { spec: { type: "object", properties: { properties: { type: "string" } } } },
          },
        },
      },
    ]);
    const already = { ...v1beta1, apiVersion: "apiextensions.k8s.io/v1" } as KubernetesObject;
    assert.equal(toV1Crd(already), already);
  });
});
