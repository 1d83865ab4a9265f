// The controller under API-server overload: API Priority and Fairness rejects its ServiceAccount with 429 and a
// Retry-After; the API server's audit log counts how hard the controller pushes back. Numbers for
// docs/robustness.md.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { AUDIT_POLICY_ALL_VERBS } from "./cluster/components.ts";
import { apply, appManifests, setImage, waitForRollout } from "./support/app.ts";
import { type AuditEntry, auditEntries } from "./support/audit.ts";
import { type ControllerProcess, metricValue, startController } from "./support/controller-process.ts";

const SA = "system:serviceaccount:vireo-system:vireo";

/**
 * A priority level with no nominal seats and none to borrow, whose overflow is rejected (no queueing): the API
 * server still dispatches one request of the controller's ServiceAccount at a time, and rejects every concurrent
 * one with 429 and APF's Retry-After (1 s, doubled while drops continue, up to 32 s).
 */
const THROTTLE = [
  {
    apiVersion: "flowcontrol.apiserver.k8s.io/v1",
    kind: "PriorityLevelConfiguration",
    metadata: { name: "vireo-e2e-throttle" },
    spec: {
      type: "Limited",
      limited: {
        nominalConcurrencyShares: 0,
        lendablePercent: 0,
        borrowingLimitPercent: 0,
        limitResponse: { type: "Reject" },
      },
    },
  },
  {
    apiVersion: "flowcontrol.apiserver.k8s.io/v1",
    kind: "FlowSchema",
    metadata: { name: "vireo-e2e-throttle" },
    spec: {
      priorityLevelConfiguration: { name: "vireo-e2e-throttle" },
      matchingPrecedence: 500,
      distinguisherMethod: { type: "ByUser" },
      rules: [
        {
          subjects: [
            { kind: "ServiceAccount", serviceAccount: { name: "vireo", namespace: "vireo-system" } },
          ],
          resourceRules: [
            {
              verbs: ["*"],
              apiGroups: ["*"],
              resources: ["*"],
              namespaces: ["*"],
              clusterScope: true,
            },
          ],
        },
      ],
    },
  },
]
  .map((o) => JSON.stringify(o))
  .join("\n---\n");

let cluster: Cluster;
let c: ControllerProcess | undefined;

/** The controller's requests in [from, to): all of them, the rejected ones, and those that came too soon. */
function pushBack(entries: AuditEntry[], from: number, to: number) {
  const mine = entries
    .filter((e) => (e as AuditEntry & { user?: { username?: string } }).user?.username === SA)
    .map((e) => ({ at: Date.parse(e.requestReceivedTimestamp), code: e.responseStatus?.code ?? 0 }))
    .filter((e) => e.at >= from && e.at < to)
    .sort((a, b) => a.at - b.at);
  const rejected = mine.filter((e) => e.code === 429);
  // APF's Retry-After is at least 1 s. A request received within it after a rejection (but later than the 100 ms
  // an answer takes to arrive, so not one sent alongside the rejected one) ignored what the server asked.
  const inside = (r: { at: number }) => mine.filter((e) => e.at > r.at + 100 && e.at < r.at + 1000).length;
  const tooSoon = rejected.filter((r) => inside(r) > 0).length;
  const insideTotal = rejected.reduce((n, r) => n + inside(r), 0);
  return { requests: mine.length, rejected: rejected.length, tooSoon, insideTotal };
}

describe("under API-server overload (APF rejects the controller with 429)", () => {
  before(async () => {
    cluster = await startCluster({
      prometheus: false,
      priorityAndFairness: true,
      auditPolicy: AUDIT_POLICY_ALL_VERBS,
    });
  });
  after(async () => {
    await c?.stop().catch(() => {});
    await cluster?.stop();
  });

  it("honours Retry-After: no request before the server's back-off has passed, and the rollout still completes", async () => {
    const ns = "overload";
    c = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      args: ["--leader-elect=false", `--namespace=${ns}`],
    });
    const steps = Array.from({ length: 20 }, (_, i) => [
      { setWeight: 5 * (i + 1) },
      { pause: { duration: "1s" } },
    ]).flat();
    await apply(cluster, appManifests({ namespace: ns, steps }));
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy");
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.7.0");
    await waitForRollout(cluster, ns, "podinfo", "progressing", (r) => (r.status?.canaryWeight ?? 0) >= 10);

    const applied = await cluster.kubectl(["apply", "-f", "-"], { input: THROTTLE });
    assert.equal(applied.code, 0, applied.stderr);
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 30_000));
    const removed = await cluster.kubectl([
      "delete",
      "flowschema,prioritylevelconfiguration",
      "vireo-e2e-throttle",
    ]);
    assert.equal(removed.code, 0, removed.stderr);
    const to = Date.now();
    const done = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "the rollout finishes after the overload",
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision === r.status.canaryRevision,
      180_000,
    );
    assert.ok(done.status?.stableRevision);
    const metrics = await c.metrics();
    const p = pushBack(auditEntries(cluster.dir), from, to);
    const backoffs = metricValue(metrics, "vireo_kube_backoffs_total");
    const backoffSeconds = metricValue(metrics, "vireo_kube_backoff_seconds_total");
    console.log(
      `30 s of APF rejection: ${p.requests} requests (${(p.requests / 30).toFixed(1)}/s), ${p.rejected} rejected (429); ${p.tooSoon} rejections followed by a request inside their Retry-After, ${p.insideTotal} requests sent inside one (${(p.insideTotal / Math.max(1, p.rejected)).toFixed(2)} per rejection); ${(p.requests / Math.max(1, p.rejected)).toFixed(2)} requests per rejection; the controller counted ${backoffs} back-offs, ${backoffSeconds} s asked for`,
    );
    assert.ok(p.rejected > 0, "the FlowSchema rejected the controller (the count is not vacuous)");
    assert.equal(p.tooSoon, 0, "no request inside a Retry-After");
  });
});
