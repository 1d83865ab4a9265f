// Polls the cluster every 500 ms for the routing object of the root service and keeps the current weights.
import type { KubeConfig } from "@kubernetes/client-node";
import { MESH_PROVIDERS } from "../../src/mesh/registry.ts";
import { KubeApiError, kubeRequest } from "../cluster/kube-request.ts";
import {
  allPrimary,
  fromHttpRoute,
  fromTrafficSplit,
  fromVirtualService,
  type RouteDecision,
  type RouteNames,
  type RoutingObject,
} from "./routing.ts";

/** One routing API the watcher looks at, with the versions it may be served under (most preferred first). */
interface RoutingApi {
  kind: string;
  group: string;
  resource: string;
  versions: readonly string[];
  parse: (obj: RoutingObject, names: RouteNames) => RouteDecision | undefined;
}

/** How the emulated mesh reads each routing kind a provider writes; a provider with a new kind adds one here. */
const PARSERS: Record<string, RoutingApi["parse"]> = {
  HTTPRoute: fromHttpRoute,
  VirtualService: fromVirtualService,
  TrafficSplit: fromTrafficSplit,
};

/**
 * The routing kinds of every provider (src/mesh/registry.ts), HTTPRoutes first, then VirtualServices, then
 * TrafficSplits — how current meshes prefer them (Linkerd: a TrafficSplit would override a route, but one rollout
 * only ever writes one kind). The first API holding a matching object wins.
 */
const APIS: RoutingApi[] = MESH_PROVIDERS.flatMap((p) => p.routingKinds)
  .map((k) => {
    const parse = PARSERS[k.kind];
    if (!parse) throw new Error(`the simulator cannot read ${k.kind} (${k.group}): add a parser to PARSERS`);
    return { kind: k.kind, group: k.group, resource: k.plural, versions: k.versions, parse };
  })
  // Providers share kinds (Istio writes Gateway API HTTPRoutes behind a waypoint): poll each once.
  .filter((a, i, all) => all.findIndex((b) => b.group === a.group && b.resource === a.resource) === i)
  .sort((a, b) => Object.keys(PARSERS).indexOf(a.kind) - Object.keys(PARSERS).indexOf(b.kind));

/** Keeps {@link current} in sync with the cluster's routing objects until {@link stop}. */
export class RouteWatcher {
  /** Latest decision; 100% primary until something else is found. */
  current: RouteDecision;
  /** Poll rounds that failed (API unreachable etc.); the last good decision is kept meanwhile. */
  errors = 0;
  lastError: string | undefined;
  private readonly kc: KubeConfig;
  private readonly names: RouteNames;
  private readonly intervalMs: number;
  /** Served version per API once found (CRDs may be installed after the simulator starts). */
  private readonly servedVersion = new Map<RoutingApi, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private listeners: ((d: RouteDecision) => void)[] = [];

  constructor(kc: KubeConfig, names: RouteNames, intervalMs = 500) {
    this.kc = kc;
    this.names = names;
    this.intervalMs = intervalMs;
    this.current = allPrimary(names);
  }

  /** Polls once immediately (so the first requests already follow routing), then every interval. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.poll().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Calls `fn` whenever the decision changes. */
  onChange(fn: (d: RouteDecision) => void): void {
    this.listeners.push(fn);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async poll(): Promise<void> {
    try {
      const decision = (await this.find()) ?? allPrimary(this.names);
      const changed = JSON.stringify(decision) !== JSON.stringify(this.current);
      this.current = decision;
      if (changed) for (const fn of this.listeners) fn(decision);
    } catch (err) {
      this.errors++;
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  private async find(): Promise<RouteDecision | undefined> {
    for (const api of APIS) {
      const items = await this.list(api);
      for (const obj of items) {
        const decision = api.parse(obj, this.names);
        if (decision) return decision;
      }
    }
    return undefined;
  }

  /**
   * Lists the API's objects in the namespace at the version discovery says is served; empty only when discovery
   * says the group serves none of the API's versions (a 404 from a list is never read as "no routes").
   */
  private async list(api: RoutingApi, rediscovered = false): Promise<RoutingObject[]> {
    let version = this.servedVersion.get(api);
    if (!version) {
      version = await this.discover(api);
      if (!version) return [];
      this.servedVersion.set(api, version);
    }
    const path = `/apis/${api.group}/${version}/namespaces/${this.names.namespace}/${api.resource}`;
    try {
      const list = await kubeRequest<{ items?: RoutingObject[] }>(this.kc, "GET", path);
      // Lists come back ordered by name, so the choice among several matching objects is stable.
      return list.items ?? [];
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404) || rediscovered) throw err;
      this.servedVersion.delete(api); // CRD removed or version dropped since discovery: ask again once
      return this.list(api, true);
    }
  }

  /** The first of the API's versions the group serves, from `/apis/<group>`; undefined when none is. */
  private async discover(api: RoutingApi): Promise<string | undefined> {
    let group: { versions?: { version: string }[] };
    try {
      group = await kubeRequest(this.kc, "GET", `/apis/${api.group}`);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined; // group not installed
      throw err;
    }
    const served = new Set((group.versions ?? []).map((v) => v.version));
    return api.versions.find((v) => served.has(v));
  }
}
