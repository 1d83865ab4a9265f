// Tests of finding the user's HPA of the target and rendering the primary HPA from it (retargeted, owned).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GITOPS_ANNOTATIONS, LABELS } from "../api/constants.ts";
import { makeSpec } from "../rollout/testing/world.ts";
import {
  observeAutoscalers,
  ownsAutoscaler,
  primaryAutoscaler,
  renderPrimaryAutoscaler,
  userAutoscaler,
} from "./autoscaler.ts";
import { workloadNames } from "./names.ts";
import type { HorizontalPodAutoscaler } from "./objects.ts";

const names = workloadNames("shop", "podinfo", makeSpec());
const owner = { apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", name: "podinfo", uid: "u-1" };
const hpa = (
  name: string,
  target: string,
  extra: Partial<HorizontalPodAutoscaler["spec"]> = {},
): HorizontalPodAutoscaler => ({
  metadata: { name, namespace: "shop", labels: { team: "web" } },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target },
    minReplicas: 2,
    maxReplicas: 6,
    metrics: [
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      },
    ],
    ...extra,
  },
});

describe("userAutoscaler", () => {
  it("finds the HPA scaling the target Deployment, never another one or Vireo's own", () => {
    const user = hpa("web", "podinfo");
    const ours = renderPrimaryAutoscaler(user, names, owner, 2);
    const other = hpa("other", "checkout");
    const statefulSet = {
      ...hpa("sts", "podinfo"),
      spec: { ...hpa("sts", "podinfo").spec, scaleTargetRef: { kind: "StatefulSet", name: "podinfo" } },
    };
    assert.equal(userAutoscaler([other, ours, statefulSet, user], names), user);
    assert.equal(userAutoscaler([other, ours, statefulSet], names), undefined);
    assert.equal(primaryAutoscaler([other, ours, user], names), ours);
  });

  it("picks the first by name when several target the Deployment, so the choice is stable", () => {
    const a = hpa("a", "podinfo");
    const b = hpa("b", "podinfo");
    assert.equal(userAutoscaler([b, a], names), a);
    assert.equal(userAutoscaler([a, b], names), a);
  });
});

describe("renderPrimaryAutoscaler", () => {
  it("copies the user's spec, retargets it to the primary, is owned by the Rollout and carries the GitOps annotations", () => {
    const user = hpa("web", "podinfo", { behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } });
    const p = renderPrimaryAutoscaler(user, names, owner, 5);
    assert.equal(p.metadata.name, "podinfo-primary");
    assert.deepEqual(p.spec.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "podinfo-primary",
    });
    assert.equal(p.spec.minReplicas, 5);
    assert.equal(p.spec.maxReplicas, 6);
    assert.deepEqual(p.spec.metrics, user.spec.metrics);
    assert.deepEqual(p.spec.behavior, user.spec.behavior);
    assert.equal(p.metadata.ownerReferences?.[0]?.uid, "u-1");
    assert.equal(p.metadata.ownerReferences?.[0]?.controller, true);
    assert.deepEqual(p.metadata.annotations, GITOPS_ANNOTATIONS);
    assert.equal(p.metadata.labels?.[LABELS.managedBy], "vireo");
    assert.equal(p.metadata.labels?.team, "web");
    assert.ok(ownsAutoscaler(p, names));
    assert.ok(!ownsAutoscaler(user, names));
    // The user's object is not touched.
    assert.equal(user.spec.scaleTargetRef.name, "podinfo");
  });
});

describe("observeAutoscalers", () => {
  it("is undefined without HPAs, and reports the user's bounds", () => {
    assert.equal(observeAutoscalers(undefined, undefined, names), undefined);
    assert.deepEqual(observeAutoscalers(hpa("web", "podinfo"), undefined, names), {
      user: { minReplicas: 2, maxReplicas: 6 },
    });
  });

  it("a primary HPA matches the user's whatever its minReplicas, and stops matching when the user's spec changes", () => {
    const user = hpa("web", "podinfo");
    const primary = renderPrimaryAutoscaler(user, names, owner, 4);
    assert.deepEqual(observeAutoscalers(user, primary, names)?.primary, {
      minReplicas: 4,
      matchesUser: true,
    });
    const edited = hpa("web", "podinfo", { maxReplicas: 10 });
    assert.deepEqual(observeAutoscalers(edited, primary, names)?.primary, {
      minReplicas: 4,
      matchesUser: false,
    });
    const noMetrics = hpa("web", "podinfo", { metrics: [] });
    assert.equal(observeAutoscalers(noMetrics, primary, names)?.primary?.matchesUser, false);
    assert.deepEqual(observeAutoscalers(undefined, primary, names), {
      primary: { minReplicas: 4, matchesUser: false },
    });
  });
});
