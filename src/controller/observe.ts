// The reconciler's first step: read the world a Rollout points at (workloads, routes, access policy, the analysis
// tick, requests, windows) into the engine's Observations, and name the target its actions will act on.
import {
  ANNOTATIONS,
  API_VERSION,
  isInPlaceKind,
  KIND,
  LABELS,
  REASONS,
  type RequestKind,
} from "../api/constants.ts";
import type { OwnerRef } from "../api/object-meta.ts";
import {
  type Claim,
  type Rollout,
  type RolloutSpec,
  type RolloutStatus,
  splitServiceOf,
} from "../api/rollout-schema.ts";
import { type SpecIssue, validateRolloutSpec } from "../api/validate.ts";
import { exposureIssues } from "../mesh/exposure-policy.ts";
import { asksForManagedRoutes } from "../mesh/managed-routes.ts";
import { httpProbesOf } from "../mesh/pod-probes.ts";
import type { ProviderWarning } from "../mesh/provider.ts";
import { providerSpecIssues, providerWarnings } from "../mesh/registry.ts";
import type { AccessPolicyModel, MeshAdapter, RouteState, SplitRef } from "../mesh/types.ts";
import { switchTargets } from "../rollout/traffic.ts";
import type { CheckObservations, Observations, OwnershipObservation, Refusal } from "../rollout/types.ts";
import { evaluateWindows } from "../rollout/windows.ts";
import {
  claimLabelled,
  claimsOf,
  foreignClaimants,
  handBackPlan,
  handedBack,
  leftovers,
  namedBy,
  ownershipConflicts,
} from "../workload/claims.ts";
import { observeEndpoints } from "../workload/endpoints.ts";
import { type InPlaceSnapshot, InPlaceWorkloads } from "../workload/in-place.ts";
import { checkDerivedLimits } from "../workload/limits.ts";
import { type WorkloadNames, workloadNames } from "../workload/names.ts";
import { otherServicePorts } from "../workload/render.ts";
import { WorkloadManager, type WorkloadSnapshot } from "../workload/workload-manager.ts";
import type { TickOutcome } from "./analysis-scheduler.ts";
import type { ReconcilerDeps } from "./ports.ts";

/** A Rollout as validation left it, and the spec Vireo acts on. */
export interface Validated {
  /** The Rollout's own spec, when it passed validation. */
  spec: RolloutSpec | undefined;
  /** Why it did not pass (empty when it did). */
  issues: SpecIssue[];
  /**
   * The spec acted on: the Rollout's own, or the last valid one kept in status, so that an invalid Rollout still
   * routes back to primary and hands the workload back. Undefined for a Rollout that was never valid.
   */
  acting: RolloutSpec | undefined;
  /** When `spec` is pinned for the step under way: see EngineInput.fresh. */
  fresh?: RolloutSpec | null;
}

/**
 * What one reconcile's actions act on. The mesh adapter is the one the observations were read through, so a write
 * can start from that read (see ObjectStore) instead of reading the object again.
 */
export interface Target {
  /** {@link Validated.acting}. */
  spec: RolloutSpec;
  names: WorkloadNames;
  snap: WorkloadSnapshot;
  owner: OwnerRef;
  /** The access policy to apply; null when the spec has none (or is invalid: policy is left as it is). */
  policy: AccessPolicyModel | null;
  ref: SplitRef;
  mesh: MeshAdapter;
  /** status.claims as the decision saw them: what a HandBack works from. */
  claims: readonly Claim[];
  /** status.replicas: what a target whose primary is gone is handed back with. */
  replicas: number | undefined;
  /** A StatefulSet or DaemonSet target, updated in place (no primary, no split: `snap` holds none of its objects). */
  inPlace?: InPlaceSnapshot;
}

/** One reconcile's reading of the world, for the engine. */
export interface Observed extends Validated {
  observations: Observations;
  /** What actions act on; undefined when there is nothing to act on (a Rollout that was never valid). */
  target?: Target;
  /** The analysis tick (valid specs only): its result is in the observations, `waiting` drives the requeue. */
  tick?: TickOutcome;
  /** What the provider warns about how it renders this Rollout, for an Event once per generation. */
  warnings: ProviderWarning[];
}

/** The ports observation reads through. */
export type ObserveDeps = Pick<
  ReconcilerDeps,
  "workloads" | "inPlace" | "mesh" | "measurements" | "analysis" | "rollouts" | "exposure" | "checks"
