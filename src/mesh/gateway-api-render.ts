// Pure rendering of a Gateway-parent HTTPRoute (north-south canary) and reading a route's status.parents verdict.

import type { GatewayApiSpec } from "../api/gateway-route-schema.ts";
import { routeObject, serviceBackendRefs } from "./gamma-render.ts";
import {
  GATEWAY_API_STYLE,
  type HttpRouteStyle,
  managedHttpRules,
  stickySplitRule,
} from "./http-route-managed.ts";
import type { ResourceType } from "./object-store.ts";
import type { MeshObject } from "./objects.ts";
import type { TrafficSplitModel } from "./types.ts";

const GATEWAY_GROUP = "gateway.networking.k8s.io";

/** A parentRef as the HTTPRoute stores it, every defaulted field explicit. */
export interface GatewayParentRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}

/** The Gateway parents of a Rollout's spec.gatewayApi, as rendered (group and kind explicit). */
export function gatewayParents(g: GatewayApiSpec | undefined): GatewayParentRef[] {
  return (g?.parentRefs ?? []).map((p) => ({
    group: GATEWAY_GROUP,
    kind: "Gateway",
    name: p.name,
    ...(p.namespace !== undefined ? { namespace: p.namespace } : {}),
    ...(p.sectionName !== undefined ? { sectionName: p.sectionName } : {}),
    ...(p.port !== undefined ? { port: p.port } : {}),
  }));
}

/**
 * The HTTPRoute `<rollout>` attached to the Rollout's Gateways: one rule matching the configured paths (default
 * PathPrefix /) with weighted backendRefs to `<svc>-primary` and `<svc>-canary`, after the managed routes. Every
 * field the upstream CRD defaults is written explicitly, so the stored object equals the rendered one and an
 * unchanged split is never rewritten.
 */
export function renderGatewayHttpRoute(
  model: TrafficSplitModel,
  gatewayApi: GatewayApiSpec,
  type: ResourceType,
  style: HttpRouteStyle = GATEWAY_API_STYLE,
): MeshObject {
  const matches = (gatewayApi.matches ?? [{ path: { type: "PathPrefix" as const, value: "/" } }]).map(
    (m) => ({
      path: { type: m.path.type, value: m.path.value },
    }),
  );
  return routeObject(model, type, {
    parentRefs: gatewayParents(gatewayApi),
    ...(gatewayApi.hostnames?.length ? { hostnames: [...gatewayApi.hostnames] } : {}),
    rules: [
      ...managedHttpRules(model, matches, style),
      { matches, ...stickySplitRule(model, serviceBackendRefs(model), style) },
    ],
  });
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}
interface ParentStatus {
  parentRef?: Partial<GatewayParentRef>;
  controllerName?: string;
  conditions?: Condition[];
}

/** Whether the Gateways serve a route, from its status.parents. */
export type ParentsVerdict =
  | { state: "accepted" }
  /** No status from some parent's controller yet (just written, or no controller owns that Gateway). */
  | { state: "pending"; message: string }
  /** A parent's controller refused the route or could not resolve its backends. */
  | { state: "rejected"; reason: string; message: string };

const sameParent = (a: Partial<GatewayParentRef>, b: GatewayParentRef, routeNamespace: string): boolean =>
  (a.group ?? GATEWAY_GROUP) === b.group &&
  (a.kind ?? "Gateway") === b.kind &&
  a.name === b.name &&
  (a.namespace ?? routeNamespace) === (b.namespace ?? routeNamespace) &&
  (a.sectionName ?? "") === (b.sectionName ?? "") &&
  (a.port ?? 0) === (b.port ?? 0);

const describeParent = (p: GatewayParentRef, routeNamespace: string): string =>
  `${p.kind} ${p.namespace ?? routeNamespace}/${p.name}` +
  (p.sectionName ? ` listener ${p.sectionName}` : "") +
  (p.port ? ` port ${p.port}` : "");

/**
 * Reads status.parents for every parent in `parents`: rejected when one has Accepted=False or ResolvedRefs=False
 * (quoting that controller's reason and message), pending when one has no entry or no Accepted condition yet, else
 * accepted. The route's own namespace is the default namespace of a parentRef, as in the API.
 */
export function parentsVerdict(route: MeshObject, parents: readonly GatewayParentRef[]): ParentsVerdict {
  const ns = route.metadata.namespace ?? "";
  const statuses = ((route as { status?: { parents?: ParentStatus[] } }).status?.parents ?? []).filter(
    (s): s is ParentStatus => typeof s === "object" && s !== null,
  );
  let pending: string | undefined;
  for (const parent of parents) {
    const entry = statuses.find((s) => s.parentRef && sameParent(s.parentRef, parent, ns));
    const cond = (type: string) => entry?.conditions?.find((c) => c?.type === type);
    for (const type of ["Accepted", "ResolvedRefs"]) {
      const c = cond(type);
      if (c?.status === "False") {
        const reason = typeof c.reason === "string" && c.reason ? c.reason : "Unknown";
        const by = entry?.controllerName ? ` (${entry.controllerName})` : "";
        return {
          state: "rejected",
          reason,
          message:
            `HTTPRoute ${ns}/${route.metadata.name} is not routed by ${describeParent(parent, ns)}${by}: ` +
            `${type}=False ${reason}${c.message ? `: ${c.message}` : ""}`,
        };
      }
    }
    if (pending === undefined && cond("Accepted")?.status !== "True")
      pending = `HTTPRoute ${ns}/${route.metadata.name} is not accepted by ${describeParent(parent, ns)} yet (no Accepted condition in status.parents)`;
  }
  return pending === undefined ? { state: "accepted" } : { state: "pending", message: pending };
}
