import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GITOPS_ANNOTATIONS } from "../api/constants.ts";
import { MeshError } from "./errors.ts";
import type { MeshObject } from "./objects.ts";
import { normaliseRoutes, normaliseSources } from "./policy.ts";
import {
  parseTrafficSplitWeights,
  renderHttpRouteGroup,
  renderTrafficSplit,
  renderTrafficTarget,
  SPLIT_VERSIONS,
  sameTrafficSplitSpec,
  smiPortsWarning,
} from "./smi-render.ts";
import { anOwner, aPolicy, aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const split = (backends: unknown[], extra: Record<string, unknown> = {}): MeshObject => ({
  apiVersion: "split.smi-spec.io/v1alpha1",
  kind: "TrafficSplit",
  metadata: { name: "checkout" },
  spec: { service: "checkout", backends, ...extra },
});

describe("renderTrafficSplit", () => {
  it("v1alpha1 writes integer quantity strings; metadata carries labels and a controller owner reference", () => {
    const obj = renderTrafficSplit(aSplit({ primary: 90, canary: 10 }), "v1alpha1");
    assert.deepEqual(obj, {
      apiVersion: "split.smi-spec.io/v1alpha1",
      kind: "TrafficSplit",
      metadata: {
        name: "checkout",
        namespace: "shop",
        labels: { "app.kubernetes.io/managed-by": "vireo", "vireo.dev/rollout": "checkout" },
        annotations: { ...GITOPS_ANNOTATIONS },
        ownerReferences: [
          {
            apiVersion: "vireo.dev/v1alpha1",
            kind: "Rollout",
            name: "checkout",
            uid: anOwner().uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        service: "checkout",
        backends: [
          { service: "checkout-primary", weight: "90" },
          { service: "checkout-canary", weight: "10" },
        ],
      },
    });
  });

  for (const version of ["v1alpha2", "v1alpha3", "v1alpha4"] as const) {
    it(`${version} writes integer weights, both backends even at 0, and no matches`, () => {
      const obj = renderTrafficSplit(aSplit({ primary: 100, canary: 0 }), version);
      assert.equal(obj.apiVersion, `split.smi-spec.io/${version}`);
      assert.deepEqual(obj.spec, {
        service: "checkout",
        backends: [
          { service: "checkout-primary", weight: 100 },
          { service: "checkout-canary", weight: 0 },
        ],
      });
    });
  }

  it("rejects weights that are not integers 0..100 summing to 100", () => {
    for (const w of [
      { primary: 90, canary: 20 },
      { primary: 50.5, canary: 49.5 },
      { primary: -10, canary: 110 },
      { primary: Number.NaN, canary: 100 },
    ]) {
      assert.throws(() => renderTrafficSplit(aSplit(w), "v1alpha2"), RangeError);
    }
  });

  it("render then parse gives back the weights, for every version (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.constantFrom(...SPLIT_VERSIONS), (canary, version) => {
        const weights = { primary: 100 - canary, canary };
        const obj = renderTrafficSplit(aSplit(weights), version);
        assert.deepEqual(parseTrafficSplitWeights(obj, ref), weights);
        // A milli-quantity spelling of the same split (as linkerd-smi users write it) reads the same.
        const milli = split([
          { service: "checkout-primary", weight: `${weights.primary * 10}m` },
          { service: "checkout-canary", weight: `${canary * 10}m` },
        ]);
        assert.deepEqual(parseTrafficSplitWeights(milli, ref), weights);
      }),
    );
  });
});