>;

/**
 * Rollouts without an access policy whose mesh was already checked to hold none of ours, by uid → generation.
 * Checking again on every reconcile cost two GETs per reconcile (43 % of all reads at 1,000 Rollouts) to confirm
 * the absence of objects only Vireo would create; a spec change (new generation) or a restart checks again.
 */
export type NoPolicyConfirmed = Map<string, number>;

/** Validates a Rollout's spec and picks the spec to act on. */
export function validated(rollout: Rollout): Validated {
  const validation = validateRolloutSpec(rollout.spec);
  if (validation.ok) return { spec: validation.spec, issues: [], acting: validation.spec };
  return { spec: undefined, issues: validation.issues, acting: lastValidSpec(rollout.status) };
}

/** Reads what the engine needs to decide on `rollout` (`v` from {@link validated}). */
export async function observe(
  deps: ObserveDeps,
  noPolicyConfirmed: NoPolicyConfirmed,
  rollout: Rollout,
  v: Validated,
  now: Date,
): Promise<Observed> {
  if (v.spec && isInPlaceKind(v.spec.targetRef.kind)) return observeInPlace(deps, rollout, v, v.spec, now);
  if (v.spec) return observeValid(deps, noPolicyConfirmed, rollout, v, v.spec, now);
  // An invalid spec changes nothing of a StatefulSet or DaemonSet: it has no split to route back.
  if (isInPlaceKind(v.acting?.targetRef.kind))
    return { ...v, observations: { ...emptyObservations(), specIssues: v.issues }, warnings: [] };
  return observeFallback(deps, rollout, v, { ...emptyObservations(), specIssues: v.issues });
}

/**
 * A spec the engine cannot run — invalid, or refused — observed through the spec acted on before (`v.acting`): only
 * what routing back to primary and following the HPA need.
 */
async function observeFallback(
  deps: ObserveDeps,
  rollout: Rollout,
  v: Validated,
  observations: Observations,
): Promise<Observed> {
  if (!v.acting) return { ...v, observations, warnings: [] };
  const spec = v.acting;
  const names = workloadNames(rollout.metadata.namespace, rollout.metadata.name, spec);
  const snap = await deps.workloads.snapshot(names);
  const ref = splitRef(names, spec);
  const mesh = deps.mesh(spec);
  const autoscaler = WorkloadManager.observeAutoscalers(snap);
  const backends = await observeBackends(deps, snap, await mesh.getRoutes(ref));
  return {
    ...v,
    observations: {
      ...observations,
      ...backends,
      ...(autoscaler ? { autoscaler } : {}),
    },
    target: { spec, names, snap, owner: ownerOf(rollout), policy: null, ref, mesh, ...held(rollout) },
    warnings: [],
  };
}

/** What status says the Rollout holds. */
function held(rollout: Rollout): Pick<Target, "claims" | "replicas"> {
  return { claims: rollout.status?.claims ?? [], replicas: rollout.status?.replicas };
}

