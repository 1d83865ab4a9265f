// Turns an adapter's NotServed failure into a signal that the API versions found by discovery are out of date.
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { MeshAdapter } from "./types.ts";

/**
 * `adapter`, calling `onNotServed` whenever one of its operations fails with {@link MeshError} `NotServed` (the
 * error still propagates), so the caller can re-read discovery at once instead of at its next scheduled detection.
 */
export function reportNotServed(adapter: MeshAdapter, onNotServed: () => void): MeshAdapter {
  const watch = async <T>(op: Promise<T>): Promise<T> => {
    try {
      return await op;
    } catch (err) {
      if (err instanceof MeshError && err.kind === MeshErrorKind.NotServed) onNotServed();
      throw err;
    }
  };
  return {
    name: adapter.name,
    setRoutes: (split) => watch(adapter.setRoutes(split)),
    getRoutes: (ref) => watch(adapter.getRoutes(ref)),
    routeSupport: (spec, ref) => watch(adapter.routeSupport(spec, ref)),
    applyAccessPolicy: (ref, policy) => watch(adapter.applyAccessPolicy(ref, policy)),
    accessPolicyInSync: (ref, policy) => watch(adapter.accessPolicyInSync(ref, policy)),
    cleanup: (ref) => watch(adapter.cleanup(ref)),
  };
}
