// EndpointSlices as Vireo reads them: which pods a Service's slices list, ready or not, and whether a Service whose
// selector was switched to one of two backends has been switched in the slices the data plane routes by.

/** Label the EndpointSlice controller puts on every slice, naming its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** Anything that sends a GET to the API server (the kube clients, a mesh client). */
export interface SliceClient {
  request<T>(req: { path: string }): Promise<T>;
}

/** Lists every EndpointSlice of Service `service` (label kubernetes.io/service-name) from the API server. */
export async function listEndpointSlices(
  client: SliceClient,
  namespace: string,
  service: string,
): Promise<EndpointSlice[]> {
  const selector = encodeURIComponent(`${SERVICE_NAME_LABEL}=${service}`);
  const list = await client.request<{ items: EndpointSlice[] }>({
    path: `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices?labelSelector=${selector}`,
  });
  return list.items;
}

/** The part of a discovery.k8s.io/v1 EndpointSlice Vireo reads. */
export interface EndpointSlice {
  metadata: { name?: string; namespace?: string; labels?: Record<string, string> };
  endpoints?: {
    addresses: string[];
    /** Absent `ready` means ready (the API's convention); a terminating endpoint is never ready. */
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string; uid?: string };
  }[];
}

/** A Service's selector and the slices the EndpointSlice controller keeps for it. */
export interface SelectedPods {
  selector: Record<string, string> | undefined;
  slices: readonly EndpointSlice[];
}

/**
 * The pods a Service's slices list (by pod uid, else address), each with whether it is ready. A pod listed in several
 * slices (a slice being replaced) counts once, ready if any slice says so.
 */
export function listedPods(slices: readonly EndpointSlice[]): Map<string, boolean> {
  const pods = new Map<string, boolean>();
  for (const slice of slices) {
    for (const e of slice.endpoints ?? []) {
      const key = e.targetRef?.uid ?? e.addresses[0];
      if (key === undefined) continue;
      const ready = e.conditions?.ready !== false && e.conditions?.terminating !== true;
      pods.set(key, (pods.get(key) ?? false) || ready);
    }
  }
  return pods;
}

/** How many distinct pods the slices list as ready. */
export function readyCount(slices: readonly EndpointSlice[]): number {
  let n = 0;
  for (const ready of listedPods(slices).values()) if (ready) n++;
  return n;
}

const sameSelector = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) => {
  const ka = Object.keys(a ?? {});
  return ka.length > 0 && ka.length === Object.keys(b ?? {}).length && ka.every((k) => a?.[k] === b?.[k]);
};

/**
 * Which of the backends a Service routes to, as its EndpointSlices confirm: the backend whose selector it has, once
 * its slices list no pod of any other backend and the same ready pods as that backend's own slices. null while the
 * slices still show the previous selection (or not yet all of the new one), or when it selects none of them.
 *
 * The two-way agreement matters: the EndpointSlice controller computes a Service's slices afresh when its selector
 * changes, while the backend's slices follow pod changes with a lag — so once they agree, neither is stale.
 */
export function switchedTo<K extends string>(
  service: SelectedPods,
  backends: Record<K, SelectedPods>,
): K | null {
  const keys = Object.keys(backends) as K[];
  const side = keys.find((k) => sameSelector(service.selector, backends[k].selector));
  if (side === undefined) return null;
  const listed = listedPods(service.slices);
  for (const other of keys) {
    if (other === side) continue;
    for (const pod of listedPods(backends[other].slices).keys()) if (listed.has(pod)) return null;
  }
  const own = listedPods(backends[side].slices);
  for (const [pod, ready] of own) if (ready && listed.get(pod) !== true) return null;
  for (const [pod, ready] of listed) if (ready && own.get(pod) !== true) return null;
  return side;
}
