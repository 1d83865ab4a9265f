// Blue/green's reading of the EndpointSlices: how many ready pods each backend's slices list, and which backend the
// preview Service's slices confirm — what the data plane routes by, rather than what the Deployments say.
import { type EndpointSlice, readyCount, switchedTo } from "../kube/endpoint-slices.ts";
import type { EndpointsObservation } from "../rollout/types.ts";
import type { WorkloadSnapshot } from "./snapshot.ts";

/** Lists every EndpointSlice of one Service (label kubernetes.io/service-name). */
export type SliceLister = (namespace: string, service: string) => Promise<EndpointSlice[]>;

/**
 * The engine's {@link EndpointsObservation} for a blue/green Rollout; undefined for a canary strategy. A preview
 * Service not yet created confirms no side.
 */
export async function observeEndpoints(
  s: WorkloadSnapshot,
  list: SliceLister,
): Promise<EndpointsObservation | undefined> {
  const { names } = s;
  if (names.previewService === undefined) return undefined;
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
