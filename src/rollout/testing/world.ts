// A small in-memory model of the cluster for engine tests: it applies the engine's actions the way the reconciler
// and Kubernetes would, and produces the observations the next decision sees. Test support only.

import type { MetricMeasurement } from "../../analysis/types.ts";
import type { RequestKind } from "../../api/constants.ts";
import {
  type RolloutSpec,
  type RolloutSpecInput,
  RolloutSpecSchema,
  type RolloutStatus,
} from "../../api/rollout-schema.ts";
import { attemptIdOfStatus, runKey, sameRun } from "../checks.ts";
import { analysisDue, decide } from "../decide.ts";
import { switchTargets } from "../traffic.ts";
import type {
  Action,
  CheckJobObservation,
  CheckResult,
  CheckRunRef,
  Decision,
  ManagedRoutes,
  Observations,
  OwnershipObservation,
  Refusal,
  Side,
  Weights,
} from "../types.ts";
import { ALWAYS_OPEN, type WindowState } from "../windows.ts";

/** A Deployment as the model sees it. */
export interface ModelWorkload {
  exists: boolean;
  revision: string;
  desired: number;
  ready: number;
  /** Pods become ready on their own at the next settle unless the workload is broken. */
  broken: boolean;
}

/**
 * HorizontalPodAutoscalers as the model sees them: the user's (of the target) and Vireo's copy for the primary.
 * `spec` stands for the rest of the HPA spec (metrics, behavior): a copy matches only the spec it was made from.
 */
export interface ModelAutoscalers {
  user?: { min: number; max: number; spec: number };
  primary?: { min: number; max: number; spec: number };
}

/**
 * The checks' outside world: webhook receivers and the Job controller. Webhooks answer at once (pass or fail) or
 * never (hang, so the run times out); Jobs run until an event finishes them.
 */
export interface ModelChecks {
  webhook: "pass" | "fail" | "hang";
  /** Results the controller's scheduler holds for runs (it keeps them until the Rollout moves on). */
  results: CheckResult[];
  /** Jobs by name. */
  jobs: Map<string, CheckJobObservation>;
  /** Creations per Job name: a Job is never created twice. */
  creations: Map<string, number>;
  /** Webhook calls per run key and the keys they carried (the model's Idempotency-Key is the run key). */
  calls: Map<string, number>;
  nextUid: number;
  /** Runs (run key @ attempt id) the receiver answered 2xx. */
  passed: string[];
  /** The controller dies right after its next status write (its Job writes and calls lost, its memory gone). */
  killed: boolean;
  /** Kills so far. */
  kills: number;
  /** Someone deletes the Jobs the controller creates next, before any reconcile lists them. */
  loseNextCreated: boolean;
  /** The API server refuses the next Job create (quota, admission): the runner holds the refusal as a result. */
  refuseNextCreate: boolean;
  /** Jobs deleted before the controller first listed them. */
  lostUnseen: number;
}

/** A fresh checks world where webhooks pass. */
export const newChecks = (): ModelChecks => ({
  webhook: "pass",
  results: [],
  jobs: new Map(),
  creations: new Map(),
  calls: new Map(),
  nextUid: 1,
  killed: false,
  kills: 0,
  loseNextCreated: false,
  refuseNextCreate: false,
  lostUnseen: 0,
  passed: [],
});

/** The Job name the model gives a run (the controller's is a hash of the same parts). */
export const modelJobName = (run: CheckRunRef, attemptId: string) => `${runKey(run)}@${attemptId}`;

/** The whole modelled world around one Rollout. */
export interface ModelWorld {
  now: number;
  generation: number;
  spec: RolloutSpec;
  status: RolloutStatus | undefined;
  canary: ModelWorkload;
  primary: ModelWorkload;
  servicesReady: boolean;
  routes: Weights | null;
  /** Managed routes the routing object holds (undefined: none; null: edited by another writer). */
  managed?: ManagedRoutes | null;
  accessPolicyInSync: boolean;
  requests: Partial<Record<RequestKind, string>>;
  window: WindowState;
  /** What Prometheus would answer for each metric at the next tick. */
  nextAnalysis: (spec: RolloutSpec) => MetricMeasurement[];
  /** Stamps each tick this much after the now of the decision reading it (a node clock ahead of the engine's). */
  analysisLateMs?: number;
  /** Replicas the user asked for. */
  replicas: number;
  /** HPAs; absent in worlds without them. */
  autoscalers?: ModelAutoscalers;
  /**
   * What the EndpointSlices list (read for blue/green): ready pods of each backend and the side the preview
   * Service's slices confirm. They catch up with the pods and selectors only at {@link syncEndpoints}.
   */
  slices: { primary: number; canary: number; preview: Side | null };
  /** The side the preview Service's selector names. */
  previewSelects: Side;
  /** The checks' world. */
  checks: ModelChecks;
  /** The spec's target and root Service carry this Rollout's claim label. */
  labelled: boolean;
  /** What the reconciler refuses (objects of another Rollout, hosts outside the policy). */
  refusals: Refusal[];
  /** HandBack actions still needed before the objects a renamed spec no longer names are handed back. */
  handBackSteps: number;
  log: { decision: Decision; observations: Observations; now: number }[];
}

