// Fixed Rollouts for renderer and dashboard tests: one mid-way with analysis, one rolled back, one judged
// sequentially at low traffic.

import type { KubeEvent } from "../../api/kube-event.ts";
import type { Rollout } from "../../api/rollout-schema.ts";

/** The clock the fixtures are written against. */
export const NOW = new Date("2026-12-01T12:00:00Z");

const at = (secondsAgo: number) => new Date(NOW.getTime() - secondsAgo * 1000).toISOString();

/** A rollout paused on step 2 of 4 with two metrics, one relative. */
export function progressingRollout(): Rollout {
  return {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "podinfo", namespace: "shop", generation: 2, resourceVersion: "42" },
    spec: {
      targetRef: { name: "podinfo" },
      service: { port: 80, targetPort: 9898 },
      provider: "smi",
      strategy: {
        canary: { steps: [{ setWeight: 10 }, { setWeight: 40 }, { pause: {} }, { setWeight: 80 }] },
      },
      analysis: {
        interval: "30s",
        failureLimit: 2,
        consecutiveErrorLimit: 4,
        inconclusiveLimit: 10,
        noData: "inconclusive",
        historyLimit: 10,
        metrics: [
          { name: "success-rate", builtin: "request-success-rate", thresholdRange: { min: 99 } },
          { name: "latency", builtin: "request-duration", compareToPrimary: { maxRatio: 1.2 } },
        ],
      },
      progressDeadlineSeconds: 600,
      suspend: false,
      skipAnalysis: false,
    } as Rollout["spec"],
    status: {
      phase: "Progressing",
      currentStepIndex: 1,
      canaryWeight: 40,
      stableRevision: "6b8f7d9c",
      canaryRevision: "5c4d3e2f",
      stepStartedAt: at(45),
      rolloutStartedAt: at(120),
      message: "step 2/4: analysing at 40%",
      analysis: {
        lastRunAt: at(20),
        failedChecks: 1,
        consecutiveErrors: 0,
        inconclusiveCount: 0,
        history: [
          {
            metric: "success-rate",
            verdict: "Pass",
            value: 99.8,
            threshold: "min 99",
            weight: 10,
            at: at(80),
          },
          {
            metric: "latency",
            verdict: "Pass",
            value: 110,
            primaryValue: 100,
            threshold: "ratio ≤ 1.2 of primary",
            weight: 10,
            at: at(80),
          },
          {
            metric: "success-rate",
            verdict: "Pass",
            value: 99.5,
            threshold: "min 99",
            weight: 40,
            at: at(20),
          },
          {
            metric: "latency",
            verdict: "Fail",
            value: 150.25,
            primaryValue: 100,
            threshold: "ratio ≤ 1.2 of primary",
            message: "1.50 × primary exceeds 1.2",
            weight: 40,
            at: at(20),
          },
        ],
      },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Healthy",
          message: "primary and canary ready",
          lastTransitionTime: at(300),
          observedGeneration: 2,
        },
        {
          type: "Progressing",
          status: "True",
          reason: "StepAdvanced",
          message: "step 2/4",
          lastTransitionTime: at(45),
          observedGeneration: 2,
        },
      ],
      notifications: {
        delivered: [],
        pending: [
          {
            key: "5c4d3e2f/x/StepAdvanced/1",
            event: "StepAdvanced",
            severity: "info",
            message: "step 2/4: weight 40%",
            revision: "5c4d3e2f",
            canaryWeight: 40,
          },
        ],
      },
    },
  };
}

/** A rollout rolled back by analysis. */
export function rolledBackRollout(): Rollout {
  const r = progressingRollout();
  r.metadata.name = "checkout";
  r.status = {
    ...r.status,
    phase: "RolledBack",
    canaryWeight: 0,
    message: "rolled back: latency failed 2 checks",
    conditions: [
      {
        type: "Degraded",
        status: "True",
        reason: "AnalysisFailed",
        message: "latency failed 2 checks",
        lastTransitionTime: at(10),
        observedGeneration: 2,
      },
    ],
    notifications: { delivered: [], pending: [] },
  };
  return r;
}

/** Events of the progressing fixture. */
export function fixtureEvents(): KubeEvent[] {
  return [
    {
      metadata: { name: "e1" },
      type: "Normal",
      reason: "RolloutStarted",
      message: "rolling out 5c4d3e2f",
      eventTime: at(120),
    },
    {
      metadata: { name: "e2" },
      type: "Normal",
      reason: "StepAdvanced",
      message: "step 2/4: weight 40%",
      eventTime: at(45),
    },
    {
      metadata: { name: "e3" },
      type: "Warning",
      reason: "AnalysisFailed",
      message: "latency 150.25 > 1.2 × primary",
      eventTime: at(20),
    },
  ];
}

/**
 * The progressing rollout judged by `judge: sequential` at low traffic: step 2 has seen 1,200 of the about 9,800
 * canary requests it needs, due in 1h49m, after its maxStepDuration runs out in 38m (InsufficientTraffic).
 */
export function lowTrafficRollout(): Rollout {
  const r = progressingRollout();
  r.spec.analysis.metrics = [{ name: "errors", builtin: "request-success-rate", judge: "sequential" }];
  const analysis = r.status?.analysis;
  if (analysis)
    analysis.evidence = {
      metric: "errors",
      step: 1,
      canaryRequests: 1200,
      requestsNeeded: 9800,
      canaryRequestsPerMinute: 78.7,
      eta: new Date(NOW.getTime() + 109 * 60_000).toISOString(),
      budgetEndsAt: new Date(NOW.getTime() + 38 * 60_000).toISOString(),
      at: at(20),
    };
  return r;
}
