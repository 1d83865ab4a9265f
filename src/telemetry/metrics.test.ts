import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VireoMetrics } from "./metrics.ts";

describe("VireoMetrics", () => {
  it("registers the documented metric names on a private registry, default metrics unprefixed", async () => {
    const m = new VireoMetrics();
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    for (const n of [
      "vireo_rollout_phase",
      "vireo_rollout_canary_weight",
      "vireo_rollout_step",
      "vireo_analysis_results_total",
      "vireo_reconcile_duration_seconds",
      "vireo_reconcile_errors_total",
      "vireo_workqueue_depth",
      "vireo_workqueue_adds_total",
      "vireo_workqueue_retries_total",
      "vireo_notifications_total",
      "vireo_kube_requests_total",
      "vireo_kube_backoffs_total",
      "vireo_kube_backoff_seconds_total",
      "vireo_clock_skew_seconds",
      "vireo_leader",
      "process_cpu_user_seconds_total",
      "nodejs_eventloop_lag_seconds",
    ]) {
      assert.ok(names.includes(n), `missing ${n}`);
    }
    assert.ok(!names.some((n) => n.startsWith("vireo_process_") || n.startsWith("vireo_nodejs_")));
    // Own registry: two instances do not clash ("metric already registered").
    assert.doesNotThrow(() => new VireoMetrics());
  });

  it("keeps exactly one phase at 1 and forgets a rollout's series", async () => {
    const m = new VireoMetrics({ defaultMetrics: false });
    m.setRolloutPhase("shop", "cart", "Progressing");
    m.setRolloutPhase("shop", "cart", "Paused");
    m.setRolloutProgress("shop", "cart", 20, 1);
    m.recordAnalysis("shop", "cart", "success-rate", "pass");
    m.setRolloutPhase("shop", "other", "Healthy");
    const phase = (await m.rolloutPhase.get()).values.filter((v) => v.labels.name === "cart");
    assert.deepEqual(
      phase.filter((v) => v.value === 1).map((v) => v.labels.phase),
      ["Paused"],
    );
    m.forgetRollout("shop", "cart");
    const text = await m.registry.metrics();
    assert.doesNotMatch(text, /name="cart"/);
    assert.match(text, /vireo_rollout_phase\{namespace="shop",name="other",phase="Healthy"\} 1/);
  });

  it("feeds work-queue, reconcile, notification, request and leader metrics", async () => {
    const m = new VireoMetrics({ defaultMetrics: false });
    const q = m.workQueueMetrics();
    q.added();
    q.depth(3);
    q.retried();
    q.queueLatency(0.2);
    q.workDuration(0.1);
    m.observeReconcile("error", 0.05);
    m.observeReconcile("success", 0.01);
    m.recordNotification("slack", "sent");
    m.recordKubeRequest("patch");
    m.setLeader("pod-a-x1", true);
    const text = await m.registry.metrics();
    assert.match(text, /vireo_workqueue_depth 3/);
    assert.match(text, /vireo_workqueue_adds_total 1/);
    assert.match(text, /vireo_workqueue_retries_total 1/);
    assert.match(text, /vireo_reconcile_errors_total 1/);
    assert.match(text, /vireo_reconcile_duration_seconds_count\{result="success"\} 1/);
    assert.match(text, /vireo_notifications_total\{destination="slack",outcome="sent"\} 1/);
    assert.match(text, /vireo_kube_requests_total\{verb="patch"\} 1/);
    assert.match(text, /vireo_leader\{identity="pod-a-x1"\} 1/);
  });
});
