// Who holds the objects a Rollout names. Targets and root Services carry the claim label `vireo.dev/rollout`; what
// Vireo creates carries its labels and a controller owner reference. Pure: the reconciler reads the objects, this
// says what is refused, what to claim and record, and whether a hand-back is complete.

import { LABELS } from "../api/constants.ts";
import { MANAGED_BY, type ObjectMeta, type OwnerRef } from "../api/object-meta.ts";
import type { Claim } from "../api/rollout-schema.ts";
import { CANARY_SUFFIX, ORIGINAL_SELECTOR_ANNOTATION, PRIMARY_SUFFIX, type WorkloadNames } from "./names.ts";
import type { Deployment, Service } from "./objects.ts";
import { primarySelector } from "./render.ts";
import type { WorkloadSnapshot } from "./snapshot.ts";

type Obj = { metadata: ObjectMeta };

/** The Rollout named by an object's claim label, if any. */
export function claimantOf(obj: Obj | undefined): string | undefined {
  return obj?.metadata.labels?.[LABELS.rollout] || undefined;
}

/** True when Vireo created the object (for any Rollout): its managed-by label, or a Rollout controls it. */
function createdByVireo(obj: Obj): boolean {
  return (
    obj.metadata.labels?.[LABELS.managedBy] === MANAGED_BY ||
    (obj.metadata.ownerReferences ?? []).some((r) => r.controller && r.kind === "Rollout")
  );
}

/**
 * Whose an object Vireo would create (`<target>-primary`, `<service>-primary`, `<service>-canary`) is: undefined
 * when it is this Rollout's, else a clause saying whose it is. Its controller owner reference decides when it has
 * one; without one (a Rollout deleted with `--cascade=orphan`, then made again) Vireo's labels for this Rollout do,
 * as for the mesh objects, so a Rollout re-adopts its own objects and never someone else's.
 */
export function derivedOwner(obj: Obj, owner: OwnerRef): string | undefined {
  const controller = (obj.metadata.ownerReferences ?? []).find((r) => r.controller);
  if (controller) {
    if (controller.uid === owner.uid) return undefined;
    return controller.kind === "Rollout" && controller.name === owner.name
      ? `it belongs to an earlier Rollout ${owner.name} (uid ${controller.uid}), which garbage collection removes`
      : `it is controlled by ${controller.kind} ${controller.name}`;
  }
  const claimant = claimantOf(obj);
  if (obj.metadata.labels?.[LABELS.managedBy] === MANAGED_BY && claimant === owner.name) return undefined;
  if (claimant) return `it belongs to Rollout ${claimant}`;
  return "Vireo did not create it";
}

/**
 * Rollouts other than this one that claim the target or root Service. Their claim stands only while they exist,
 * so the reconciler checks these and passes the living ones to {@link ownershipConflicts}.
 */
export function foreignClaimants(snap: WorkloadSnapshot, rollout: string): string[] {
  const out = new Set<string>();
  for (const obj of [snap.target, snap.rootService]) {
    const c = claimantOf(obj);
    if (c && c !== rollout) out.add(c);
  }
  return [...out];
}

/**
 * Why this Rollout may not act on the objects it names, one sentence each (empty: it may):
 * - the target or root Service is claimed by another Rollout that still exists, or was created by Vireo for
 *   another Rollout (a primary, a backend Service: pointing at one would take over that Rollout's workload);
 * - `<target>-primary`, `<service>-primary` or `<service>-canary` exists and is not this Rollout's: Vireo never
 *   adopts an object it would otherwise create.
 * `liveClaimants`: the {@link foreignClaimants} that exist; a claim by a Rollout that is gone is stale and released.
 */