describe("smiPortsWarning", () => {
  it("names every port that moves with the split, and says which providers split one port", () => {
    const message = smiPortsWarning({
      ...aSplit({ primary: 90, canary: 10 }),
      otherPorts: [9443, 9090, 9090],
    });
    assert.match(message ?? "", /Service checkout has ports 8080, 9090, 9443/);
    assert.match(message ?? "", /ports 9090, 9443 move to the canary with port 8080/);
    assert.match(message ?? "", /istio, linkerd or gateway-api/);
    // A TrafficSplit with other ports is rendered exactly as without: SMI has no way to say "one port".
    assert.deepEqual(
      renderTrafficSplit({ ...aSplit({ primary: 90, canary: 10 }), otherPorts: [9090] }, "v1alpha2"),
      renderTrafficSplit(aSplit({ primary: 90, canary: 10 }), "v1alpha2"),
    );
  });

  it("is silent for a single-port Service", () => {
    assert.equal(smiPortsWarning(aSplit({ primary: 90, canary: 10 })), undefined);
    assert.equal(smiPortsWarning({ ...aSplit({ primary: 90, canary: 10 }), otherPorts: [8080] }), undefined);
  });
});

describe("parseTrafficSplitWeights", () => {
  const cases: { name: string; backends: unknown[]; want: { primary: number; canary: number } | null }[] = [
    {
      name: "milli-quantities",
      backends: [
        { service: "checkout-primary", weight: "500m" },
        { service: "checkout-canary", weight: "500m" },
      ],
      want: { primary: 50, canary: 50 },
    },
    {
      name: "mixed spellings of a 1:1 split",
      backends: [
        { service: "checkout-primary", weight: "1" },
        { service: "checkout-canary", weight: "1000m" },
      ],
      want: { primary: 50, canary: 50 },
    },
    {
      name: "0.5 against 1k",
      backends: [
        { service: "checkout-canary", weight: "0.5" },
        { service: "checkout-primary", weight: "1k" },
      ],
      want: { primary: 100, canary: 0 },
    },
    {
      name: "numbers, backends in any order",
      backends: [
        { service: "checkout-canary", weight: 25 },
        { service: "checkout-primary", weight: 75 },
      ],
      want: { primary: 75, canary: 25 },
    },
    {
      name: "relative weights that don't sum to 100",
      backends: [
        { service: "checkout-primary", weight: 3 },
        { service: "checkout-canary", weight: 1 },
      ],
      want: { primary: 75, canary: 25 },
    },
    {
      name: "canary backend missing",
      backends: [{ service: "checkout-primary", weight: "1" }],
      want: { primary: 100, canary: 0 },
    },
    {
      name: "foreign backends are ignored",
      backends: [
        { service: "checkout", weight: 50 },
        { service: "checkout-primary", weight: 40 },
        { service: "checkout-canary", weight: 10 },
      ],
      want: { primary: 80, canary: 20 },
    },
    {
      name: "a repeated backend adds up",
      backends: [
        { service: "checkout-primary", weight: 30 },
        { service: "checkout-canary", weight: 20 },
        { service: "checkout-canary", weight: 50 },
      ],
      want: { primary: 30, canary: 70 },
    },
    {
      name: "both zero routes nothing",
      backends: [
        { service: "checkout-primary", weight: 0 },
        { service: "checkout-canary", weight: "0m" },
      ],
      want: null,
    },
    {
      name: "an unparseable weight",
      backends: [
        { service: "checkout-primary", weight: "ninety" },
        { service: "checkout-canary", weight: 10 },
      ],
      want: null,
    },
    { name: "no backends", backends: [], want: null },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(parseTrafficSplitWeights(split(c.backends), ref), c.want));
  }

  it("tolerates a malformed spec", () => {
    assert.equal(parseTrafficSplitWeights({ ...split([]), spec: undefined }, ref), null);
    assert.equal(parseTrafficSplitWeights({ ...split([]), spec: { backends: "x" } }, ref), null);
    assert.equal(parseTrafficSplitWeights(split([null, 7]), ref), null);
  });
});

