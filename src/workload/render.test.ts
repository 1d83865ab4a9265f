// The primary and Services derived from a user's Deployment never overlap the user's pods.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeSpec } from "../rollout/testing/world.ts";
import { workloadNames } from "./names.ts";
import type { Deployment, Service } from "./objects.ts";
import {
  observeDeployment,
  otherServicePorts,
  renderBackendService,
  renderPrimary,
  renderRootService,
} from "./render.ts";
import { templateRevision } from "./revision.ts";

const owner = { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "podinfo", uid: "u-1" };
const spec = makeSpec();
const names = workloadNames("shop", "podinfo", spec);
const target: Deployment = {
  metadata: { name: "podinfo", namespace: "shop", labels: { team: "a" } },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: "podinfo" } },
    template: {
      metadata: { labels: { app: "podinfo", version: "1" } },
      spec: { containers: [{ name: "c", image: "x:1" }] },
    },
  },
};

describe("workload rendering", () => {
  it("the primary selects renamed labels, so the two Deployments never share pods", () => {
    const primary = renderPrimary(target, names, owner);
    assert.equal(primary.metadata.name, "podinfo-primary");
    assert.deepEqual(primary.spec.selector.matchLabels, { app: "podinfo-primary" });
    assert.deepEqual(primary.spec.template.metadata?.labels, { app: "podinfo-primary", version: "1" });
    assert.equal(primary.spec.replicas, 3);
    assert.equal(
      primary.metadata.annotations?.["vireo.dev/revision"],
      templateRevision(target.spec.template),
    );
    assert.equal(primary.metadata.ownerReferences?.[0]?.uid, "u-1");
    assert.deepEqual(
      target.spec.template.metadata?.labels,
      { app: "podinfo", version: "1" },
      "input untouched",
    );
  });

  it("backend Services select primary or canary pods; the root selects primary and has no owner", () => {
    assert.deepEqual(renderBackendService("primary", target, names, spec, owner).spec.selector, {
      app: "podinfo-primary",
    });
    assert.deepEqual(renderBackendService("canary", target, names, spec, owner).spec.selector, {
      app: "podinfo",
    });
    const root = renderRootService(target, names, spec);
    assert.deepEqual(root.spec.selector, { app: "podinfo-primary" });
    assert.equal(root.metadata.ownerReferences, undefined);
  });

  it("backend Services carry every port of a multi-port root Service; the split port comes first", () => {
    const root: Service = {
      metadata: { name: "podinfo", namespace: "shop" },
      spec: {
        type: "NodePort",
        ports: [
          { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP", nodePort: 30090 },
          { name: "web", port: 80, targetPort: 9898, protocol: "TCP", nodePort: 30080 },
          { name: "dns", port: 53, protocol: "UDP", appProtocol: "dns" },
        ],
      },
    };
    for (const role of ["primary", "canary"] as const) {
      assert.deepEqual(renderBackendService(role, target, names, spec, owner, root).spec.ports, [
        { name: "web", port: 80, targetPort: 80, protocol: "TCP" },
        { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" },
        { name: "dns", port: 53, targetPort: 53, protocol: "UDP", appProtocol: "dns" },
      ]);
    }
    assert.deepEqual(
      otherServicePorts(spec, root).map((p) => p.port),
      [9090, 53],
    );
    // Without a root Service yet (Vireo creates it later), only the rollout port.
    assert.deepEqual(renderBackendService("primary", target, names, spec, owner).spec.ports, [
      { name: "http", port: 80, targetPort: 80, protocol: "TCP" },
    ]);
    assert.deepEqual(otherServicePorts(spec, undefined), []);
  });

  it("rejects matchExpressions selectors with a clear message", () => {
    const bad = structuredClone(target);
    bad.spec.selector.matchExpressions = [{ key: "app", operator: "In", values: ["x"] }];
    assert.throws(() => renderPrimary(bad, names, owner), /matchExpressions/);
  });

  it("revision ignores key order but not content", () => {
    const a = { metadata: { labels: { a: "1", b: "2" } }, spec: { x: 1 } };
    const b = { spec: { x: 1 }, metadata: { labels: { b: "2", a: "1" } } };
    assert.equal(templateRevision(a), templateRevision(b));
    assert.notEqual(templateRevision(a), templateRevision({ ...a, spec: { x: 2 } }));
  });

  it("counts no ready pods until the Deployment controller observed the new template", () => {
    const d = structuredClone(target);
    d.metadata.generation = 2;
    d.status = {
      observedGeneration: 1,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    };
    assert.deepEqual(observeDeployment(d, "r"), {
      exists: true,
      revision: "r",
      generation: 2,
      desiredReplicas: 3,
      readyReplicas: 0,
      rolledOut: false,
    });
    d.status.observedGeneration = 2;
    assert.equal(observeDeployment(d, "r").rolledOut, true);
    assert.equal(observeDeployment(d, "r").readyReplicas, 3);
  });
});