export function ownershipConflicts(
  snap: WorkloadSnapshot,
  owner: OwnerRef,
  liveClaimants: ReadonlySet<string>,
): string[] {
  const { names } = snap;
  const out: string[] = [];
  const adopted = (kind: string, field: string, obj: Obj | undefined) => {
    if (!obj) return;
    const claimant = claimantOf(obj);
    const role = obj.metadata.labels?.[LABELS.role];
    if (createdByVireo(obj) && claimant !== owner.name && role !== "root") {
      out.push(
        `${kind} ${names.namespace}/${obj.metadata.name} (${field}) was created by Vireo for Rollout ${claimant ?? "unknown"}; a Rollout may not take over another's objects`,
      );
    } else if (claimant && claimant !== owner.name && liveClaimants.has(claimant)) {
      out.push(
        `${kind} ${names.namespace}/${obj.metadata.name} (${field}) is managed by Rollout ${claimant}; one object belongs to one Rollout`,
      );
    }
  };
  adopted("Deployment", "spec.targetRef", snap.target);
  adopted("Service", "the root Service", snap.rootService);
  const derived = (kind: string, obj: Obj | undefined) => {
    if (!obj) return;
    const who = derivedOwner(obj, owner);
    if (who !== undefined)
      out.push(
        `${kind} ${names.namespace}/${obj.metadata.name} exists and is not this Rollout's (${who}); Vireo creates that name itself and never adopts an existing object: rename or delete it, or name another target or Service`,
      );
  };
  derived("Deployment", snap.primary);
  derived("Service", snap.primaryService);
  derived("Service", snap.canaryService);
  return out;
}

/** True when each of the target and root Service that exists carries this Rollout's claim label. */
export function claimLabelled(snap: WorkloadSnapshot, rollout: string): boolean {
  return [snap.target, snap.rootService].every((o) => o === undefined || claimantOf(o) === rollout);
}

/** A claim recorded for the same object (name and uid) as `obj`. */
function recordedFor(recorded: readonly Claim[], kind: Claim["kind"], obj: Obj): Claim | undefined {
  return recorded.find((c) => c.kind === kind && c.name === obj.metadata.name && c.uid === obj.metadata.uid);
}

/**
 * The claims to record for the target and root Service in `snap` (those that exist). A root's `selector` is the one
 * to give it back when it selected something other than the target's pods before Vireo; absent, it gets the pods
 * of whichever Deployment is its target when handed back. Once recorded, never re-derived (Vireo has since
 * rewritten the selector); before, earlier versions' annotation is read, and a root Vireo created or already
 * pointed at the primary counts as selecting the target's pods.
 */
export function claimsOf(snap: WorkloadSnapshot, recorded: readonly Claim[]): Claim[] {
  const out: Claim[] = [];
  const { target, rootService: root } = snap;
  if (target) out.push({ kind: "Deployment", name: target.metadata.name, uid: target.metadata.uid ?? "" });
  if (root) {
    const known = recordedFor(recorded, "Service", root);
    const selector = known ? known.selector : originalSelector(root, target);
    out.push({
      kind: "Service",
      name: root.metadata.name,
      uid: root.metadata.uid ?? "",
      ...(selector ? { selector } : {}),
    });
  }
  return out;
}

/** The root's selector from before Vireo, or undefined when that was the target's pods. */
function originalSelector(root: Service, target: Deployment | undefined): Record<string, string> | undefined {
  const targetSelector = target?.spec.selector.matchLabels;
  const remembered = root.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION];
  let before = root.spec.selector ?? {};
  if (remembered) {
    try {
      before = JSON.parse(remembered) as Record<string, string>;
    } catch {
      // not ours to trust: judge by what the objects say
    }
  } else if (createdByVireo(root) || (target && sameSelector(before, safePrimarySelector(target)))) {
    return undefined;
  }
  return targetSelector && sameSelector(before, targetSelector) ? undefined : { ...before };
}

function safePrimarySelector(target: Deployment): Record<string, string> | undefined {
  try {
    return primarySelector(target);
  } catch {
    return undefined;
  }
}

const sameSelector = (a: Record<string, string>, b: Record<string, string> | undefined) =>
  b !== undefined &&
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([k, v]) => b[k] === v);

/** True when the spec (as `names`) names the object of a recorded claim. */
export function namedBy(claim: Claim, names: Pick<WorkloadNames, "target" | "rootService">): boolean {
  return claim.name === (claim.kind === "Deployment" ? names.target : names.rootService);
}

/**
 * True when every claim in `claims` is handed back: its object is gone, is another object now (uid), or no longer
 * carries this Rollout's claim label — which the hand-back removes last, after everything else it restores.
 */
