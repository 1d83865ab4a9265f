// Mesh-adapter conformance on a real API server: every adapter in CONFORMANCE passes the same table of cases.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MESH_PROVIDER_NAMES, type MeshProvider } from "../src/api/constants.ts";
import type { OwnerRef } from "../src/api/object-meta.ts";
import { createKubeClients, type KubeClients, type RawRequest } from "../src/kube/clients.ts";
import { ApiDiscovery } from "../src/kube/discovery.ts";
import { KubeApiError } from "../src/kube/errors.ts";
import { MeshError } from "../src/mesh/errors.ts";
import { gatewayHttpRouteType, linkerdHttpRouteType } from "../src/mesh/gamma-render.ts";
import { GatewayApiAdapter } from "../src/mesh/gateway-api.ts";
import { IstioAdapter } from "../src/mesh/istio.ts";
import { WAYPOINT_LABEL } from "../src/mesh/istio-ambient.ts";
import { authorizationPolicyType, virtualServiceType } from "../src/mesh/istio-render.ts";
import { LinkerdAdapter } from "../src/mesh/linkerd.ts";
import {
  authzRouteName,
  linkerdAuthorizationPolicyType,
  meshTlsAuthenticationType,
  networkAuthenticationType,
  serverType,
} from "../src/mesh/linkerd-render.ts";
import { type MeshClient, type ResourceType, resourcePath } from "../src/mesh/object-store.ts";
import type { MeshObject } from "../src/mesh/objects.ts";
import { detectSmiVersions, SmiAdapter } from "../src/mesh/smi.ts";
import {
  type AccessVersion,
  httpRouteGroupType,
  type SpecsVersion,
  type SplitVersion,
  trafficSplitType,
  trafficTargetType,
} from "../src/mesh/smi-render.ts";
import { aPolicy, aSplit, aSplitRef } from "../src/mesh/testing/models.ts";
import type { AccessPolicyModel, MeshAdapter, SplitRef } from "../src/mesh/types.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { type SmiSet, useSmiSet } from "./cluster/smi-sets.ts";
import { waitFor } from "./cluster/wait.ts";

/** One object an adapter creates, located by type and name. */
interface ObjectRef {
  type: ResourceType;
  name: string;
}

/** One adapter under test. Adding a mesh = one entry here. */
interface ConformanceEntry {
  name: string;
  provider: MeshProvider;
  makeAdapter(client: MeshClient): MeshAdapter;
  /** Objects setRoutes creates; the first is the one a concurrent writer edits in the conflict cases. */
  routeObjects(ref: SplitRef): ObjectRef[];
  /** Objects applyAccessPolicy creates for {@link aPolicy} (which restricts routes); empty when unsupported. */
  policyObjects(ref: SplitRef): ObjectRef[];
  /** False for meshes without an access-policy API: they must refuse a policy clearly instead. */
  accessPolicy: boolean;
  /** SMI only: the TrafficSplit CRD set installed for this row (a real cluster has one; see smi-sets.ts). */
  smiSet?: SmiSet;
  /** Labels of each case's namespace (Istio ambient: the waypoint binding). */
  namespaceLabels?: Record<string, string>;
}

function smiEntry(smiSet: SmiSet, split: SplitVersion) {
  // Access and specs come from smi-sdk-go v0.5.0 in both sets (linkerd-smi ships only the TrafficSplit CRD).
  const access: AccessVersion = "v1alpha3";
  const specs: SpecsVersion = "v1alpha4";
  return {
    name: `smi TrafficSplit ${split} of the ${smiSet} CRD (TrafficTarget ${access}, HTTPRouteGroup ${specs})`,
    provider: "smi",
    smiSet,
    makeAdapter: (client) =>
      new SmiAdapter({ client, splitVersion: split, accessVersion: access, specsVersion: specs }),
    routeObjects: (ref) => [{ type: trafficSplitType(split), name: ref.rolloutName }],
    policyObjects: (ref) => [
      { type: trafficTargetType(access), name: ref.rolloutName },
      { type: httpRouteGroupType(specs), name: ref.rolloutName },
    ],
    accessPolicy: true,
  } satisfies ConformanceEntry;
}

