// The engine's reading of the EndpointSlices: how many ready pods each backend's slices list, and which backend the
// preview Service's slices confirm — what the data plane routes by, rather than what the Deployments say.
import { type EndpointSlice, readyCount, switchedTo } from "../kube/endpoint-slices.ts";
import type { EndpointsObservation, Side } from "../rollout/types.ts";
import type { WorkloadSnapshot } from "./snapshot.ts";

/** Lists every EndpointSlice of one Service (label kubernetes.io/service-name). */
export type SliceLister = (namespace: string, service: string) => Promise<EndpointSlice[]>;

/**
 * The engine's {@link EndpointsObservation}. Blue/green reads the backends and the preview every reconcile (a
 * preview Service not yet created confirms no side); the canary strategy reads only `switchTargets`, the backends
 * a route write may move weight onto from 0 % (none: nothing is read, undefined).
 */
export async function observeEndpoints(
  s: WorkloadSnapshot,
  list: SliceLister,
  switchTargets: readonly Side[],
): Promise<EndpointsObservation | undefined> {
  const { names } = s;
  if (names.previewService === undefined) {
    if (switchTargets.length === 0) return undefined;
    const ready = async (side: Side) =>
      readyCount(
        await list(names.namespace, side === "primary" ? names.primaryService : names.canaryService),
      );
    const [primaryReady, canaryReady] = await Promise.all(
      (["primary", "canary"] as const).map((side) =>
        switchTargets.includes(side) ? ready(side) : undefined,
      ),
    );
    return {
      ...(primaryReady !== undefined ? { primaryReady } : {}),
      ...(canaryReady !== undefined ? { canaryReady } : {}),
      preview: null,
    };
  }
  const [primary, canary, preview] = await Promise.all([
    list(names.namespace, names.primaryService),
    list(names.namespace, names.canaryService),
    s.previewService ? list(names.namespace, names.previewService) : Promise.resolve([]),
  ]);
  const side =
    s.previewService && s.primaryService && s.canaryService
      ? switchedTo(
          { selector: s.previewService.spec.selector, slices: preview },
          {
            primary: { selector: s.primaryService.spec.selector, slices: primary },
            canary: { selector: s.canaryService.spec.selector, slices: canary },
          },
        )
      : null;
  return { primaryReady: readyCount(primary), canaryReady: readyCount(canary), preview: side };
}
