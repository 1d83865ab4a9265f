// Deleting a Rollout whose target is a StatefulSet or DaemonSet: the workload goes back to its own controller fully
// restored (a revision that never became stable is replaced by the stable template) or fully updated, never half way.
import { type InPlaceKind, LABELS, type Phase } from "../api/constants.ts";
import type { Rollout, RolloutSpec } from "../api/rollout-schema.ts";
import { InPlaceWorkloads } from "../workload/in-place.ts";
import type { ReconcilerDeps } from "./ports.ts";

/** Phases past the last check: the template is the one being promoted, and stays. */
const PROMOTED: readonly Phase[] = ["Promoting", "Finalizing"];

/**
 * Hands the workload back (when it carries this Rollout's claim) and says how it was left, for the Event; undefined
 * when it was not this Rollout's to hand back.
 */
export async function handBackInPlace(
  deps: Pick<ReconcilerDeps, "inPlace">,
  rollout: Rollout,
  spec: RolloutSpec,
): Promise<string | undefined> {
  const { namespace, name } = rollout.metadata;
  const kind = spec.targetRef.kind as InPlaceKind;
  const s = await deps.inPlace.snapshot(kind, namespace, spec.targetRef.name);
  if (s.workload?.metadata.labels?.[LABELS.rollout] !== name) return undefined;
  const status = rollout.status;
  const revision = InPlaceWorkloads.observe(s).canary.revision;
  const stable = status?.stableRevision;
  const stableHash = status?.workload?.stableHash;
  let how = `left at revision ${revision}, every pod updating to it`;
  if (
    revision &&
    stable &&
    stableHash &&
    revision !== stable &&
    !PROMOTED.includes(status?.phase ?? "Healthy") &&
    (await deps.inPlace.restoreTemplate(s, revision, stableHash))
  )
    how = `restored to the stable revision ${stable} (revision ${revision} never passed its rollout), every pod going back to it`;
  await deps.inPlace.release(s);
  return `handed back ${kind} ${spec.targetRef.name} to its own controller: ${how}`;
}