function linkerdEntry(routeGroup: "policy.linkerd.io" | "gateway.networking.k8s.io") {
  const route = routeGroup === "policy.linkerd.io" ? linkerdHttpRouteType : gatewayHttpRouteType("v1");
  return {
    name: `linkerd (split: ${routeGroup} HTTPRoute; Server v1beta3, AuthorizationPolicy, MeshTLSAuthentication)`,
    provider: "linkerd",
    makeAdapter: (client) => new LinkerdAdapter({ client, routeGroup }),
    routeObjects: (ref) => [{ type: route, name: ref.rolloutName }],
    policyObjects: (ref) => [
      { type: serverType("v1beta3"), name: ref.rolloutName },
      { type: linkerdAuthorizationPolicyType, name: ref.rolloutName },
      { type: meshTlsAuthenticationType, name: ref.rolloutName },
      { type: linkerdHttpRouteType, name: authzRouteName(ref.rolloutName) },
    ],
    accessPolicy: true,
  } satisfies ConformanceEntry;
}

const CONFORMANCE: ConformanceEntry[] = [
  // The versions real TrafficSplit CRDs serve: smi-sdk-go v0.5.0 (the default), then linkerd-smi's two.
  smiEntry("smi-sdk-go", "v1alpha4"),
  smiEntry("linkerd-smi", "v1alpha1"),
  smiEntry("linkerd-smi", "v1alpha2"),
  ...(["v1", "v1beta1"] as const).map(
    (version): ConformanceEntry => ({
      name: `istio networking/security ${version} (VirtualService, AuthorizationPolicy per backend)`,
      provider: "istio",
      makeAdapter: (client) =>
        new IstioAdapter({ client, networkingVersion: version, securityVersion: version }),
      routeObjects: (ref) => [{ type: virtualServiceType(version), name: ref.rolloutName }],
      policyObjects: (ref) => [
        { type: authorizationPolicyType(version), name: `${ref.rolloutName}-primary` },
        { type: authorizationPolicyType(version), name: `${ref.rolloutName}-canary` },
      ],
      accessPolicy: true,
    }),
  ),
  {
    name: "istio ambient: behind a waypoint (HTTPRoute with the Service as parent, AuthorizationPolicies by targetRefs)",
    provider: "istio",
    namespaceLabels: { [WAYPOINT_LABEL]: "waypoint" },
    makeAdapter: (client) => new IstioAdapter({ client, httpRouteVersion: "v1" }),
    routeObjects: (ref) => [{ type: gatewayHttpRouteType("v1"), name: ref.rolloutName }],
    policyObjects: (ref) => [
      { type: authorizationPolicyType("v1"), name: `${ref.rolloutName}-primary` },
      { type: authorizationPolicyType("v1"), name: `${ref.rolloutName}-canary` },
    ],
    accessPolicy: true,
  },
  linkerdEntry("policy.linkerd.io"),
  linkerdEntry("gateway.networking.k8s.io"),
  ...(["v1", "v1beta1"] as const).map(
    (version): ConformanceEntry => ({
      name: `gateway-api HTTPRoute ${version} (GAMMA)`,
      provider: "gateway-api",
      makeAdapter: (client) => new GatewayApiAdapter({ client, routeVersion: version }),
      routeObjects: (ref) => [{ type: gatewayHttpRouteType(version), name: ref.rolloutName }],
      policyObjects: () => [],
      accessPolicy: false,
    }),
  ),
];

/**
 * Providers without a routing object of their own, so outside this table: kubernetes switches the root Service's
 * selector, all traffic at once (blue/green only), and is tested through a real proxy in e2e/blue-green.test.ts.
 */
const NO_ROUTING_OBJECT: readonly MeshProvider[] = ["kubernetes"];

/** A call seen by {@link RecordingClient}. */
interface Call {
  method: string;
  path: string;
}

/** Wraps the real client: records every request and can run a hook (a concurrent writer) before each write. */
class RecordingClient implements MeshClient {
  readonly calls: Call[] = [];
  beforeWrite: ((call: Call) => Promise<void>) | undefined;
  readonly #inner: MeshClient;

  constructor(inner: MeshClient) {
    this.#inner = inner;
  }

  async request<T>(req: RawRequest): Promise<T> {
    const call = { method: req.method ?? "GET", path: req.path };
    this.calls.push(call);
    if (call.method !== "GET") await this.beforeWrite?.(call);
    return this.#inner.request<T>(req);
  }