async function observeValid(
  deps: ObserveDeps,
  noPolicyConfirmed: NoPolicyConfirmed,
  rollout: Rollout,
  v: Validated,
  spec: RolloutSpec,
  now: Date,
): Promise<Observed> {
  const { namespace, name } = rollout.metadata;
  const generation = rollout.metadata.generation ?? 1;
  const names = workloadNames(namespace, name, spec);
  const mesh = deps.mesh(spec);
  const snap = await deps.workloads.snapshot(names);
  const owner = ownerOf(rollout);
  // Nothing is written to what the Rollout may not have: another Rollout's objects, hosts outside the policy. The
  // engine decides on the refused spec (for the reason); actions act on the last spec acted on, if still its own.
  const ref = {
    ...splitRef(names, spec),
    otherPorts: otherServicePorts(spec, snap.rootService).map((p) => p.port),
  };
  const refusals = await refusalsOf(deps, spec, names, snap, owner);
  // What the provider or its Gateways cannot serve: refused before anything is written, never half-applied.
  if (refusals.length === 0 && asksForManagedRoutes(spec))
    for (const message of await mesh.routeSupport(spec, ref))
      refusals.push({ reason: REASONS.RouteNotSupported, message: `spec.strategy.canary: ${message}` });
  if (refusals.length > 0) {
    const last = lastValidSpec(rollout.status);
    const acting = last && stillOurs(deps, rollout, last) ? last : undefined;
    const fallback = { ...v, acting };
    return observeFallback(deps, rollout, fallback, { ...emptyObservations(), refusals });
  }
  const policy = accessPolicyModel(rollout, spec, names, snap);
  const [routes, accessPolicyInSync] = await Promise.all([
    mesh.getRoutes(ref),
    !policy && noPolicyConfirmed.get(owner.uid) === generation
      ? Promise.resolve(true)
      : mesh.accessPolicyInSync(ref, policy),
  ]);
  const backends = await observeBackends(deps, snap, routes);
  const autoscaler = WorkloadManager.observeAutoscalers(snap);
  const tick = analysisTick(deps, rollout, spec, names, backends.canary.revision, now);
  const [checkIssues, checks] = await observeChecks(deps, rollout, spec);
  if (!policy && accessPolicyInSync) noPolicyConfirmed.set(owner.uid, generation);
  else noPolicyConfirmed.delete(owner.uid);
  const observations: Observations = {
    // Limits the API server would only enforce halfway through creating objects, and what the analysis settings
    // refuse (a query --scope-queries cannot confine): Invalid before anything is made or sent.
    specIssues: [
      ...checkDerivedLimits(spec, names, snap.target, snap.rootService),
      ...providerSpecIssues(spec),
      ...checkIssues,
      ...(deps.analysis.specIssues?.(spec, names) ?? []),
    ],
    ...backends,
    servicesReady: WorkloadManager.servicesReady(snap, spec, owner),
    accessPolicyInSync,
    ...(tick.result ? { analysis: tick.result.measurements, analysisAt: tick.result.startedAt } : {}),
    requests: requestsOf(rollout),
    window: evaluateWindows(spec.windows, now),
    ...(autoscaler ? { autoscaler } : {}),
    ...(checks ? { checks } : {}),
    refusals: [],
    ownership: await ownershipOf(deps, snap, rollout.status?.claims ?? [], owner),
  };
  const target = { spec, names, snap, owner, policy, ref, mesh, ...held(rollout) };
  return { ...v, observations, target, tick, warnings: providerWarnings(spec.provider, ref) };
}

/** A routing object's state as the engine observes it: the split, and the managed routes beside it. */
/**
 * The workloads, the routes, and the EndpointSlices where they are needed: blue/green's every reconcile, the canary
 * strategy's only while a route write may move weight onto a backend from 0 % (`switchTargets`), not per reconcile.
 */
async function observeBackends(deps: ObserveDeps, snap: WorkloadSnapshot, state: RouteState | null) {
  const workloads = WorkloadManager.observe(snap);
  const routes = routeObservations(state);
  const endpoints = await observeEndpoints(
    snap,
    (ns, svc) => deps.workloads.endpointSlices(ns, svc),
    switchTargets({ ...workloads, ...routes }),
  );
  return { ...workloads, ...routes, ...(endpoints ? { endpoints } : {}) };
}

export function routeObservations(state: RouteState | null): Pick<Observations, "routes" | "managedRoutes"> {
  // The key is always there, so a fresh read replaces managed routes an earlier read saw.
  if (state === null) return { routes: null, managedRoutes: undefined };
  const { managed, ...routes } = state;
  return { routes, managedRoutes: managed };
}

/**
 * The checks' side of a valid spec: what the operator's rules refuse of it (without a check runner, checks cannot
 * run at all), and the runs' results and Jobs.
 */
async function observeChecks(
  deps: ObserveDeps,
  rollout: Rollout,
  spec: RolloutSpec,
): Promise<[SpecIssue[], CheckObservations | undefined]> {
  const issues = async (): Promise<SpecIssue[]> => {
    if (deps.checks) return deps.checks.specIssues(rollout.metadata.namespace, spec);
    if (!spec.checks?.length) return [];
    return [{ path: "spec.checks", message: "this controller runs no checks" }];
  };
  return Promise.all([issues(), deps.checks?.observe(rollout, spec)]);
}

/**
 * A StatefulSet or DaemonSet target: its pods and revisions, the analysis tick, requests and windows. There is no
 * primary, no Service and no routing object to read: traffic follows the pods (docs/workloads.md).
 */
