// The reconciler's second step: ask the pure engine, carry out the world actions that may precede the status write,
// and decide once more when those writes changed what the decision observed.
import type { RolloutStatus } from "../api/rollout-schema.ts";
import type { RouteState, TrafficSplitModel } from "../mesh/types.ts";
import { decide } from "../rollout/decide.ts";
import type { Action } from "../rollout/types.ts";
import { handBackPlan } from "../workload/claims.ts";
import { handBackStep } from "./hand-back.ts";
import { type Observed, routeObservations, type Target } from "./observe.ts";
import type { ReconcilerDeps } from "./ports.ts";

/**
 * Actions that take something away, carried out only once the decision asking for them is recorded in status. A
 * decision whose fenced write loses a race (or a process that dies first) must not leave the primary running a
 * revision status never said was being promoted; and a scale-down must not land on a canary that another reading of
 * status still routes to. The second case is real: a leader frozen mid-request (SIGSTOP) sends a scale-down it had
 * already dispatched when it wakes; once status says weight 0, its successor routes nothing to that canary either.
 */
const AFTER_STATUS = new Set<Action["type"]>([
  "PromotePrimary",
  "ScaleCanaryDown",
  // StatefulSet and DaemonSet targets: status records the step (and the stable hash) before any pod moves, so a
  // restarted controller never finds pods on a revision its status does not know, nor deletes a batch twice.
  "HoldUpdates",
  "RestoreTemplate",
  "DeletePods",
]);

/** True for an action that must wait until status records the decision (see {@link AFTER_STATUS}). */
export const afterStatus = (a: Action): boolean => AFTER_STATUS.has(a.type);

/**
 * Which actions change the world (carried out here) rather than tell people (Events, notifications) or start checks
 * (the check runner carries those out, after the status write). A Record, so a new action type does not compile
 * until it is sorted here (a decided action never carried out is a silent bug).
 */
const IS_WORLD_ACTION: Record<Action["type"], boolean> = {
  HandBack: true,
  ClaimObjects: true,
  EnsureWorkloads: true,
  ScaleCanaryUp: true,
  ScaleCanaryDown: true,
  ScalePrimary: true,
  SetRoutes: true,
  PointPreview: true,
  ApplyAccessPolicy: true,
  PromotePrimary: true,
  SyncAutoscaler: true,
  DeleteAutoscaler: true,
  HoldUpdates: true,
  RestoreTemplate: true,
  DeletePods: true,
  CreateCheckJob: false,
  DeleteCheckJob: false,
  RecordEvent: false,
  Notify: false,
};

/** What the reconciler's own writes changed that its observations (taken before them) do not show. */
interface OwnWrites {
  /** The target Deployment's metadata.generation after Vireo scaled it. */
  targetGeneration?: number;
  /** The routes as the routing object's write stored them, when the adapter could tell from the response. */
  routes?: RouteState | null;
}

/** One reconcile's decision, with what carrying out its first actions did. */
export interface Decided {
  /** The status to write. */
  status: RolloutStatus | undefined;
  /** Every action decided, each once, in order (those after the status write included). */
  actions: Action[];
  /** What EnsureWorkloads really created or changed; after initialization each is a repair worth an Event. */
  repaired: string[];
  /** The engine's wake-up. */
  requeueAfterMs: number | undefined;
  /** The error a world action failed with: the rest were not carried out, and status records it. */
  failure?: unknown;
}

/** The ports carrying out actions reads and writes through. */
export type ExecuteDeps = Pick<ReconcilerDeps, "workloads" | "inPlace" | "log">;

/**
 * Decides, carries out the actions that may precede the status write, and — when they changed what the decision
 * observed — decides once more on the new observations, so one status write says all of it: routes written are
 * confirmed (the usual step, set routes → routes confirmed → wait, costs one write instead of two; no watch reports
 * routes) from the write's own response, or by reading them back where only a read can tell; and the canary scaled
 * up records the generation its own scale produced (else the next reconcile would write status for that alone).
 */
