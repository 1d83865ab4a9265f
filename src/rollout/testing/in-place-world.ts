// A small in-memory model of a StatefulSet or DaemonSet and its Kubernetes controller, for the engine's in-place
// tests: it applies the engine's actions as the reconciler would and moves pods as the workload controllers do
// (partitioned rolling updates from the highest ordinal, OnDelete, pods remade from the current template or
// revision). Test support only.

import type { MetricMeasurement } from "../../analysis/types.ts";
import type { InPlaceKind, RequestKind } from "../../api/constants.ts";
import {
  type RolloutSpec,
  type RolloutSpecInput,
  RolloutSpecSchema,
  type RolloutStatus,
} from "../../api/rollout-schema.ts";
import { analysisDue, decide } from "../decide.ts";
import type { Action, Decision, Observations } from "../types.ts";
import { ALWAYS_OPEN, type WindowState } from "../windows.ts";
import { measurements } from "./world.ts";

/** A pod as the model sees it. */
export interface ModelPod {
  name: string;
  uid: string;
  hash: string;
  ready: boolean;
  terminating: boolean;
  ordinal?: number;
  node?: string;
}

/** The whole modelled world around one Rollout of a StatefulSet or DaemonSet. */
export interface InPlaceWorld {
  kind: InPlaceKind;
  now: number;
  spec: RolloutSpec;
  status: RolloutStatus | undefined;
  exists: boolean;
  /** Vireo revision of the template in spec; pods made from it carry {@link hashOf}(template). */
  template: string;
  /** Revisions whose pods never become ready. */
  broken: Set<string>;
  /** The controller has seen the current spec. */
  observed: boolean;
  /** What status.updateRevision says (lags the template until observed). */
  updateHash: string;
  /** StatefulSet status.currentRevision. */
  currentHash: string;
  strategy: "RollingUpdate" | "OnDelete";
  partition: number;
  maxUnavailable: number;
  /** StatefulSet replicas. */
  replicas: number;
  /** DaemonSet nodes. */
  nodes: { name: string; labels: Record<string, string> }[];
  pods: ModelPod[];
  requests: Partial<Record<RequestKind, string>>;
  window: WindowState;
  nextAnalysis: (spec: RolloutSpec) => MetricMeasurement[];
  /** Pods Vireo deleted, by name, in order. */
  deleted: string[];
  uids: number;
  log: { decision: Decision; observations: Observations; now: number }[];
}

/** The controller-revision-hash of pods made from revision `rev` (the same template always gets the same hash). */
export const hashOf = (rev: string) => `h-${rev}`;

