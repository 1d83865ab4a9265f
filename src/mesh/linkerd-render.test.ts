import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MeshError } from "./errors.ts";
import { gatewayHttpRouteType, parseHttpRouteWeights, renderHttpRoute } from "./gamma-render.ts";
import {
  authzMatchCount,
  authzPathMatch,
  needsAuthzRoute,
  renderAuthzRoute,
  renderLinkerdAuthorizationPolicy,
  renderMeshTlsAuthentication,
  renderServer,
  unionSelector,
} from "./linkerd-render.ts";
import type { MeshObject } from "./objects.ts";
import { aPolicy, aSplit, aSplitRef } from "./testing/models.ts";

const ref = aSplitRef();
const routeType = gatewayHttpRouteType("v1");

describe("GAMMA HTTPRoute", () => {
  it("Service parent and backends with every CRD-defaulted field explicit", () => {
    const route = renderHttpRoute(aSplit({ primary: 60, canary: 40 }), routeType);
    assert.equal(route.apiVersion, "gateway.networking.k8s.io/v1");
    assert.deepEqual(route.spec, {
      parentRefs: [{ group: "", kind: "Service", name: "checkout", port: 8080 }],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [
            { group: "", kind: "Service", name: "checkout-primary", port: 8080, weight: 60 },
            { group: "", kind: "Service", name: "checkout-canary", port: 8080, weight: 40 },
          ],
        },
      ],
    });
  });

  it("render then parse gives back the weights (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), (canary) => {
        const weights = { primary: 100 - canary, canary };
        assert.deepEqual(parseHttpRouteWeights(renderHttpRoute(aSplit(weights), routeType), ref), weights);
      }),
    );
  });

  it("reads relative weights, the default weight 1, and ignores non-Service backends", () => {
    const route = (backendRefs: unknown[]): MeshObject => ({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "checkout" },
      spec: { rules: [{ backendRefs }] },
    });
    assert.deepEqual(
      parseHttpRouteWeights(route([{ name: "checkout-primary" }, { name: "checkout-canary" }]), ref),
      {
        primary: 50,
        canary: 50,
      },
    );
    assert.deepEqual(
      parseHttpRouteWeights(
        route([
          { name: "checkout-primary", weight: 3000 },
          { name: "checkout-canary", weight: 1000 },
          { name: "checkout-canary", kind: "ServiceImport", weight: 999999 },
        ]),
        ref,
      ),
      { primary: 75, canary: 25 },
    );
    assert.equal(parseHttpRouteWeights(route([{ name: "checkout-primary", weight: 0 }]), ref), null);
    assert.equal(parseHttpRouteWeights(route([{ name: "checkout-primary", weight: "1" }]), ref), null);
  });
});

describe("GAMMA HTTPRoute on a multi-port Service", () => {
  it("attaches to the rollout port only: the parentRef port keeps other ports on the root Service", () => {
    const route = renderHttpRoute({ ...aSplit({ primary: 60, canary: 40 }), otherPorts: [9090] }, routeType);
    const spec = route.spec as {
      parentRefs: { port: number }[];
      rules: { backendRefs: { port: number }[] }[];
    };
    assert.deepEqual(
      spec.parentRefs.map((p) => p.port),
      [8080],
    );
    assert.deepEqual(
      spec.rules[0]?.backendRefs.map((b) => b.port),
      [8080, 8080],
    );
  });
});

describe("authz route limits", () => {
  it("the rendered path is 7 characters longer than the regex; every path is PathPrefix /", () => {
    assert.equal(authzPathMatch("/api/.*").value, "^(?:/api/.*).*");
    assert.equal(authzPathMatch("x".repeat(1017)).value.length, 1024);
    assert.deepEqual(authzPathMatch(".*"), { type: "PathPrefix", value: "/" });
    assert.deepEqual(renderAuthzRoute(aPolicy()).spec, {
      parentRefs: [{ group: "policy.linkerd.io", kind: "Server", name: "checkout" }],
      rules: [
        {
          matches: [
            { path: authzPathMatch("/api/.*"), method: "GET" },
            { path: authzPathMatch("/api/.*"), method: "POST" },
          ],
        },
      ],
    });
  });

  it("counts one match per route and method, as the renderer writes them", () => {
    const policy = aPolicy({
      routes: [{ pathRegex: "/a", methods: ["GET", "get", "POST"] }, { pathRegex: "/b" }],
    });
    const rules = (renderAuthzRoute(policy).spec as { rules: { matches: unknown[] }[] }).rules;
    assert.equal(authzMatchCount(policy), 3);
    assert.equal(
      rules.reduce((n, r) => n + r.matches.length, 0),
      3,
    );
  });
});