export async function decideAndAct(
  deps: ExecuteDeps,
  observed: Observed,
  current: { generation: number; status: RolloutStatus | undefined },
  now: Date,
): Promise<Decided> {
  const { spec, target } = observed;
  const done = new Set<string>();
  const decided: Decided = { status: current.status, actions: [], repaired: [], requeueAfterMs: undefined };
  let obs = observed.observations;
  for (let pass = 0; pass < 2; pass++) {
    const decision = decide(
      { generation: current.generation, spec, status: decided.status, fresh: observed.fresh },
      obs,
      now,
    );
    const fresh = decision.actions.filter((a) => !done.has(JSON.stringify(a)));
    for (const a of fresh) done.add(JSON.stringify(a));
    decided.actions.push(...fresh);
    decided.status = decision.status;
    decided.requeueAfterMs = decision.requeueAfterMs;
    if (!target) break;
    let own: OwnWrites;
    try {
      own = await execute(
        deps,
        target,
        fresh.filter((a) => !afterStatus(a)),
        decided.repaired,
      );
    } catch (err) {
      decided.failure = err;
      break;
    }
    const routed = fresh.some((a) => a.type === "SetRoutes");
    if (!routed && own.targetGeneration === undefined) break;
    const { analysis: _tickAlreadyRecorded, ...rest } = obs;
    obs = {
      ...rest,
      ...(routed
        ? routeObservations(own.routes !== undefined ? own.routes : await target.mesh.getRoutes(target.ref))
        : {}),
      ...(own.targetGeneration !== undefined
        ? { canary: { ...rest.canary, generation: own.targetGeneration } }
        : {}),
    };
  }
  return decided;
}

/**
 * Carries out world actions in order; the first failure stops the rest (later ones may depend on it).
 * @returns what the writes changed that the next decision should see
 */
export async function execute(
  deps: ExecuteDeps,
  target: Target,
  actions: readonly Action[],
  repaired: string[],
): Promise<OwnWrites> {
  const { spec, names, snap, owner, mesh } = target;
  const own: OwnWrites = {};
  for (const action of actions) {
    if (!IS_WORLD_ACTION[action.type]) continue;
    deps.log.info({ rollout: `${names.namespace}/${names.rollout}`, action }, `action ${action.type}`);
    switch (action.type) {
      case "HandBack":
        await handBackStep(deps, handBackPlan(action.claims, target.claims, names), spec, target, names);
        break;
      case "ClaimObjects":
        if (target.inPlace) await deps.inPlace.claim(target.inPlace, names.rollout);
        else await deps.workloads.claim(snap);
        break;
      case "HoldUpdates":
        if (target.inPlace) await deps.inPlace.hold(target.inPlace, action.partition);
        break;
      case "RestoreTemplate":
        if (target.inPlace) await deps.inPlace.restoreTemplate(target.inPlace, action.from, action.hash);
        break;
      case "DeletePods":
        if (target.inPlace) await deps.inPlace.deletePods(target.inPlace, action.pods);
        break;
      case "EnsureWorkloads":
        repaired.push(...(await deps.workloads.ensure(snap, spec, owner, action)));
        break;
      case "ScalePrimary":
        await deps.workloads.scalePrimary(snap, action.replicas);
        break;
      case "SyncAutoscaler":
        await deps.workloads.syncAutoscaler(snap, owner, action.minReplicas);
        break;
      case "DeleteAutoscaler":
        await deps.workloads.deleteAutoscaler(snap);
        break;
      case "ScaleCanaryUp":
      case "ScaleCanaryDown": {
        const generation = await deps.workloads.scaleCanary(snap, action.type === "ScaleCanaryUp");
        if (generation !== undefined) own.targetGeneration = generation;
        break;
      }
      case "SetRoutes": {
        const split: TrafficSplitModel = {
          ...target.ref,
          weights: action.weights,
          owner,
          ...(action.managed ? { managed: action.managed } : {}),
          ...(spec.service?.gateways ? { gateways: spec.service.gateways } : {}),
          ...(spec.service?.hosts ? { hosts: spec.service.hosts } : {}),
        };
        const written = await mesh.setRoutes(split);
        if (written !== undefined) own.routes = written;
        break;
      }
      case "PointPreview":
        await deps.workloads.pointPreview(snap, spec, owner, action.at);
        break;
      case "ApplyAccessPolicy":
        await mesh.applyAccessPolicy({ ...target.ref, owner }, target.policy);
        break;
      case "PromotePrimary":
        await deps.workloads.promote(names, action.revision, owner, action.replicas);
        break;
      default:
        break;
    }
  }
  return own;
}