export function handedBack(
  claims: readonly Claim[],
  objects: readonly (Obj | undefined)[],
  rollout: string,
): boolean {
  return claims.every((c, i) => {
    const obj = objects[i];
    return obj === undefined || (obj.metadata.uid ?? "") !== c.uid || claimantOf(obj) !== rollout;
  });
}

/** "Deployment a and Service web", for messages. */
export function describeClaims(claims: readonly Pick<Claim, "kind" | "name">[]): string {
  const parts = claims.map((c) => `${c.kind} ${c.name}`);
  return parts.length <= 1 ? (parts[0] ?? "nothing") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

/** True when `obj` is the object `claim` was recorded for (claims recorded without a uid match any). */
export function sameObject(claim: Claim | undefined, obj: Obj | undefined): boolean {
  return claim !== undefined && obj !== undefined && (claim.uid === "" || claim.uid === obj.metadata.uid);
}

/**
 * Claims for a Rollout whose status records none — it predates claims, or died between labelling and its status
 * write: the objects that carry its claim label, and, when it recorded nothing at all, the unlabelled ones its own
 * objects prove it took over (a target beside its primary, a root Service with the selector remembered by earlier
 * versions or created for it). Never an object another Rollout claims.
 */
export function unrecordedClaims(snap: WorkloadSnapshot, owner: OwnerRef, recordedAny: boolean): Claim[] {
  const mine = (o: Obj | undefined) => claimantOf(o) === owner.name;
  const unclaimed = (o: Obj | undefined) => !recordedAny && claimantOf(o) === undefined;
  const { target, rootService: root, primary } = snap;
  const targetOurs =
    target !== undefined &&
    (mine(target) ||
      (unclaimed(target) && primary !== undefined && derivedOwner(primary, owner) === undefined));
  const rootOurs =
    root !== undefined &&
    (mine(root) ||
      (unclaimed(root) && root.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION] !== undefined));
  return claimsOf(
    { ...snap, target: targetOurs ? target : undefined, rootService: rootOurs ? root : undefined },
    [],
  );
}

/** Objects Vireo made for `snap.names` that are this Rollout's and whose names `keep` does not use. */
export function leftovers(snap: WorkloadSnapshot, owner: OwnerRef, keep?: WorkloadNames): Obj[] {
  const kept = new Set([keep?.primary, keep?.primaryService, keep?.canaryService]);
  return [snap.primary, snap.primaryService, snap.canaryService].filter(
    (o): o is NonNullable<typeof o> =>
      o !== undefined && !kept.has(o.metadata.name) && derivedOwner(o, owner) === undefined,
  );
}

/** What one hand-back step works on: a target and a root Service, and which of them to let go of. */
export interface HandBackPlan {
  /** Target and root Service (and the names derived from them) being handed back. */
  names: WorkloadNames;
  /** The target's claim: it gets its stable template and replicas back. */
  target?: Claim;
  /** The root's claim: it gets the recorded selector back. */
  root?: Claim;
  /** Whose claim label goes at the end: those the spec no longer names (all of them on deletion). */
  release: { target: boolean; root: boolean };
}

/**
 * The plan for handing back `stale` (claims the spec, as `current`, no longer names) out of everything `recorded`.
 * A root Service keeps serving through it: a renamed root gets the target's pods back, so the target (even one
 * still named) is restored; a renamed target hands its root (even one still named) the selector recorded for it.
 */
export function handBackPlan(
  stale: readonly Claim[],
  recorded: readonly Claim[],
  current: WorkloadNames,
): HandBackPlan {
  const pick = (kind: Claim["kind"]) =>
    stale.find((c) => c.kind === kind) ?? recorded.find((c) => c.kind === kind && namedBy(c, current));
  const target = pick("Deployment");
  const root = pick("Service");
  const targetName = target?.name ?? current.target;
  const rootName = root?.name ?? current.rootService;
  return {
    names: {
      ...current,
      target: targetName,
      primary: `${targetName}${PRIMARY_SUFFIX}`,
      rootService: rootName,
      primaryService: `${rootName}${PRIMARY_SUFFIX}`,
      canaryService: `${rootName}${CANARY_SUFFIX}`,
    },
    ...(target ? { target } : {}),
    ...(root ? { root } : {}),
    release: {
      target: stale.some((c) => c.kind === "Deployment"),
      root: stale.some((c) => c.kind === "Service"),
    },
  };
}
