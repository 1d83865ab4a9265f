// The adapter without a mesh: the root Service's selector is the route (all traffic to the primary's pods or to the
// canary's), and a switch counts as done only once the EndpointSlices the data plane routes by agree.
import { type OwnerRef, PATCH_TYPES, replacingMap } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { type EndpointSlice, listEndpointSlices, switchedTo } from "../kube/endpoint-slices.ts";
import { isNotFound } from "../kube/errors.ts";
import type { Weights } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import type { MeshClient } from "./object-store.ts";
import type { AccessPolicyModel, MeshAdapter, SplitRef, TrafficSplitModel } from "./types.ts";
import { assertWeights } from "./weights.ts";

/** The part of a core Service the adapter reads. */
export interface CoreService {
  metadata: { resourceVersion?: string };
  spec: { selector?: Record<string, string> };
}

/** Where the adapter reads Services and EndpointSlices ({@link apiCoreReader}: the API server). */
export interface CoreReader {
  service(namespace: string, name: string): Promise<CoreService | undefined>;
  /** Every EndpointSlice of Service `service` (label kubernetes.io/service-name). */
  endpointSlices(namespace: string, service: string): Promise<EndpointSlice[]>;
}

const servicePath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/services${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;

/** A {@link CoreReader} reading the API server directly (GET and LIST), for callers without caches. */
export function apiCoreReader(client: MeshClient): CoreReader {
  return {
    async service(namespace, name) {
      try {
        return await client.request<CoreService>({ path: servicePath(namespace, name) });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    endpointSlices: (namespace, service) => listEndpointSlices(client, namespace, service),
  };
}

/** Constructor options of {@link KubernetesServiceAdapter}. */
export interface KubernetesServiceAdapterOptions {
  client: MeshClient;
  core: CoreReader;
}

/**
 * Provider `kubernetes`: no mesh, so the split is the root Service's selector — the primary Service's selector
 * (100/0) or the canary Service's (0/100); nothing in between, which the schema enforces (blue/green only).
 * setRoutes patches the selector, fenced on the resourceVersion it read; getRoutes reports a side only once the
 * root's EndpointSlices list none of the other side's pods and all of this side's ready pods as ready, so the engine
 * never counts a switch done (and never scales the old side down) before kube-proxy and ingress controllers can
 * see it. No access policy: a non-null policy is refused with MeshError `Unsupported`.
 */
export class KubernetesServiceAdapter implements MeshAdapter {
  readonly name = "kubernetes";
  readonly #client: MeshClient;
  readonly #core: CoreReader;

  constructor(options: KubernetesServiceAdapterOptions) {
    this.#client = options.client;
    this.#core = options.core;
  }

  async setRoutes(split: TrafficSplitModel): Promise<Weights | null | undefined> {
    assertWeights(split.weights);
    if (split.weights.primary !== 100 && split.weights.canary !== 100)
      throw new MeshError(
        MeshErrorKind.Unsupported,
        `provider kubernetes moves all traffic at once (a Service selects one set of pods); cannot route ${split.weights.canary}% to the canary`,
      );
    const [root, backend] = await Promise.all([
      this.#core.service(split.namespace, split.rootService),
      this.#core.service(
        split.namespace,
        split.weights.primary === 100 ? split.primaryService : split.canaryService,
      ),
    ]);
    if (!root || !backend?.spec.selector || Object.keys(backend.spec.selector).length === 0)
      throw new MeshError(
        MeshErrorKind.Pending,
        `Service ${split.namespace}/${split.rootService} or its backend Service does not exist yet`,
      );
    const desired = backend.spec.selector;
    const current = root.spec.selector ?? {};
    if (JSON.stringify(sorted(current)) !== JSON.stringify(sorted(desired))) {
      await this.#client.request({
        method: "PATCH",
        path: servicePath(split.namespace, split.rootService),
        contentType: PATCH_TYPES.merge,
        body: {
          metadata: { resourceVersion: root.metadata.resourceVersion },
          spec: { selector: replacingMap(current, desired) },
        },
      });
    }
    // Only the EndpointSlice controller's next sync can confirm the switch.
    return undefined;
  }

  async getRoutes(ref: SplitRef): Promise<Weights | null> {
    const read = async (name: string) => {
      const [svc, slices] = await Promise.all([
        this.#core.service(ref.namespace, name),
        this.#core.endpointSlices(ref.namespace, name),
      ]);
      return svc ? { selector: svc.spec.selector, slices } : undefined;
    };
    const [root, primary, canary] = await Promise.all([
      read(ref.rootService),
      read(ref.primaryService),
      read(ref.canaryService),
    ]);
    if (!root || !primary || !canary) return null;
    const side = switchedTo(root, { primary, canary });
    if (side === null) return null;
    return side === "primary" ? { primary: 100, canary: 0 } : { primary: 0, canary: 100 };
  }

  /**
   * None: a Service selects one set of pods for every request, so it cannot route by header, mirror or keep sessions
   * (the schema already refuses a canary strategy, where such routes live, with this provider).
   */
  async routeSupport(_spec: RolloutSpec, _ref: SplitRef): Promise<string[]> {
    return [
      'provider "kubernetes" switches a Service\'s selector for all requests at once: it cannot route by header, mirror or keep sticky sessions; use istio, linkerd or gateway-api',
    ];
  }

  async applyAccessPolicy(
    _ref: SplitRef & { owner: OwnerRef },
    policy: AccessPolicyModel | null,
  ): Promise<void> {
    if (policy) throw noPolicy();
  }

  async accessPolicyInSync(_ref: SplitRef, policy: AccessPolicyModel | null): Promise<boolean> {
    return policy === null;
  }

  /** Nothing of its own to remove: the root Service is handed back by the workload layer with its selector. */
  async cleanup(_ref: SplitRef): Promise<void> {}
}

const noPolicy = () =>
  new MeshError(
    MeshErrorKind.Unsupported,
    "provider kubernetes has no access-policy API; use a NetworkPolicy",
  );

const sorted = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).sort());