async function observeInPlace(
  deps: ObserveDeps,
  rollout: Rollout,
  v: Validated,
  spec: RolloutSpec,
  now: Date,
): Promise<Observed> {
  const { namespace, name } = rollout.metadata;
  const kind = spec.targetRef.kind as InPlaceSnapshot["kind"];
  const names = workloadNames(namespace, name, spec);
  const inPlace = await deps.inPlace.snapshot(kind, namespace, spec.targetRef.name);
  const claimant = inPlace.workload?.metadata.labels?.[LABELS.rollout];
  if (claimant && claimant !== name && (await deps.rollouts.exists(namespace, claimant))) {
    const message = `${kind} ${namespace}/${spec.targetRef.name} (spec.targetRef) is managed by Rollout ${claimant}; one object belongs to one Rollout`;
    const refusals = [{ reason: REASONS.OwnershipConflict, message }];
    return { ...v, observations: { ...emptyObservations(), refusals }, warnings: [] };
  }
  const workloads = InPlaceWorkloads.observe(inPlace);
  const tick = analysisTick(deps, rollout, spec, names, workloads.canary.revision, now);
  const [checkIssues, checks] = await observeChecks(deps, rollout, spec);
  const observations: Observations = {
    ...emptyObservations(),
    // The same analysis refusals as a Deployment's (a web URL outside --allowed-check-urls, an unscopable query).
    specIssues: [...inPlaceIssues(spec), ...checkIssues, ...(deps.analysis.specIssues?.(spec, names) ?? [])],
    ...(checks ? { checks } : {}),
    ownership: {
      claims: InPlaceWorkloads.claims(inPlace),
      labelled: !inPlace.workload || claimant === name,
      handedBack: true,
    },
    ...workloads,
    servicesReady: true,
    ...(tick.result ? { analysis: tick.result.measurements, analysisAt: tick.result.startedAt } : {}),
    requests: requestsOf(rollout),
    window: evaluateWindows(spec.windows, now),
  };
  const snap: WorkloadSnapshot = {
    names,
    target: undefined,
    primary: undefined,
    rootService: undefined,
    primaryService: undefined,
    canaryService: undefined,
  };
  // No split: the reference names Services nothing routes through, so no action writes them.
  const ref: SplitRef = {
    namespace,
    rolloutName: name,
    rootService: names.rootService,
    primaryService: names.primaryService,
    canaryService: names.canaryService,
    port: 0,
  };
  const target: Target = {
    spec,
    names,
    snap,
    owner: ownerOf(rollout),
    policy: null,
    ref,
    mesh: deps.mesh(spec),
    ...held(rollout),
    inPlace,
  };
  return { ...v, observations, target, tick, warnings: [] };
}

/**
 * The analysis tick of a valid spec. Measuring takes as long as Prometheus does: it runs off the workers and its
 * result comes back as a reconcile.
 */
function analysisTick(
  deps: ObserveDeps,
  rollout: Rollout,
  spec: RolloutSpec,
  names: WorkloadNames,
  observedRevision: string | undefined,
  now: Date,
): TickOutcome {
  const { namespace, name } = rollout.metadata;
  return deps.measurements.tick(`${namespace}/${name}`, {
    spec,
    status: rollout.status,
    generation: rollout.metadata.generation ?? 1,
    observedRevision,
    now,
    run: (measureSignal) => deps.analysis.measure(spec, names, measureSignal, rollout.status),
  });
}

/** What an in-place target cannot do yet: a traffic split, and the builtin metrics that measure one. */
function inPlaceIssues(spec: RolloutSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (spec.service)
    issues.push({
      path: "spec.service",
      message: `a traffic split for a ${spec.targetRef.kind} is not supported yet: leave service out, traffic follows the pods`,
    });
  for (const [i, m] of spec.analysis.metrics.entries())
    if (m.builtin)
      issues.push({
        path: `spec.analysis.metrics[${i}].builtin`,
        message: `builtin metrics measure a traffic split; a ${spec.targetRef.kind} takes a query (its canary pods carry the label controller-revision-hash={{ canary_hash }})`,
      });
  return issues;
}

/** What the Rollout may not touch: hosts and gateways outside the policy, objects that are not its to take. */
async function refusalsOf(
  deps: ObserveDeps,
  spec: RolloutSpec,
  names: WorkloadNames,
  snap: WorkloadSnapshot,
  owner: OwnerRef,
): Promise<Refusal[]> {
  const out: Refusal[] = exposureIssues(spec, names, deps.exposure).map((i) => ({
    reason: REASONS.NotAllowed,
    message: `${i.path}: ${i.message}`,
  }));
  const live = new Set<string>();
  for (const claimant of foreignClaimants(snap, names.rollout))
    if (await deps.rollouts.exists(names.namespace, claimant)) live.add(claimant);
  for (const message of ownershipConflicts(snap, owner, live))
    out.push({ reason: REASONS.OwnershipConflict, message });
  return out;
}