describe("Linkerd policy rendering", () => {
  const pods = {
    primary: { app: "checkout-primary", tier: "web" },
    canary: { app: "checkout", tier: "web" },
    targetPort: "http",
  };

  it("one Server selector covers both backends' pods", () => {
    assert.deepEqual(unionSelector(pods.primary, pods.canary), {
      matchLabels: { tier: "web" },
      matchExpressions: [{ key: "app", operator: "In", values: ["checkout", "checkout-primary"] }],
    });
    assert.throws(
      () => unionSelector({ app: "a-primary" }, { app: "a", extra: "x" }),
      (e: unknown) => e instanceof MeshError && e.kind === "Unsupported",
    );
  });

  it("Server: target port, default deny spelled out on v1beta3 only", () => {
    const v3 = renderServer(aPolicy(), pods, "v1beta3");
    assert.equal(v3.apiVersion, "policy.linkerd.io/v1beta3");
    assert.deepEqual(v3.spec, {
      podSelector: unionSelector(pods.primary, pods.canary),
      port: "http",
      proxyProtocol: "unknown",
      accessPolicy: "deny",
    });
    assert.equal(
      (renderServer(aPolicy(), pods, "v1beta1").spec as { accessPolicy?: string }).accessPolicy,
      undefined,
    );
  });

  it("MeshTLSAuthentication identities, including a namespace wildcard", () => {
    const authn = renderMeshTlsAuthentication(
      aPolicy({
        sources: [
          { serviceAccount: "frontend", namespace: "web" },
          { serviceAccount: "*", namespace: "jobs" },
        ],
      }),
    );
    assert.deepEqual(authn.spec, {
      identities: [
        "*.jobs.serviceaccount.identity.linkerd.cluster.local",
        "frontend.web.serviceaccount.identity.linkerd.cluster.local",
      ],
    });
  });

  it("unrestricted routes authorize the Server; restricted ones go through an authz HTTPRoute", () => {
    const open = aPolicy({ routes: [{ pathRegex: ".*", methods: ["*"] }] });
    assert.equal(needsAuthzRoute(open), false);
    assert.deepEqual(renderLinkerdAuthorizationPolicy(open).spec, {
      targetRef: { group: "policy.linkerd.io", kind: "Server", name: "checkout" },
      requiredAuthenticationRefs: [
        { group: "policy.linkerd.io", kind: "MeshTLSAuthentication", name: "checkout" },
      ],
    });
    const restricted = aPolicy({
      routes: [{ pathRegex: "/api/.*", methods: ["POST", "GET"] }, { methods: ["HEAD"] }],
    });
    assert.equal(needsAuthzRoute(restricted), true);
    assert.deepEqual(
      (renderLinkerdAuthorizationPolicy(restricted).spec as { targetRef: unknown }).targetRef,
      { group: "policy.linkerd.io", kind: "HTTPRoute", name: "checkout-authz" },
    );
    const route = renderAuthzRoute(restricted);
    assert.equal(route.metadata.name, "checkout-authz");
    assert.deepEqual(route.spec, {
      parentRefs: [{ group: "policy.linkerd.io", kind: "Server", name: "checkout" }],
      rules: [
        {
          matches: [
            { path: { type: "PathPrefix", value: "/" }, method: "HEAD" },
            { path: { type: "RegularExpression", value: "^(?:/api/.*).*" }, method: "GET" },
            { path: { type: "RegularExpression", value: "^(?:/api/.*).*" }, method: "POST" },
          ],
        },
      ],
    });
  });

  it("splits many matches into rules of 8 and refuses more than the CRDs hold", () => {
    const routes = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ pathRegex: `/r${i}`, methods: ["GET"] }));
    const spec = renderAuthzRoute(aPolicy({ routes: routes(20) })).spec as {
      rules: { matches: unknown[] }[];
    };
    assert.deepEqual(
      spec.rules.map((r) => r.matches.length),
      [8, 8, 4],
    );
    assert.throws(() => renderAuthzRoute(aPolicy({ routes: routes(129) })), MeshError);
  });
});