  writes(): Call[] {
    return this.calls.filter((c) => c.method !== "GET");
  }
}

describe("mesh adapter conformance (real API server)", () => {
  it("every provider of the registry has a conformance row", () => {
    assert.deepEqual(
      [...new Set([...CONFORMANCE.map((e) => e.provider), ...NO_ROUTING_OBJECT])].sort(),
      [...MESH_PROVIDER_NAMES].sort(),
    );
  });

  let cluster: Cluster;
  let admin: KubeClients;
  let seq = 0;

  before(async () => {
    cluster = await startCluster({ prometheus: false });
    admin = createKubeClients(cluster.kubeConfig(), { qps: Number.POSITIVE_INFINITY });
  });

  after(async () => {
    await cluster?.stop();
  });

  const pathOf = (ns: string, o: ObjectRef) => resourcePath(o.type, ns, o.name);
  const read = (ns: string, o: ObjectRef) => admin.request<MeshObject>({ path: pathOf(ns, o) });
  const exists = async (ns: string, o: ObjectRef) => {
    try {
      await read(ns, o);
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.kind === "NotFound") return false;
      throw err;
    }
  };

  /** A fresh namespace with an owner object (a ConfigMap: real uid, so garbage collection respects it). */
  async function freshCase(entry: ConformanceEntry) {
    const ns = `conf-${++seq}`;
    await admin.request({
      method: "POST",
      path: "/api/v1/namespaces",
      body: { metadata: { name: ns, ...(entry.namespaceLabels ? { labels: entry.namespaceLabels } : {}) } },
    });
    const cm = await admin.request<MeshObject>({
      method: "POST",
      path: `/api/v1/namespaces/${ns}/configmaps`,
      body: { metadata: { name: "checkout-owner" } },
    });
    const owner: OwnerRef = {
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "checkout-owner",
      uid: cm.metadata.uid!,
    };
    // The backend Services as the workload layer makes them: primary pods carry renamed selector values.
    // Headless: adapters read only selectors and ports, and two cluster IPs per case would exhaust the e2e
    // cluster's /24 Service range over this table.
    for (const [name, app] of [
      ["checkout-primary", "checkout-primary"],
      ["checkout-canary", "checkout"],
    ]) {
      await admin.request({
        method: "POST",
        path: `/api/v1/namespaces/${ns}/services`,
        body: {
          metadata: { name },
          spec: {
            clusterIP: "None",
            selector: { app },
            ports: [{ name: "http", port: 8080, targetPort: "http" }],
          },
        },
      });
    }
    const ref = aSplitRef(ns, "checkout");
    const client = new RecordingClient(admin);
    const policy = (overrides: Partial<AccessPolicyModel> = {}) => aPolicy(overrides, ref, owner);
    return { ns, ref, owner, client, adapter: entry.makeAdapter(client), policy };
  }

  /** Every listed object carries our labels and the controller owner reference. */
  async function assertOwned(ns: string, objects: ObjectRef[], owner: OwnerRef) {
    for (const o of objects) {
      const live = await read(ns, o);
      assert.equal(live.metadata.labels?.["app.kubernetes.io/managed-by"], "vireo", `${o.type.kind} label`);
      assert.equal(live.metadata.labels?.["vireo.dev/rollout"], "checkout", `${o.type.kind} label`);
      assert.deepEqual(
        live.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]),
        [[owner.kind, owner.name, owner.uid, true]],
        `${o.type.kind} owner reference`,
      );
    }
  }

  const versions = async (ns: string, objects: ObjectRef[]) =>
    Promise.all(objects.map(async (o) => (await read(ns, o)).metadata.resourceVersion));

  /** The admin edits `o` out of band (an annotation), as another controller or a person would. */
  async function editOutOfBand(ns: string, o: ObjectRef, value: string) {
    const live = await read(ns, o);
    live.metadata.annotations = { ...live.metadata.annotations, "e2e.vireo.dev/edited": value };
    await admin.request({ method: "PUT", path: pathOf(ns, o), body: live });
  }

  for (const entry of CONFORMANCE) {
    describe(entry.name, () => {
      const { smiSet } = entry;
      if (smiSet) before(() => useSmiSet(cluster.kubeConfig(), smiSet));

      it("setRoutes creates the routing objects (labelled, owned) and getRoutes reads the weights back", async () => {
        const { ns, ref, owner, adapter } = await freshCase(entry);
        await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, owner));
        assert.deepEqual(await adapter.getRoutes(ref), { primary: 90, canary: 10 });
        await assertOwned(ns, entry.routeObjects(ref), owner);
      });

      it("getRoutes is null when the routing object does not exist", async () => {
        const { ref, adapter, client } = await freshCase(entry);
        assert.equal(await adapter.getRoutes(ref), null);
        assert.deepEqual(client.writes(), []);
      });

      it("a second identical setRoutes makes zero writes", async () => {
        const { ns, ref, owner, adapter, client } = await freshCase(entry);
        await adapter.setRoutes(aSplit({ primary: 70, canary: 30 }, ref, owner));
        const before = await versions(ns, entry.routeObjects(ref));
        client.calls.length = 0;
        await adapter.setRoutes(aSplit({ primary: 70, canary: 30 }, ref, owner));
        assert.deepEqual(client.writes(), [], "no create/update/delete request");
        assert.ok(client.calls.length > 0, "it did read");
        assert.deepEqual(await versions(ns, entry.routeObjects(ref)), before, "resourceVersion unchanged");
      });

      it("weight changes 0 → 10 → 50 → 100 read back exactly", async () => {
        const { ref, owner, adapter, client } = await freshCase(entry);
        for (const canary of [0, 10, 50, 100]) {
          client.calls.length = 0;
          await adapter.setRoutes(aSplit({ primary: 100 - canary, canary }, ref, owner));
          assert.ok(client.writes().length > 0, `a write for canary ${canary}`);
          assert.deepEqual(await adapter.getRoutes(ref), { primary: 100 - canary, canary });
        }
      });

      it("a two-port Service (8080 split, 9090 not): stored as rendered, weights read back, only 8080 split where the API can say so", async () => {
        const { ns, ref, owner, adapter, client } = await freshCase(entry);
        const split = { ...aSplit({ primary: 80, canary: 20 }, ref, owner), otherPorts: [9090] };
        await adapter.setRoutes(split);
        assert.deepEqual(await adapter.getRoutes(ref), { primary: 80, canary: 20 });
        client.calls.length = 0;
        await adapter.setRoutes(split);
        assert.deepEqual(client.writes(), [], "the API server kept every field: no rewrite");
        const spec = (await read(ns, entry.routeObjects(ref)[0]!)).spec as Record<string, unknown>;
        if (entry.provider === "istio" && !entry.namespaceLabels) {
          const http = spec.http as {
            name?: string;
            match?: unknown;
            route: { destination: unknown; weight?: number }[];
          }[];
          const split = http.findIndex((h) => h.name === "checkout");
          assert.deepEqual(http[split]?.match, [{ port: 8080 }]);
          assert.deepEqual(http[split + 1], {
            name: "checkout-other-ports",
            route: [{ destination: { host: "checkout-primary" } }],
          });
        } else if (entry.provider === "smi") {
          // A TrafficSplit names a Service, not a port: every port is split (the reconciler warns once).
          assert.deepEqual(Object.keys(spec).sort(), ["backends", "service"]);
        } else {
          const parents = spec.parentRefs as { port?: number }[];
          assert.deepEqual(
            parents.map((p) => p.port),
            [8080],
            "the route attaches to port 8080 only",
          );
        }
      });

      it("a concurrent edit between read and write is retried on 409, keeping the other writer's change", async () => {
        const { ns, ref, owner, adapter, client } = await freshCase(entry);
        await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, owner));
        const target = entry.routeObjects(ref)[0]!;
        let edited = false;
        client.beforeWrite = async (call) => {
          if (call.method === "PUT" && call.path === pathOf(ns, target) && !edited) {
            edited = true;
            await editOutOfBand(ns, target, "concurrent");
          }
        };
        await adapter.setRoutes(aSplit({ primary: 50, canary: 50 }, ref, owner));
        assert.ok(edited, "the concurrent writer ran");
        assert.ok(client.writes().filter((c) => c.method === "PUT").length >= 2, "re-read and re-applied");
        assert.deepEqual(await adapter.getRoutes(ref), { primary: 50, canary: 50 });
        assert.equal((await read(ns, target)).metadata.annotations?.["e2e.vireo.dev/edited"], "concurrent");
      });

      it("when another writer keeps winning it reports a Conflict and never overwrites blindly", async () => {
        const { ns, ref, owner, adapter, client } = await freshCase(entry);
        await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, owner));
        const target = entry.routeObjects(ref)[0]!;
        let edits = 0;
        client.beforeWrite = async (call) => {
          if (call.method === "PUT" && call.path === pathOf(ns, target))
            await editOutOfBand(ns, target, `${++edits}`);
        };
        await assert.rejects(
          adapter.setRoutes(aSplit({ primary: 0, canary: 100 }, ref, owner)),
          (e: unknown) => e instanceof KubeApiError && e.kind === "Conflict",
        );
        client.beforeWrite = undefined;
        assert.deepEqual(await adapter.getRoutes(ref), { primary: 90, canary: 10 }, "our write never landed");
        assert.equal((await read(ns, target)).metadata.annotations?.["e2e.vireo.dev/edited"], `${edits}`);
      });

      if (entry.accessPolicy) {
        it("access policy: applied → in sync (labelled, owned); re-applying writes nothing", async () => {
          const { ns, ref, owner, adapter, client, policy } = await freshCase(entry);
          assert.equal(await adapter.accessPolicyInSync(ref, policy()), false);
          await adapter.applyAccessPolicy({ ...ref, owner }, policy());
          assert.equal(await adapter.accessPolicyInSync(ref, policy()), true);
          await assertOwned(ns, entry.policyObjects(ref), owner);
          const before = await versions(ns, entry.policyObjects(ref));
          client.calls.length = 0;
          await adapter.applyAccessPolicy({ ...ref, owner }, policy());
          assert.deepEqual(client.writes(), []);
          assert.deepEqual(await versions(ns, entry.policyObjects(ref)), before);
        });

        it("a changed policy is out of sync until applied", async () => {
          const { ref, owner, adapter, policy } = await freshCase(entry);
          await adapter.applyAccessPolicy({ ...ref, owner }, policy());
          const changes: Partial<AccessPolicyModel>[] = [
            {
              sources: [
                { serviceAccount: "frontend", namespace: "web" },
                { serviceAccount: "batch", namespace: "jobs" },
              ],
            },
            { routes: [{ pathRegex: "/api/.*", methods: ["GET"] }] },
            { routes: undefined },
            { destinationServiceAccount: "checkout-v2" },
          ];
          for (const change of changes) {
            const next = policy(change);
            assert.equal(await adapter.accessPolicyInSync(ref, next), false, JSON.stringify(change));
            await adapter.applyAccessPolicy({ ...ref, owner }, next);
            assert.equal(await adapter.accessPolicyInSync(ref, next), true, JSON.stringify(change));
          }
        });

        it("a null policy removes ours and is then in sync", async () => {
          const { ns, ref, owner, adapter, policy } = await freshCase(entry);
          await adapter.applyAccessPolicy({ ...ref, owner }, policy());
          assert.equal(await adapter.accessPolicyInSync(ref, null), false);
          await adapter.applyAccessPolicy({ ...ref, owner }, null);
          assert.equal(await adapter.accessPolicyInSync(ref, null), true);
          for (const o of entry.policyObjects(ref)) assert.equal(await exists(ns, o), false, o.type.kind);
          await adapter.applyAccessPolicy({ ...ref, owner }, null); // idempotent
        });
      } else {
        it("refuses an access policy clearly, writes nothing, and is in sync only with none", async () => {
          const { ref, owner, adapter, client, policy } = await freshCase(entry);
          await assert.rejects(
            adapter.applyAccessPolicy({ ...ref, owner }, policy()),
            (e: unknown) => e instanceof MeshError && e.kind === "Unsupported",
          );
          await adapter.applyAccessPolicy({ ...ref, owner }, null);
          assert.deepEqual(client.writes(), []);
          assert.equal(await adapter.accessPolicyInSync(ref, policy()), false);
          assert.equal(await adapter.accessPolicyInSync(ref, null), true);
        });
      }

      it("cleanup removes everything it created, and a second cleanup writes nothing", async () => {
        const { ns, ref, owner, adapter, client, policy } = await freshCase(entry);
        await adapter.setRoutes(aSplit({ primary: 50, canary: 50 }, ref, owner));
        if (entry.accessPolicy) await adapter.applyAccessPolicy({ ...ref, owner }, policy());
        await adapter.cleanup(ref);
        for (const o of [...entry.routeObjects(ref), ...entry.policyObjects(ref)]) {
          assert.equal(await exists(ns, o), false, o.type.kind);
        }
        assert.equal(await adapter.getRoutes(ref), null);
        client.calls.length = 0;
        await adapter.cleanup(ref);
        assert.deepEqual(client.writes(), []);
      });

      it("owner references are real: deleting the owner garbage-collects every object", async () => {
        const { ns, ref, owner, adapter, policy } = await freshCase(entry);
        await adapter.setRoutes(aSplit({ primary: 50, canary: 50 }, ref, owner));
        if (entry.accessPolicy) await adapter.applyAccessPolicy({ ...ref, owner }, policy());
        await admin.request({ method: "DELETE", path: `/api/v1/namespaces/${ns}/configmaps/${owner.name}` });
        const objects = [...entry.routeObjects(ref), ...entry.policyObjects(ref)];
        await waitFor(async () => (await Promise.all(objects.map((o) => exists(ns, o)))).every((e) => !e), {
          what: "garbage collection of the mesh objects",
          timeoutMs: 60_000,
          intervalMs: 250,
        });
      });

      it("a same-named object it does not manage is refused, and survives cleanup", async () => {
        const { ns, ref, owner, adapter } = await freshCase(entry);
        // Create ours, then strip our labels: now it looks like someone else's object.
        await adapter.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, owner));
        const target = entry.routeObjects(ref)[0]!;
        const live = await read(ns, target);
        live.metadata.labels = { team: "someone-else" };
        live.metadata.ownerReferences = [];
        await admin.request({ method: "PUT", path: pathOf(ns, target), body: live });
        await assert.rejects(
          adapter.setRoutes(aSplit({ primary: 0, canary: 100 }, ref, owner)),
          (e: unknown) => e instanceof MeshError && e.kind === "NotOwned",
        );
        await adapter.cleanup(ref);
        assert.equal(await exists(ns, target), true);
      });
    });
  }

  describe("Istio and Linkerd specifics", () => {
    for (const entry of CONFORMANCE.filter((e) => e.provider === "istio" || e.provider === "linkerd")) {
      it(`${entry.name}: a namespace-wide source (*) is stored, in sync, and idempotent`, async () => {
        const { ref, owner, adapter, client, policy } = await freshCase(entry);
        const wildcard = policy({ sources: [{ serviceAccount: "*", namespace: "jobs" }] });
        await adapter.applyAccessPolicy({ ...ref, owner }, wildcard);
        assert.equal(await adapter.accessPolicyInSync(ref, wildcard), true);
        client.calls.length = 0;
        await adapter.applyAccessPolicy({ ...ref, owner }, wildcard);
        assert.deepEqual(client.writes(), []);
      });
    }
  });

  describe("Linkerd: probes under a per-route policy", () => {
    for (const entry of CONFORMANCE.filter((e) => e.provider === "linkerd")) {
      it(`${entry.name}: the probe route, NetworkAuthentication and AuthorizationPolicy are stored as rendered`, async () => {
        const { ns, ref, owner, adapter, client, policy } = await freshCase(entry);
        // The Services' targetPort is the container port named "http".
        const withProbes = policy({
          probes: [
            { path: "/healthz", port: 8080, portName: "http" },
            { path: "/ready", port: 8080, portName: "http" },
            { path: "/metrics", port: 9100 },
          ],
        });
        await adapter.applyAccessPolicy({ ...ref, owner }, withProbes);
        assert.equal(await adapter.accessPolicyInSync(ref, withProbes), true, "the CRDs kept every field");
        const probeObjects: ObjectRef[] = [
          { type: linkerdHttpRouteType, name: "checkout-probes" },
          { type: networkAuthenticationType, name: "checkout-probes" },
          { type: linkerdAuthorizationPolicyType, name: "checkout-probes" },
        ];
        await assertOwned(ns, probeObjects, owner);
        const route = (await read(ns, probeObjects[0]!)).spec as { rules: { matches: unknown[] }[] };
        assert.deepEqual(route.rules[0]?.matches, [
          { path: { type: "Exact", value: "/healthz" }, method: "GET" },
          { path: { type: "Exact", value: "/ready" }, method: "GET" },
        ]);
        client.calls.length = 0;
        await adapter.applyAccessPolicy({ ...ref, owner }, withProbes);
        assert.deepEqual(client.writes(), []);
        await adapter.applyAccessPolicy({ ...ref, owner }, null);
        for (const o of probeObjects) assert.equal(await exists(ns, o), false, o.type.kind);
      });
    }
  });

  describe("SMI specifics: smi-sdk-go v0.5.0's TrafficSplit CRD (v1alpha4 only)", () => {
    const entry = CONFORMANCE.find((e) => e.smiSet === "smi-sdk-go")!;
    before(() => useSmiSet(cluster.kubeConfig(), "smi-sdk-go"));

    it("detects the served versions through discovery", async () => {
      const got = await detectSmiVersions(new ApiDiscovery({ clients: admin }));
      assert.deepEqual(got, { split: "v1alpha4", access: "v1alpha3", specs: "v1alpha4" });
    });

    it("an adapter for an unserved version reports NotServed, never 'no routes', and writes nothing", async () => {
      const { ref, owner } = await freshCase(entry);
      const client = new RecordingClient(admin);
      const stale = new SmiAdapter({ client, splitVersion: "v1alpha2" });
      const notServed = (e: unknown) => e instanceof MeshError && e.kind === "NotServed";
      await assert.rejects(stale.getRoutes(ref), notServed);
      await assert.rejects(stale.setRoutes(aSplit({ primary: 90, canary: 10 }, ref, owner)), notServed);
      await stale.cleanup(ref);
      assert.deepEqual(client.writes(), []);
    });

    it("rejects a policy SMI cannot express without writing anything", async () => {
      const { ns, ref, owner, adapter, client, policy } = await freshCase(entry);
      const wildcard = policy({ sources: [{ serviceAccount: "*", namespace: "web" }] });
      await assert.rejects(
        adapter.applyAccessPolicy({ ...ref, owner }, wildcard),
        (e: unknown) => e instanceof MeshError && e.kind === "Unsupported",
      );
      assert.deepEqual(client.writes(), []);
      assert.equal(await adapter.accessPolicyInSync(ref, wildcard), false);
      for (const o of entry.policyObjects(ref)) assert.equal(await exists(ns, o), false);
    });
  });

  describe("SMI specifics: linkerd-smi's TrafficSplit CRD (v1alpha1 stored, v1alpha2)", () => {
    const entry = CONFORMANCE.find((e) => e.smiSet === "linkerd-smi")!;
    before(() => useSmiSet(cluster.kubeConfig(), "linkerd-smi"));

    it("detects the served versions through discovery", async () => {
      const got = await detectSmiVersions(new ApiDiscovery({ clients: admin }));
      // v1alpha2 is the preferred (highest) served version; access/specs stay smi-sdk-go's.
      assert.deepEqual(got, { split: "v1alpha2", access: "v1alpha3", specs: "v1alpha4" });
    });

    it("reads hand-written v1alpha1 quantities through both served versions; v1alpha4 is not served", async () => {
      const { ns, ref } = await freshCase(entry);
      await admin.request({
        method: "POST",
        path: resourcePath(trafficSplitType("v1alpha1"), ns),
        body: {
          apiVersion: "split.smi-spec.io/v1alpha1",
          kind: "TrafficSplit",
          metadata: { name: "checkout" },
          spec: {
            service: "checkout",
            backends: [
              { service: "checkout-primary", weight: "750m" },
              { service: "checkout-canary", weight: "0.25" },
            ],
          },
        },
      });
      for (const split of ["v1alpha1", "v1alpha2"] as const) {
        const adapter = new SmiAdapter({ client: admin, splitVersion: split });
        assert.deepEqual(await adapter.getRoutes(ref), { primary: 75, canary: 25 }, split);
      }
      await assert.rejects(
        new SmiAdapter({ client: admin, splitVersion: "v1alpha4" }).getRoutes(ref),
        (e: unknown) => e instanceof MeshError && e.kind === "NotServed",
      );
    });
  });
});