/** The spec names only objects this Rollout claimed, and hosts the policy allows. */
function stillOurs(deps: ObserveDeps, rollout: Rollout, spec: RolloutSpec): boolean {
  const names = workloadNames(rollout.metadata.namespace, rollout.metadata.name, spec);
  const claims = rollout.status?.claims ?? [];
  return (
    claims.some((c) => c.kind === "Deployment" && namedBy(c, names)) &&
    claims.some((c) => c.kind === "Service" && namedBy(c, names)) &&
    exposureIssues(spec, names, deps.exposure).length === 0
  );
}

/** Who holds the spec's objects, and whether those a rename left behind are handed back. */
async function ownershipOf(
  deps: ObserveDeps,
  snap: WorkloadSnapshot,
  recorded: readonly Claim[],
  owner: OwnerRef,
): Promise<OwnershipObservation> {
  const { names } = snap;
  const stale = recorded.filter((c) => !namedBy(c, names));
  let done = true;
  if (stale.length > 0) {
    const old = await deps.workloads.snapshot(handBackPlan(stale, recorded, names).names);
    const objects = stale.map((c) => (c.kind === "Deployment" ? old.target : old.rootService));
    done = handedBack(stale, objects, names.rollout) && leftovers(old, owner, names).length === 0;
  }
  return { claims: claimsOf(snap, recorded), labelled: claimLabelled(snap, names.rollout), handedBack: done };
}

/** The owner reference every object Vireo creates for `r` carries. */
export function ownerOf(r: Rollout): OwnerRef {
  return { apiVersion: API_VERSION, kind: KIND, name: r.metadata.name, uid: r.metadata.uid ?? "" };
}

/** Where a Rollout's traffic split lives: the Services it splits between, and the port. */
export function splitRef(names: WorkloadNames, spec: RolloutSpec): SplitRef {
  return {
    namespace: names.namespace,
    rolloutName: names.rollout,
    rootService: names.rootService,
    primaryService: names.primaryService,
    canaryService: names.canaryService,
    port: splitServiceOf(spec).port,
    ...(spec.gatewayApi ? { gatewayApi: spec.gatewayApi } : {}),
  };
}

function accessPolicyModel(
  r: Rollout,
  spec: RolloutSpec,
  names: WorkloadNames,
  snap: WorkloadSnapshot,
): AccessPolicyModel | null {
  if (!spec.accessPolicy) return null;
  return {
    ...splitRef(names, spec),
    owner: ownerOf(r),
    destinationServiceAccount: snap.target?.spec.template.spec?.serviceAccountName ?? "default",
    sources: spec.accessPolicy.sources.map((s) => ({
      serviceAccount: s.serviceAccount,
      namespace: s.namespace ?? names.namespace,
    })),
    ...(spec.accessPolicy.routes ? { routes: spec.accessPolicy.routes } : {}),
    probes: [
      ...httpProbesOf(snap.target?.spec.template.spec),
      ...httpProbesOf(snap.primary?.spec.template.spec),
    ],
  };
}

function requestsOf(r: Rollout): Partial<Record<RequestKind, string>> {
  const out: Partial<Record<RequestKind, string>> = {};
  for (const [kind, key] of Object.entries(ANNOTATIONS) as [RequestKind, string][]) {
    const value = r.metadata.annotations?.[key];
    if (value !== undefined && value !== "") out[kind] = value;
  }
  return out;
}

/** The last spec that passed validation, as kept in status (re-validated: status is writable by others too). */
export function lastValidSpec(status: RolloutStatus | undefined): RolloutSpec | undefined {
  if (!status?.lastValidSpec) return undefined;
  const v = validateRolloutSpec(status.lastValidSpec);
  return v.ok ? v.spec : undefined;
}

function emptyObservations(): Observations {
  const none = { exists: false, desiredReplicas: 0, readyReplicas: 0, rolledOut: false };
  return {
    specIssues: [],
    refusals: [],
    ownership: { claims: [], labelled: true, handedBack: true },
    canary: none,
    primary: none,
    servicesReady: false,
    routes: null,
    accessPolicyInSync: true,
    requests: {},
    window: evaluateWindows(undefined, new Date(0)),
  };
}
