// Which version of a mesh API group the cluster serves, from the /apis/<group> discovery document.
import { classifyError, KubeErrorKind } from "../kube/errors.ts";
import type { MeshClient } from "./object-store.ts";

/** The versions of one API group the API server serves. */
export interface ServedVersions {
  versions: string[];
  /** The group's preferred version (for CRDs: the highest by Kubernetes version priority). */
  preferred: string | undefined;
}

interface APIGroup {
  versions?: { version?: string }[];
  preferredVersion?: { version?: string };
}

/** Reads `/apis/<group>`; null when the group is not served at all (CRDs not installed). */
export async function servedVersions(client: MeshClient, group: string): Promise<ServedVersions | null> {
  try {
    const doc = await client.request<APIGroup>({ path: `/apis/${group}` });
    return {
      versions: (doc.versions ?? []).flatMap((v) => (v.version ? [v.version] : [])),
      preferred: doc.preferredVersion?.version,
    };
  } catch (err) {
    if (classifyError(err).kind === KubeErrorKind.NotFound) return null;
    throw err;
  }
}

/**
 * The version to use: the group's preferred version when Vireo supports it, else the first of `supported` (in
 * Vireo's order of preference) that is served; undefined when none is.
 */
export function pickVersion<T extends string>(
  served: ServedVersions | null,
  supported: readonly T[],
): T | undefined {
  if (!served) return undefined;
  const preferred = supported.find((v) => v === served.preferred);
  return preferred ?? supported.find((v) => served.versions.includes(v));
}
