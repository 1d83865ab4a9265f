// Names and labels of the objects Vireo derives from a Rollout.
import { NAME_SUFFIXES, previewServiceName, rootServiceName } from "../api/derived-names.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";

/** Suffix of the primary Deployment and Service, and of the primary's selector label values. */
export const PRIMARY_SUFFIX = NAME_SUFFIXES.primary;
/** Suffix of the canary Service. */
export const CANARY_SUFFIX = NAME_SUFFIXES.canary;
/** Annotation on the primary Deployment holding the revision it runs. */
export const REVISION_ANNOTATION = "vireo.dev/revision";
/** Annotation on the root Service remembering its selector before Vireo re-pointed it at primary. */
export const ORIGINAL_SELECTOR_ANNOTATION = "vireo.dev/original-selector";

/** The names of everything one Rollout involves. */
export interface WorkloadNames {
  namespace: string;
  rollout: string;
  target: string;
  primary: string;
  rootService: string;
  primaryService: string;
  canaryService: string;
  /** Blue/green only: the preview Service (`strategy.blueGreen.previewService`, default `<root>-preview`). */
  previewService?: string;
}

/** Derives all names from the Rollout. */
export function workloadNames(namespace: string, rollout: string, spec: RolloutSpec): WorkloadNames {
  const target = spec.targetRef.name;
  const root = rootServiceName(spec);
  return {
    namespace,
    rollout,
    target,
    primary: `${target}${PRIMARY_SUFFIX}`,
    rootService: root,
    primaryService: `${root}${PRIMARY_SUFFIX}`,
    canaryService: `${root}${CANARY_SUFFIX}`,
    ...(spec.strategy.blueGreen ? { previewService: previewServiceName(spec) } : {}),
  };
}

/**
 * The primary's version of a label set: every selector key's value gets `-primary`, so primary pods never match
 * the user's selector and the two Deployments never fight over pods.
 */
export function primaryLabels(
  labels: Record<string, string> | undefined,
  selectorKeys: readonly string[],
): Record<string, string> {
  const out = { ...(labels ?? {}) };
  for (const key of selectorKeys) {
    const value = out[key];
    if (value === undefined) continue;
    const renamed = `${value}${PRIMARY_SUFFIX}`;
    if (renamed.length > 63) {
      throw new Error(
        `label ${key}=${value} is too long to derive the primary's label value (${renamed.length} > 63)`,
      );
    }
    out[key] = renamed;
  }
  return out;
}