/** A spec with defaults applied, for tests. */
export function makeSpec(overrides: Partial<RolloutSpecInput> = {}): RolloutSpec {
  return RolloutSpecSchema.parse({
    targetRef: { name: "podinfo" },
    service: { port: 80 },
    provider: "smi",
    strategy: { canary: { steps: [{ setWeight: 10 }, { setWeight: 30 }, { setWeight: 50 }] } },
    analysis: {
      interval: "10s",
      metrics: [{ name: "success", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
    },
    ...overrides,
  });
}

/** Measurements that pass (or fail) every metric of the spec. */
export function measurements(
  spec: RolloutSpec,
  kind: "pass" | "fail" | "nodata" | "error",
): MetricMeasurement[] {
  return spec.analysis.metrics.map((m) => {
    if (kind === "error") return { metric: m.name, value: null, error: "connection refused" };
    if (kind === "nodata") return { metric: m.name, value: null, primaryValue: null };
    const { min, max } = m.thresholdRange ?? {};
    const good = min ?? (max !== undefined ? max : 0);
    const bad = min !== undefined ? min - 10 : (max ?? 0) + 10;
    const value = kind === "pass" ? good : bad;
    return { metric: m.name, value, primaryValue: value };
  });
}

/** A world where the user's Deployment exists at revision `rev-1` and nothing else does yet. */
export function newWorld(
  spec: RolloutSpec = makeSpec(),
  start = Date.parse("2026-11-02T10:00:00Z"),
): ModelWorld {
  return {
    now: start,
    generation: 1,
    spec,
    status: undefined,
    canary: { exists: true, revision: "rev-1", desired: 2, ready: 2, broken: false },
    primary: { exists: false, revision: "", desired: 0, ready: 0, broken: false },
    servicesReady: false,
    routes: null,
    accessPolicyInSync: spec.accessPolicy === undefined,
    requests: {},
    window: ALWAYS_OPEN,
    nextAnalysis: (s) => measurements(s, "pass"),
    replicas: 2,
    slices: { primary: 0, canary: 0, preview: "primary" },
    previewSelects: "primary",
    checks: newChecks(),
    labelled: false,
    refusals: [],
    handBackSteps: 0,
    log: [],
  };
}

/** Ownership for engine tests that are not about it: nothing claimed, nothing to claim or hand back. */
export const NO_CLAIMS: OwnershipObservation = { claims: [], labelled: true, handedBack: true };

/** The claims the reconciler would record for the spec's target and root Service. */
function claimsIn(w: ModelWorld): OwnershipObservation["claims"] {
  if (!w.canary.exists) return [];
  const target = w.spec.targetRef.name;
  const root = w.spec.service!.name ?? target;
  return [
    { kind: "Deployment", name: target, uid: `uid-${target}` },
    { kind: "Service", name: root, uid: `uid-${root}`, selector: { app: target } },
  ];
}

/**
 * The user renames the target (and so, without service.name, the root Service): the new target is a fresh,
 * unclaimed Deployment; the old objects take `steps` HandBack actions to hand back.
 */
export function rename(w: ModelWorld, target: string, steps = 2): void {
  w.spec = { ...w.spec, targetRef: { ...w.spec.targetRef, name: target } };
  w.generation++;
  w.canary = {
    exists: true,
    revision: `${target}-rev-1`,
    desired: w.replicas,
    ready: w.replicas,
    broken: false,
  };
  w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
  w.servicesReady = false;
  w.labelled = false;
  w.handBackSteps = steps;
}

/** What the reconciler would observe now (running analysis when due, as the reconciler does). */
export function observe(w: ModelWorld): Observations {
  const now = new Date(w.now);
  const due = analysisDue(w.spec, w.status, now);
  const obs: Observations = {
    specIssues: [],
    refusals: [...w.refusals],
    ownership: { claims: claimsIn(w), labelled: w.labelled, handedBack: w.handBackSteps === 0 },
    canary: {
      exists: w.canary.exists,
      revision: w.canary.revision,
      desiredReplicas: w.canary.desired,
      readyReplicas: w.canary.ready,
      rolledOut: w.canary.ready >= w.canary.desired,
    },
    primary: {
      exists: w.primary.exists,
      revision: w.primary.revision,
      desiredReplicas: w.primary.desired,
      readyReplicas: w.primary.ready,
      rolledOut: w.primary.ready >= w.primary.desired,
    },
    servicesReady: w.servicesReady,
    routes: w.routes ? { ...w.routes } : null,
    ...(w.managed !== undefined
      ? { managedRoutes: w.managed === null ? null : structuredClone(w.managed) }
      : {}),
    accessPolicyInSync: w.accessPolicyInSync,
    requests: { ...w.requests },
    window: w.window,
  };
  if (due) obs.analysis = w.nextAnalysis(w.spec);
  if (due && w.analysisLateMs) obs.analysisAt = new Date(w.now + w.analysisLateMs);
  if (w.spec.strategy.blueGreen)
    obs.endpoints = {
      primaryReady: w.slices.primary,
      canaryReady: w.slices.canary,
      preview: w.slices.preview,
    };
  else {
    // As the reconciler reads them: only the backends a route write may move weight onto from 0 %.
    const targets = switchTargets(obs);
    if (targets.length > 0)
      obs.endpoints = {
        ...(targets.includes("primary") ? { primaryReady: w.slices.primary } : {}),
        ...(targets.includes("canary") ? { canaryReady: w.slices.canary } : {}),
        preview: null,
      };
  }
  if (w.spec.checks?.length || w.checks.jobs.size > 0)
    obs.checks = { results: [...w.checks.results], jobs: [...w.checks.jobs.values()].map((j) => ({ ...j })) };
  const { user, primary } = w.autoscalers ?? {};
  if (user || primary) {
    obs.autoscaler = {
      ...(user ? { user: { minReplicas: user.min, maxReplicas: user.max } } : {}),
      ...(primary
        ? {
            primary: {
              minReplicas: primary.min,
              matchesUser: user !== undefined && primary.max === user.max && primary.spec === user.spec,
            },
          }
        : {}),
    };
  }
  return obs;
}

/** Applies actions as the reconciler and the cluster would. Pods become ready at `settle`. */
export function apply(w: ModelWorld, actions: readonly Action[]): void {
  for (const a of actions) {
    switch (a.type) {
      case "HandBack":
        w.handBackSteps = Math.max(0, w.handBackSteps - 1);
        // The last step removes Vireo's routing of the old names.
        if (w.handBackSteps === 0) w.routes = null;
        break;
      case "ClaimObjects":
        w.labelled = true;
        break;
      case "EnsureWorkloads":
        // Like the workload manager: a primary is only ever built from a target running the asked-for revision.
        if (!w.primary.exists && w.canary.exists && w.canary.revision === a.revision)
          w.primary = { exists: true, revision: a.revision, desired: a.replicas, ready: 0, broken: false };
        w.servicesReady = true;
        break;
      case "ScalePrimary":
        w.primary.desired = a.replicas;
        break;
      case "ScaleCanaryUp":
        w.canary.desired = w.replicas;
        break;
      case "ScaleCanaryDown":
        w.canary.desired = 0;
        w.canary.ready = 0;
        break;
      case "SetRoutes":
        w.routes = { ...a.weights };
        w.managed = a.managed ? structuredClone(a.managed) : undefined;
        break;
      case "PointPreview":
        // The selector changes now; the slices show it at the EndpointSlice controller's next sync.
        w.previewSelects = a.at;
        w.slices.preview = null;
        break;
      case "ApplyAccessPolicy":
        w.accessPolicyInSync = true;
        break;
      case "PromotePrimary":
        w.primary.revision = a.revision;
        w.primary.broken = false;
        break;
      case "SyncAutoscaler": {
        const user = w.autoscalers?.user;
        if (w.autoscalers && user) w.autoscalers.primary = { ...user, min: a.minReplicas };
        break;
      }
      case "DeleteAutoscaler":
        if (w.autoscalers) delete w.autoscalers.primary;
        break;
      case "CreateCheckJob": {
        // Like the API server: a name exists once; a second create of it is AlreadyExists (adopted).
        const job = modelJobName(a.run, a.attemptId);
        if (w.checks.refuseNextCreate && !w.checks.jobs.has(job)) {
          w.checks.refuseNextCreate = false;
          const message = "could not create its Job: forbidden: exceeded quota";
          w.checks.results.push({ ...a.run, attemptId: a.attemptId, passed: false, message });
          break;
        }
        w.checks.creations.set(job, (w.checks.creations.get(job) ?? 0) + (w.checks.jobs.has(job) ? 0 : 1));
        if (!w.checks.jobs.has(job))
          w.checks.jobs.set(job, {
            ...a.run,
            attemptId: a.attemptId,
            job,
            uid: `uid-${w.checks.nextUid++}`,
            state: "Running",
          });
        break;
      }
      case "DeleteCheckJob":
        w.checks.jobs.delete(a.job);
        break;
      case "RecordEvent":
      case "Notify":
        break;
    }
  }
}

/**
 * What the reconciler does after a status write: calls the webhook of every running webhook run it holds no result
 * for (its scheduler keeps one request per run), with the run's own key.
 */
export function callWebhooks(w: ModelWorld): void {
  for (const run of w.status?.checks ?? []) {
    if (run.kind !== "webhook" || run.phase !== "Running") continue;
    const attemptId = attemptIdOfStatus(w.status ?? {});
    if (w.checks.results.some((r) => sameRun(r, run) && r.attemptId === attemptId)) continue;
    const key = `${runKey(run)}@${attemptId}`;
    w.checks.calls.set(key, (w.checks.calls.get(key) ?? 0) + 1);
    if (w.checks.webhook === "hang") continue;
    const passed = w.checks.webhook === "pass";
    if (passed) w.checks.passed.push(key);
    w.checks.results.push({ ...run, attemptId, passed, message: passed ? "ok" : "server-error" });
  }
}

/** The Job controller finishes every running Job (`Complete` or `Failed`). */
export function finishJobs(w: ModelWorld, state: "Complete" | "Failed"): void {
  for (const job of w.checks.jobs.values()) {
    if (job.state !== "Running") continue;
    job.state = state;
    if (state === "Failed") job.message = "BackoffLimitExceeded: exit code 1";
  }
}

/**
 * What the HPA controller does at its next sync, metrics aside: a Deployment scaled to zero is left alone
 * (autoscaling is disabled for it); any other count is brought within the HPA's bounds.
 */
export function autoscale(w: ModelWorld): void {
  const clamp = (wl: ModelWorkload, hpa: { min: number; max: number } | undefined) => {
    if (!hpa || !wl.exists || wl.desired === 0) return;
    wl.desired = Math.min(hpa.max, Math.max(hpa.min, wl.desired));
  };
  clamp(w.canary, w.autoscalers?.user);
  clamp(w.primary, w.autoscalers?.primary);
}

/** The EndpointSlice controller's sync: the slices list the pods as they are now, the preview as it selects. */
export function syncEndpoints(w: ModelWorld): void {
  w.slices = {
    primary: w.primary.exists ? w.primary.ready : 0,
    canary: w.canary.exists ? w.canary.ready : 0,
    preview: w.previewSelects,
  };
}

/** Lets pods start: every non-broken workload reaches its desired replicas (after the HPAs had their say). */
export function settle(w: ModelWorld): void {
  autoscale(w);
  for (const wl of [w.canary, w.primary]) {
    if (wl.exists && !wl.broken) wl.ready = wl.desired;
    if (wl.broken) wl.ready = 0;
  }
}

/** One reconcile: observe, decide, apply, record. */
export function reconcile(w: ModelWorld): Decision {
  const observations = observe(w);
  const decision = decide(
    { generation: w.generation, spec: w.spec, status: w.status },
    observations,
    new Date(w.now),
  );
  apply(w, decision.actions);
  w.status = decision.status;
  callWebhooks(w);
  w.log.push({ decision, observations, now: w.now });
  return decision;
}

/** Runs reconciles, settling pods and advancing time to each requested wake-up, until `until` says stop. */
export function run(w: ModelWorld, until: (w: ModelWorld) => boolean, maxReconciles = 500): void {
  for (let i = 0; i < maxReconciles; i++) {
    const d = reconcile(w);
    if (until(w)) return;
    settle(w);
    syncEndpoints(w);
    w.now += Math.max(d.requeueAfterMs ?? 1000, 1);
  }
  throw new Error(
    `did not reach the expected state in ${maxReconciles} reconciles; phase ${w.status?.phase}: ${w.status?.message}`,
  );
}

/** Brings a world (a fresh one by default) to Healthy on its current revision. */
export function initialized(w: ModelWorld = newWorld()): ModelWorld {
  run(w, (x) => x.status?.phase === "Healthy");
  return w;
}

/** Changes the user's pod template, as `kubectl set image` would. */
export function pushRevision(w: ModelWorld, revision: string, broken = false): void {
  w.canary.revision = revision;
  w.canary.broken = broken;
  w.canary.ready = 0;
}

/** Every action of a given type the log recorded. */
export function actionsOf<T extends Action["type"]>(w: ModelWorld, type: T): Extract<Action, { type: T }>[] {
  return w.log.flatMap((l) =>
    l.decision.actions.filter((a): a is Extract<Action, { type: T }> => a.type === type),
  );
}
