// Tests of the provider registry: every provider is one descriptor, and everything else derives from the list.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtinQuery } from "../analysis/builtin-queries.ts";
import { MESH_PROVIDER_NAMES } from "../api/constants.ts";
import { type RolloutSpec, RolloutSpecSchema } from "../api/rollout-schema.ts";
import type { ServedGroup } from "../kube/discovery.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import { rbacRulesOf } from "./provider.ts";
import {
  createMeshAdapter,
  detectMeshApis,
  MESH_API_GROUPS,
  MESH_PROVIDERS,
  metricsMeshFor,
  providerSpecIssues,
  providerWarnings,
  routingTypes,
} from "./registry.ts";
import { FakeApi } from "./testing/fake-api.ts";

/** Every group served at every version some provider knows, each with its first version preferred. */
function everything(): Map<string, ServedGroup> {
  const served = new Map<string, ServedGroup>();
  const add = (group: string, version: string) => {
    const g = served.get(group) ?? { versions: [], preferred: version };
    if (!g.versions.includes(version)) g.versions.push(version);
    served.set(group, g);
  };
  for (const p of MESH_PROVIDERS) {
    for (const k of p.routingKinds) for (const v of k.versions) add(k.group, v);
    for (const t of p.policyTypes) add(t.group, t.version);
  }
  return served;
}

describe("mesh provider registry", () => {
  it("the schema's provider enum is the list of descriptors", () => {
    assert.deepEqual(RolloutSpecSchema.shape.provider.options, [...MESH_PROVIDER_NAMES]);
    assert.equal(new Set(MESH_PROVIDER_NAMES).size, MESH_PROVIDERS.length, "names are unique");
  });

  it("every provider is detected, built and watched from a cluster serving its routing API", async () => {
    const apis = await detectMeshApis({ served: async () => everything() });
    assert.deepEqual(Object.keys(apis).sort(), [...MESH_PROVIDER_NAMES].sort());
    const client = new FakeApi();
    for (const p of MESH_PROVIDERS) assert.equal(createMeshAdapter(p.name, { client, ...apis }).name, p.name);
    const watched = routingTypes(apis);
    for (const t of watched) {
      const kind = MESH_PROVIDERS.flatMap((p) => p.routingKinds).find(
        (k) => k.group === t.group && k.plural === t.plural,
      );
      assert.ok(kind?.versions.includes(t.version), `${t.group}/${t.version} ${t.plural} is a routing kind`);
    }
    assert.equal(new Set(watched.map((t) => `${t.group}/${t.plural}`)).size, watched.length, "no duplicates");
  });

  it("a provider whose groups are not served is not detected, and names what to install", async () => {
    for (const p of MESH_PROVIDERS) {
      // A provider that needs no API group (kubernetes: plain Services) is detected in every cluster.
      if (p.apiGroups.length === 0) continue;
      const served = everything();
      for (const g of p.apiGroups) served.delete(g);
      const apis = await detectMeshApis({ served: async () => served });
      assert.equal(p.name in apis, false, p.name);
      assert.throws(
        () => createMeshAdapter(p.name, { client: new FakeApi(), ...apis }),
        (e: unknown) => e instanceof Error && e.message.includes(p.requires),
      );
    }
  });

  it("every group a provider writes is one discovery keeps", () => {
    for (const p of MESH_PROVIDERS) {
      // The core group ("") is always served: nothing in it needs discovering.
      for (const r of rbacRulesOf(p))
        for (const g of r.apiGroups) assert.ok(g === "" || MESH_API_GROUPS.includes(g), `${p.name}: ${g}`);
    }
  });

  it("builtin metrics: a provider with its own metrics has a query vocabulary; the others use the fallback", () => {
    for (const p of MESH_PROVIDERS) {
      const mesh = metricsMeshFor(p.name, "linkerd");
      assert.equal(mesh, p.metricsMesh ?? "linkerd");
      const q = builtinQuery({
        builtin: "request-success-rate",
        mesh,
        namespace: "shop",
        workload: "checkout",
        window: "1m",
      });
      assert.match(q, /checkout/);
    }
    assert.equal(metricsMeshFor("istio", "linkerd"), "istio");
    assert.equal(metricsMeshFor("smi", "istio"), "istio");
  });

  it("Linkerd alone holds a spec to its authz HTTPRoute limits: 1024-character paths, 128 matches", () => {
    // Built past the schema, as a Rollout stored before its CEL rules existed would be.
    const withPolicy = (
      provider: RolloutSpec["provider"],
      routes: NonNullable<RolloutSpec["accessPolicy"]>["routes"],
    ): RolloutSpec => ({
      ...structuredClone(makeSpec()),
      provider,
      accessPolicy: { sources: [{ serviceAccount: "frontend" }], routes },
    });
    assert.deepEqual(providerSpecIssues(withPolicy("linkerd", [{ pathRegex: `/${"a".repeat(1016)}` }])), []);
    const issues = providerSpecIssues(withPolicy("linkerd", [{ pathRegex: `/${"a".repeat(1017)}` }]));
    assert.equal(issues[0]?.path, "spec.accessPolicy.routes[0].pathRegex");
    assert.match(issues[0]?.message ?? "", /1025-character Linkerd HTTPRoute path \(at most 1024\)/);
    const many = Array.from({ length: 33 }, (_, i) => ({
      pathRegex: `/r${i}`,
      methods: ["GET" as const, "POST" as const, "PUT" as const, "DELETE" as const],
    }));
    assert.match(
      providerSpecIssues(withPolicy("linkerd", many))[0]?.message ?? "",
      /expands to 132 Linkerd HTTPRoute matches .* at most 128/,
    );
    for (const other of ["istio", "smi", "gateway-api"] as const) {
      assert.deepEqual(
        providerSpecIssues(withPolicy(other, [{ pathRegex: `/${"a".repeat(1023)}` }])),
        [],
        other,
      );
      assert.deepEqual(providerSpecIssues(withPolicy(other, many)), [], other);
    }
  });

  it("SMI alone warns that a multi-port Service moves every port with the split", () => {
    const split = {
      namespace: "shop",
      rolloutName: "podinfo",
      rootService: "podinfo",
      primaryService: "podinfo-primary",
      canaryService: "podinfo-canary",
      port: 80,
      otherPorts: [9090],
    };
    for (const p of MESH_PROVIDERS) {
      const warnings = providerWarnings(p.name, split);
      if (p.name !== "smi") assert.deepEqual(warnings, [], p.name);
      else
        assert.deepEqual(
          warnings.map((w) => w.reason),
          ["PortsNotSplit"],
        );
      assert.deepEqual(providerWarnings(p.name, { ...split, otherPorts: [] }), [], p.name);
    }
  });
});