describe("sameTrafficSplitSpec", () => {
  const desired = renderTrafficSplit(aSplit({ primary: 90, canary: 10 }), "v1alpha1");

  it("ignores server-set metadata, status and key order", () => {
    const live: MeshObject = {
      status: { observed: true },
      kind: "TrafficSplit",
      apiVersion: "split.smi-spec.io/v1alpha1",
      metadata: {
        name: "checkout",
        resourceVersion: "812",
        uid: "abc",
        generation: 4,
        creationTimestamp: "2026-01-01T00:00:00Z",
        managedFields: [{ manager: "kubectl" }],
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" },
      },
      spec: {
        backends: [
          { weight: "90", service: "checkout-primary" },
          { weight: "10", service: "checkout-canary" },
        ],
        service: "checkout",
      },
    };
    assert.ok(sameTrafficSplitSpec(live, desired));
  });

  it("compares v1alpha1 weights by value, not spelling", () => {
    const spelled = (p: unknown, c: unknown) =>
      split([
        { service: "checkout-primary", weight: p },
        { service: "checkout-canary", weight: c },
      ]);
    assert.ok(sameTrafficSplitSpec(spelled(90, 10), desired));
    assert.ok(sameTrafficSplitSpec(spelled("90000m", "0.01k"), desired));
    // Same ratio, different values: another tool reading raw weights would see a change, so it is one.
    assert.ok(!sameTrafficSplitSpec(spelled("900m", "100m"), desired));
    assert.ok(!sameTrafficSplitSpec(spelled("89", "11"), desired));
  });

  it("detects a changed service, backend order, extra backends and matches", () => {
    const backends = (desired.spec as { backends: unknown[] }).backends;
    assert.ok(!sameTrafficSplitSpec({ ...desired, spec: { service: "other", backends } }, desired));
    assert.ok(!sameTrafficSplitSpec(split([...backends].reverse()), desired));
    assert.ok(!sameTrafficSplitSpec(split([...backends, { service: "x", weight: "0" }]), desired));
    assert.ok(
      !sameTrafficSplitSpec(
        split(backends, { matches: [{ kind: "HTTPRouteGroup", name: "beta" }] }),
        desired,
      ),
    );
  });
});