/** A spec for an in-place target with defaults applied. */
export function makeInPlaceSpec(kind: InPlaceKind, overrides: Partial<RolloutSpecInput> = {}): RolloutSpec {
  return RolloutSpecSchema.parse({
    targetRef: { kind, name: "web" },
    provider: "istio",
    strategy: {
      canary: {
        steps: [
          { setUpdated: { replicas: 1 } },
          { setUpdated: { percent: 50 } },
          { pause: { duration: "10s" } },
        ],
      },
    },
    analysis: {
      interval: "10s",
      metrics: [{ name: "success", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
    },
    ...overrides,
  });
}

/** A world whose workload runs `rev-1` on every pod, fully rolled out, before any Rollout acted on it. */
export function newInPlaceWorld(
  kind: InPlaceKind,
  spec: RolloutSpec = makeInPlaceSpec(kind),
  size = 4,
  start = Date.parse("2026-11-02T10:00:00Z"),
): InPlaceWorld {
  const w: InPlaceWorld = {
    kind,
    now: start,
    spec,
    status: undefined,
    exists: true,
    template: "rev-1",
    broken: new Set(),
    observed: true,
    updateHash: hashOf("rev-1"),
    currentHash: hashOf("rev-1"),
    strategy: "RollingUpdate",
    partition: 0,
    maxUnavailable: 1,
    replicas: size,
    nodes: Array.from({ length: size }, (_, i) => ({
      name: `node-${i}`,
      labels: { zone: i % 2 === 0 ? "a" : "b" },
    })),
    pods: [],
    requests: {},
    window: ALWAYS_OPEN,
    nextAnalysis: (s) => measurements(s, "pass"),
    deleted: [],
    uids: 0,
    log: [],
  };
  for (const slot of slots(w)) w.pods.push({ ...newPod(w, slot, w.updateHash), ready: true });
  return w;
}

/** Where pods belong: a StatefulSet's ordinals, a DaemonSet's nodes. */
function slots(w: InPlaceWorld): { ordinal?: number; node?: string }[] {
  return w.kind === "StatefulSet"
    ? Array.from({ length: w.replicas }, (_, ordinal) => ({ ordinal }))
    : w.nodes.map((n) => ({ node: n.name }));
}

function newPod(w: InPlaceWorld, slot: { ordinal?: number; node?: string }, hash: string): ModelPod {
  const name = slot.ordinal !== undefined ? `web-${slot.ordinal}` : `web-${slot.node}`;
  return { name, uid: `uid-${w.uids++}`, hash, ready: false, terminating: false, ...slot };
}

/** What the reconciler would observe now (running analysis when due). */
export function observeInPlace(w: InPlaceWorld): Observations {
  const now = new Date(w.now);
  const labels = (node?: string) => w.nodes.find((n) => n.name === node)?.labels ?? {};
  const obs: Observations = {
    specIssues: [],
    refusals: [],
    // The target carries this Rollout's claim label (the claim itself is tested with Deployments).
    ownership: { claims: [{ kind: w.kind, name: "web", uid: "uid-web" }], labelled: true, handedBack: true },
    canary: {
      exists: w.exists,
      revision: w.template,
      desiredReplicas: 0,
      readyReplicas: 0,
      rolledOut: false,
    },
    primary: { exists: false, desiredReplicas: 0, readyReplicas: 0, rolledOut: false },
    servicesReady: true,
    routes: null,
    accessPolicyInSync: true,
    requests: { ...w.requests },
    window: w.window,
    inPlace: {
      kind: w.kind,
      desired: w.kind === "StatefulSet" ? w.replicas : w.nodes.length,
      observed: w.observed,
      updateHash: w.updateHash,
      ...(w.kind === "StatefulSet" ? { currentHash: w.currentHash } : {}),
      strategy: w.strategy,
      partition: w.kind === "StatefulSet" ? w.partition : 0,
      maxUnavailable: w.maxUnavailable,
      pods: w.exists
        ? w.pods.map((p) => ({
            name: p.name,
            uid: p.uid,
            hash: p.hash,
            ready: p.ready,
            terminating: p.terminating,
            ...(p.ordinal !== undefined ? { ordinal: p.ordinal } : {}),
            ...(p.node !== undefined ? { node: p.node, nodeLabels: labels(p.node) } : {}),
          }))
        : [],
      split: false,
    },
  };
  if (analysisDue(w.spec, w.status, now)) obs.analysis = w.nextAnalysis(w.spec);
  return obs;
}

/** Applies the engine's actions as the reconciler would (`afterStatus`: only those, or none of them). */
export function applyInPlace(w: InPlaceWorld, actions: readonly Action[]): void {
  for (const a of actions) {
    switch (a.type) {
      case "HoldUpdates":
        if (w.kind === "StatefulSet") {
          w.strategy = "RollingUpdate";
          w.partition = a.partition ?? 0;
        } else w.strategy = "OnDelete";
        w.observed = false;
        break;
      case "DeletePods":
        for (const { uid, name } of a.pods) {
          const pod = w.pods.find((p) => p.uid === uid && !p.terminating);
          if (!pod) continue;
          pod.terminating = true;
          pod.ready = false;
          w.deleted.push(name);
        }
        break;
      case "RestoreTemplate":
        if (w.template === a.from) {
          w.template = a.revision;
          w.observed = false;
        }
        break;
      case "RecordEvent":
      case "Notify":
        break;
      default:
        throw new Error(`an in-place target got a Deployment's action ${a.type}`);
    }
  }
}

/**
 * The workload's controller at work: it sees the spec, lets ready-able pods become ready, removes deleted ones,
 * makes missing pods (a StatefulSet ordinal below the partition from the current revision, anything else from the
 * template), replaces one outdated pod under RollingUpdate when all are ready, and records a finished update.
 */
export function controllerSync(w: InPlaceWorld): void {
  if (!w.exists) return;
  if (!w.observed) {
    w.observed = true;
    w.updateHash = hashOf(w.template);
  }
  const U = w.updateHash;
  for (const p of w.pods) if (!p.terminating && !w.broken.has(revOf(p.hash))) p.ready = true;
  w.pods = w.pods.filter((p) => !p.terminating);
  if (w.kind === "StatefulSet") w.pods = w.pods.filter((p) => (p.ordinal ?? 0) < w.replicas);
  else w.pods = w.pods.filter((p) => w.nodes.some((n) => n.name === p.node));
  for (const slot of slots(w)) {
    if (w.pods.some((p) => p.ordinal === slot.ordinal && p.node === slot.node)) continue;
    const below =
      w.kind === "StatefulSet" && w.strategy === "RollingUpdate" && (slot.ordinal ?? 0) < w.partition;
    w.pods.push(newPod(w, slot, below ? w.currentHash : U));
  }
  if (w.strategy === "RollingUpdate" && w.pods.every((p) => p.ready)) {
    const outdated = w.pods
      .filter((p) => p.hash !== U && (w.kind === "DaemonSet" || (p.ordinal ?? 0) >= w.partition))
      .sort((a, b) => (b.ordinal ?? 0) - (a.ordinal ?? 0) || (a.node ?? "").localeCompare(b.node ?? ""))[0];
    if (outdated) {
      outdated.terminating = true;
      outdated.ready = false;
    }
  }
  if (
    w.kind === "StatefulSet" &&
    w.pods.length === w.replicas &&
    w.pods.every((p) => p.hash === U && p.ready)
  )
    w.currentHash = U;
}

const revOf = (hash: string) => hash.slice(2);

/** One reconcile, as the reconciler runs it: observe, decide, write status, carry out the actions. */
export function reconcileInPlace(w: InPlaceWorld, opts: { crashBeforeActions?: boolean } = {}): Decision {
  const observations = observeInPlace(w);
  const decision = decide({ generation: 1, spec: w.spec, status: w.status }, observations, new Date(w.now));
  w.status = decision.status;
  if (!opts.crashBeforeActions) applyInPlace(w, decision.actions);
  w.log.push({ decision, observations, now: w.now });
  return decision;
}

/** Reconciles, lets the controller work and advances time to each wake-up until `until` holds. */
export function runInPlace(w: InPlaceWorld, until: (w: InPlaceWorld) => boolean, maxReconciles = 500): void {
  for (let i = 0; i < maxReconciles; i++) {
    const d = reconcileInPlace(w);
    if (until(w)) return;
    controllerSync(w);
    w.now += Math.max(d.requeueAfterMs ?? 1000, 1);
  }
  throw new Error(
    `did not reach the expected state in ${maxReconciles} reconciles; phase ${w.status?.phase}: ${w.status?.message}`,
  );
}

/** Changes the template, as `kubectl set image` would. */
export function pushTemplate(w: InPlaceWorld, revision: string, broken = false): void {
  w.template = revision;
  w.observed = false;
  if (broken) w.broken.add(revision);
}

/** The revisions the pods run, by pod name. */
export function podRevisions(w: InPlaceWorld): Record<string, string> {
  return Object.fromEntries(w.pods.filter((p) => !p.terminating).map((p) => [p.name, revOf(p.hash)]));
}
