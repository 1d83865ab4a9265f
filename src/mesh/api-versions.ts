// Picks which served version of a mesh API group to write, given what discovery reports.
import type { ServedGroup } from "../kube/discovery.ts";

/**
 * The version to use: the group's preferred version when Vireo supports it, else the first of `supported` (in
 * Vireo's order of preference) that is served; undefined when none is (or the group is not served at all).
 */
export function pickVersion<T extends string>(
  served: ServedGroup | undefined,
  supported: readonly T[],
): T | undefined {
  if (!served) return undefined;
  const preferred = supported.find((v) => v === served.preferred);
  return preferred ?? supported.find((v) => served.versions.includes(v));
}
