// StatefulSet and DaemonSet targets, pure: which revision each pod runs, the order pods are updated in, and how many
// pods a step updates.

import type { RolloutSpec, RolloutStatus, Step } from "../../api/rollout-schema.ts";
import type { InPlaceObservation, Observations, PodObservation } from "../types.ts";

/** Which revision a pod runs: the workload's current template, the stable revision, or neither. */
export type PodSide = "template" | "stable" | "other";

/**
 * The side of `pod`. The template wins: when the template is the stable revision (between rollouts, after a
 * restore) its pods are both, and callers compare the hashes themselves.
 */
export function sideOf(pod: PodObservation, ip: InPlaceObservation, stableHash: string | undefined): PodSide {
  if (ip.observed && ip.updateHash !== undefined && pod.hash === ip.updateHash) return "template";
  return stableHash !== undefined && pod.hash === stableHash ? "stable" : "other";
}

/** Pods not being deleted. */
export const livePods = (ip: InPlaceObservation): PodObservation[] => ip.pods.filter((p) => !p.terminating);

/** Compares two strings the same way everywhere (no locale), so the order is deterministic. */
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** True when `labels` carry every label of `selector`. */
const matches = (labels: Readonly<Record<string, string>> | undefined, selector: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/**
 * A DaemonSet node's place in the update order: nodes an earlier nodeSelector step names first (by that step), then
 * by `nodeOrder` (its listed values in order, then the other values and nodes without the label, by value), then by
 * node name.
 */
function nodeRank(pod: PodObservation, spec: RolloutSpec): [number, number, string, string] {
  const steps = spec.strategy.canary?.steps ?? [];
  let byStep = steps.length;
  for (const [i, s] of steps.entries()) {
    const selector = s.setUpdated?.nodeSelector;
    if (selector && matches(pod.nodeLabels, selector)) {
      byStep = i;
      break;
    }
  }
  const order = spec.strategy.canary?.nodeOrder;
  const value = order ? (pod.nodeLabels?.[order.label] ?? "") : "";
  const listed = order?.values?.indexOf(value) ?? -1;
  const byValue = listed >= 0 ? listed : (order?.values?.length ?? 0);
  return [byStep, byValue, listed >= 0 ? "" : value, pod.node ?? pod.name];
}

/**
 * The pods in the order they are updated, first first: a StatefulSet's highest ordinal first (as Kubernetes updates
 * them), a DaemonSet's by node (see {@link nodeRank}). Ties go by pod name, so the order is total.
 */
export function updateOrder(ip: InPlaceObservation, spec: RolloutSpec): PodObservation[] {
  if (ip.kind === "StatefulSet")
    return [...ip.pods].sort((a, b) => (b.ordinal ?? -1) - (a.ordinal ?? -1) || byString(a.name, b.name));
  const ranked = ip.pods.map((p) => ({ p, r: nodeRank(p, spec) }));
  ranked.sort(
    (a, b) =>
      a.r[0] - b.r[0] ||
      a.r[1] - b.r[1] ||
      byString(a.r[2], b.r[2]) ||
      byString(a.r[3], b.r[3]) ||
      byString(a.p.name, b.p.name),
  );
  return ranked.map((x) => x.p);
}

/** Pods one setUpdated asks for on its own, before the cumulative rule and the workload's size. */
function countOf(step: Step, index: number, steps: readonly Step[], ip: InPlaceObservation): number {
  const u = step.setUpdated!;
  if (u.replicas !== undefined) return u.replicas;
  if (u.percent !== undefined) return Math.ceil((ip.desired * u.percent) / 100);
  // nodeSelector: every node this step or an earlier one names.
  const selectors = steps
    .slice(0, index + 1)
    .flatMap((s) => (s.setUpdated?.nodeSelector ? [s.setUpdated.nodeSelector] : []));
  return livePods(ip).filter((p) => selectors.some((sel) => matches(p.nodeLabels, sel))).length;
}

/**
 * Pods that run the new revision at step `index`: the most any setUpdated at or before it asks for (counts are
 * cumulative and never shrink), at most the workload's pods; 0 before the first setUpdated.
 */
export function wantedAt(steps: readonly Step[], index: number, ip: InPlaceObservation): number {
  let wanted = 0;
  for (let i = 0; i <= Math.min(index, steps.length - 1); i++) {
    const step = steps[i]!;
    if (step.setUpdated) wanted = Math.max(wanted, countOf(step, i, steps, ip));
  }
  return Math.min(wanted, ip.desired);
}

/**
 * The engine's view of an in-place target: `canary` is the pods at the template revision (ready ones, against the
 * pods the current step wants), `primary` the pods at the stable revision — so the rules shared with Deployments
 * (traffic safety, requests, readiness, conditions) read them as they read the two Deployments; each side wants
 * the pods the current step gives it. The primary's revision is the template's once every pod runs it (a promotion
 * that finished), the stable one otherwise.
 */
export function inPlaceView(obs: Observations, status: RolloutStatus | undefined): Observations {
  const ip = obs.inPlace;
  if (!ip) return obs;
  const live = livePods(ip);
  const stableHash = status?.workload?.stableHash;
  const at = (side: PodSide) => live.filter((p) => sideOf(p, ip, stableHash) === side);
  const template = at("template");
  const stable = template.length > 0 && ip.updateHash === stableHash ? template : at("stable");
  const allAtTemplate = ip.observed && template.length === live.length && live.length >= ip.desired;
  return {
    ...obs,
    canary: {
      ...obs.canary,
      desiredReplicas: status?.workload?.wanted ?? 0,
      readyReplicas: template.filter((p) => p.ready).length,
      rolledOut: ip.observed,
    },
    primary: {
      exists: obs.canary.exists,
      ...(allAtTemplate && obs.canary.revision !== undefined
        ? { revision: obs.canary.revision }
        : status?.stableRevision !== undefined
          ? { revision: status.stableRevision }
          : {}),
      // The pods the current step leaves at the stable revision.
      desiredReplicas: Math.max(0, ip.desired - (status?.workload?.wanted ?? 0)),
      readyReplicas: stable.filter((p) => p.ready).length,
      rolledOut: ip.observed,
    },
  };
}