describe("access policy rendering", () => {
  it("no routes → one match for every path and method, referenced by the target", () => {
    const policy = aPolicy({ routes: undefined });
    const group = renderHttpRouteGroup(policy, "v1alpha4");
    assert.equal(group.apiVersion, "specs.smi-spec.io/v1alpha4");
    assert.deepEqual(group.spec, { matches: [{ name: "route-0", pathRegex: ".*", methods: ["*"] }] });
    assert.deepEqual(renderHttpRouteGroup(aPolicy({ routes: [] }), "v1alpha4").spec, group.spec);
    const target = renderTrafficTarget(policy, "v1alpha3");
    assert.deepEqual(target.spec, {
      destination: { kind: "ServiceAccount", name: "checkout", namespace: "shop" },
      sources: [{ kind: "ServiceAccount", name: "frontend", namespace: "web" }],
      rules: [{ kind: "HTTPRouteGroup", name: "checkout", matches: ["route-0"] }],
    });
  });

  it("renders v1alpha2 targets and v1alpha3 groups in the same spec layout, without a port", () => {
    const target = renderTrafficTarget(aPolicy(), "v1alpha2");
    assert.equal(target.apiVersion, "access.smi-spec.io/v1alpha2");
    assert.equal((target.spec as { destination: { port?: number } }).destination.port, undefined);
    assert.equal(renderHttpRouteGroup(aPolicy(), "v1alpha3").apiVersion, "specs.smi-spec.io/v1alpha3");
  });

  it("normalises hostile-but-valid routes: case, duplicates, wildcards, order; regexes kept verbatim", () => {
    const weird = `${String.raw`^/a\.b/(?<id>[^/"']+)/\u00e9\$ "quoted" ü 🙂`}\n`;
    const matches = normaliseRoutes([
      { pathRegex: "/z", methods: ["post", "GET", "get", " Post "] },
      { pathRegex: weird, methods: ["DELETE"] },
      { pathRegex: "/z", methods: ["GET", "POST"] }, // duplicate of the first after normalising
      { pathRegex: "/any", methods: ["GET", "*"] },
      { methods: ["HEAD"] },
      { pathRegex: "" },
    ]);
    assert.deepEqual(matches, [
      { name: "route-0", pathRegex: ".*", methods: ["*"] },
      { name: "route-1", pathRegex: ".*", methods: ["HEAD"] },
      { name: "route-2", pathRegex: "/any", methods: ["*"] },
      { name: "route-3", pathRegex: "/z", methods: ["GET", "POST"] },
      { name: "route-4", pathRegex: weird, methods: ["DELETE"] },
    ]);
  });

  it("sources: default namespace, de-duplicated, sorted; * is refused as inexpressible in SMI", () => {
    const policy = aPolicy({
      sources: [
        { serviceAccount: "zeta", namespace: "web" },
        { serviceAccount: "alpha", namespace: "" },
        { serviceAccount: "zeta", namespace: "web" },
        { serviceAccount: "beta", namespace: "api" },
      ],
    });
    const spec = renderTrafficTarget(policy, "v1alpha3").spec as {
      sources: { name: string; namespace: string }[];
    };
    assert.deepEqual(
      spec.sources.map((s) => `${s.namespace}/${s.name}`),
      ["api/beta", "shop/alpha", "web/zeta"],
    );
    assert.throws(
      () =>
        renderTrafficTarget(aPolicy({ sources: [{ serviceAccount: "*", namespace: "web" }] }), "v1alpha3"),
      (e: unknown) => e instanceof MeshError && e.kind === "Unsupported" && /"\*"/.test(e.message),
    );
  });

  it("a * source absorbs the named ServiceAccounts of its namespace (meshes that can express it)", () => {
    const sources = normaliseSources(
      aPolicy({
        sources: [
          { serviceAccount: "a", namespace: "web" },
          { serviceAccount: "*", namespace: "web" },
          { serviceAccount: "b", namespace: "api" },
        ],
      }),
    );
    assert.deepEqual(sources, [
      { serviceAccount: "b", namespace: "api" },
      { serviceAccount: "*", namespace: "web" },
    ]);
  });

  it("rendering does not depend on the order of routes or sources (property)", () => {
    const route = fc.record(
      {
        pathRegex: fc.string({ maxLength: 12 }),
        methods: fc.array(fc.constantFrom("GET", "get", "POST", "PUT", "DELETE", "*", "HEAD"), {
          maxLength: 4,
        }),
      },
      { requiredKeys: [] },
    );
    const source = fc.record({
      serviceAccount: fc.constantFrom("a", "b", "frontend", "x-1"),
      namespace: fc.constantFrom("", "web", "shop", "zz"),
    });
    fc.assert(
      fc.property(
        fc.array(route, { maxLength: 8 }),
        fc.array(source, { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        (routes, sources, seeds) => {
          const shuffle = <T>(xs: T[]): T[] =>
            xs
              .map((x) => ({ x, k: seeds.next().value }))
              .sort((a, b) => a.k - b.k)
              .map((p) => p.x);
          const a = aPolicy({ routes, sources });
          const b = aPolicy({ routes: shuffle([...routes]), sources: shuffle([...sources]) });
          assert.deepEqual(renderHttpRouteGroup(b, "v1alpha4"), renderHttpRouteGroup(a, "v1alpha4"));
          assert.deepEqual(renderTrafficTarget(b, "v1alpha3"), renderTrafficTarget(a, "v1alpha3"));
          // Every rule match names a match of the group.
          const names = (
            renderHttpRouteGroup(a, "v1alpha4").spec as { matches: { name: string }[] }
          ).matches.map((m) => m.name);
          const rule = (renderTrafficTarget(a, "v1alpha3").spec as { rules: { matches: string[] }[] })
            .rules[0];
          assert.deepEqual(rule?.matches, names);
        },
      ),
    );
  });
});
