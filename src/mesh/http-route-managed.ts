// Managed routes in Gateway API's HTTPRoute shape (Gateway API v1 and Linkerd's policy.linkerd.io HTTPRoute): the
// rules for header routes, sticky cookies and mirrors, the split rule's per-backend cookies or session persistence,
// and reading them back. Pure.

import type { ManagedRoutes } from "../rollout/types.ts";
import { MeshError, MeshErrorKind } from "./errors.ts";
import {
  asRegex,
  conditionsOf,
  type HeaderCondition,
  managedPrefix,
  managedRuleName,
  readManagedRoutes,
  type StickyRendering,
  stickyRendering,
} from "./managed-routes.ts";
import type { MeshObject } from "./objects.ts";
import type { TrafficSplitModel } from "./types.ts";

/** A match of an HTTPRoute rule (path, headers, method), every defaulted field explicit. */
export type HttpRouteMatch = Record<string, unknown> & { headers?: Record<string, unknown>[] };

/** How a route's managed rules are written. */
export interface HttpRouteStyle {
  /** The CRD keeps `rules[].name` (Gateway API v1.4+; Linkerd's policy.linkerd.io HTTPRoute prunes it). */
  named: boolean;
  /** The CRD's bound on matches per rule (Gateway API 64, Linkerd 8). */
  maxMatches: number;
  /** The CRD's bound on matches across all rules of a route (Gateway API 128), if any. */
  maxRouteMatches?: number;
  /** Sticky sessions as the split rule's native `sessionPersistence` instead of cookie rules (GEP-1619). */
  sessionPersistence?: boolean;
}

/** Gateway API v1.4's HTTPRoute: named rules, 64 matches a rule and 128 a route, sticky sessions as cookie rules. */
export const GATEWAY_API_STYLE: HttpRouteStyle = { named: true, maxMatches: 64, maxRouteMatches: 128 };

/** Gateway API header matches: Exact stays exact, Prefix and regexes become anchored RegularExpression. */
const gatewayHeaders = (conditions: readonly HeaderCondition[]) =>
  conditions.map((c) =>
    c.type === "Exact"
      ? { type: "Exact", name: c.name, value: c.value }
      : { type: "RegularExpression", name: c.name, value: asRegex(c) },
  );

const responseCookie = (value: string) => ({
  type: "ResponseHeaderModifier",
  responseHeaderModifier: { add: [{ name: "Set-Cookie", value }] },
});

/** A Gateway API duration (at most 5 digits per unit) of `seconds`: hours, minutes, seconds. */
function gatewayDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s || (!h && !m) ? `${s}s` : ""}`;
}

/**
 * The managed rules of a route whose split rule matches `base`, in precedence order: header routes, sticky
 * cookies, mirrors. Every condition is crossed with `base`, so no managed rule catches more than the split rule. With
 * a mirror in place, header routes also carry each mirrored method: Gateway API ranks a method match above header
 * matches, and a tester's GET must not lose its header route to the mirror rule. `others` counts the matches of the
 * route's other rules (default: the split rule's `base`), which share the route's bound with the managed ones.
 */
export function managedHttpRules(
  model: TrafficSplitModel,
  base: readonly HttpRouteMatch[],
  style: HttpRouteStyle,
  others: number = base.length,
): Record<string, unknown>[] {
  const m = model.managed;
  if (!m) return [];
  const sticky = style.sessionPersistence ? undefined : stickyRendering(model.rolloutName, m.sticky);
  const backend = (name: string) => [{ group: "", kind: "Service", name, port: model.port, weight: 1 }];
  const mirrored = [...new Set(m.mirrors.flatMap((r) => r.matches.flatMap((x) => x.methods ?? [])))];
  const methods = mirrored.length > 0 ? [undefined, ...mirrored] : [undefined];
  const rule = (name: string, matches: HttpRouteMatch[], rest: Record<string, unknown>) => {
    // No request meets it (its methods are none of the base's); a rule without matches would catch every request.
    if (matches.length === 0) return [];
    if (matches.length > style.maxMatches)
      throw new MeshError(
        MeshErrorKind.Unsupported,
        `managed route ${name} needs ${matches.length} matches (its conditions × the split rule's ${base.length}${mirrored.length ? ` × the mirrored methods` : ""}); the HTTPRoute holds ${style.maxMatches} per rule`,
      );
    return [{ ...(style.named ? { name } : {}), matches, ...rest }];
  };
  // A base match with its own method meets only that method: crossed with another, it would match nothing.
  const cross = (conditions: readonly HeaderCondition[], method?: string) =>
    base
      .filter((b) => !method || b.method === undefined || b.method === method)
      .map((b) => ({
        ...b,
        ...(method ? { method } : {}),
        headers: [...(b.headers ?? []), ...gatewayHeaders(conditions)],
      }));
  const rules = [
    ...m.headerRoutes.flatMap((r) => {
      const name = managedRuleName(model.rolloutName, "header", r.name);
      const matches = r.matches.flatMap((x) => methods.flatMap((method) => cross(conditionsOf(x), method)));
      return rule(name, matches, { backendRefs: backend(model.canaryService) });
    }),
    ...(sticky?.rules ?? []).flatMap((r) =>
      rule(r.name, cross([r.condition]), {
        ...(r.setCookie ? { filters: [responseCookie(r.setCookie)] } : {}),
        backendRefs: backend(r.backend === "primary" ? model.primaryService : model.canaryService),
      }),
    ),
    ...m.mirrors.flatMap((r) => {
      const name = managedRuleName(model.rolloutName, "mirror", r.name);
      const matches = r.matches.flatMap((x) =>
        (x.methods ?? [undefined]).flatMap((method) =>
          cross(
            (x.headers ?? []).map(({ name: h, type, value }) => ({ name: h, type, value })),
            method,
          ),
        ),
      );
      const requestMirror = {
        backendRef: { group: "", kind: "Service", name: model.canaryService, port: model.port },
        // 100 % is a plain mirror: implementations without percentages accept it.
        ...(r.percent < 100 ? { percent: r.percent } : {}),
      };
      return rule(name, matches, {
        filters: [{ type: "RequestMirror", requestMirror }],
        backendRefs: backend(model.primaryService),
      });
    }),
  ];
  const total = rules.reduce((n, r) => n + r.matches.length, others);
  if (style.maxRouteMatches !== undefined && total > style.maxRouteMatches)
    throw new MeshError(
      MeshErrorKind.Unsupported,
      `the managed routes need ${total - others} matches beside the route's other ${others}; an HTTPRoute holds ${style.maxRouteMatches} in all its rules`,
    );
  return rules;
}

/**
 * What the split rule carries for sticky sessions: each backendRef's Set-Cookie filter (cookie rules), or the rule's
 * `sessionPersistence` (native). `backendRefs` are the split's, as rendered.
 */
export function stickySplitRule(
  model: TrafficSplitModel,
  backendRefs: Record<string, unknown>[],
  style: HttpRouteStyle,
): Record<string, unknown> {
  const s = model.managed?.sticky;
  if (style.sessionPersistence) {
    if (s?.mode !== "assign") return { backendRefs };
    return {
      backendRefs,
      sessionPersistence: {
        sessionName: s.cookie,
        type: "Cookie",
        absoluteTimeout: gatewayDuration(s.maxAgeSeconds),
        cookieConfig: { lifetimeType: "Permanent" },
      },
    };
  }
  const { splitCookies }: StickyRendering = stickyRendering(model.rolloutName, s);
  return {
    backendRefs: backendRefs.map((b) => {
      const cookie = splitCookies[b.name === model.primaryService ? "primary" : "canary"];
      return cookie ? { ...b, filters: [responseCookie(cookie)] } : b;
    }),
  };
}

/** The rules of an HTTPRoute as written (anything but an array reads as none). */
const rulesOf = (spec: unknown): Record<string, unknown>[] => {
  const rules = (spec as { rules?: unknown } | undefined)?.rules;
  return Array.isArray(rules) ? (rules as Record<string, unknown>[]) : [];
};

/**
 * What renders the managed routes in a route Vireo generates (managed rules first, the split rule last): the rules
 * before the split, and the split's per-backend filters and session persistence.
 */
export function generatedRouteProjection(spec: unknown): { rules: unknown[]; split: unknown } {
  const rules = rulesOf(spec);
  const split = rules.at(-1) as
    | { backendRefs?: { filters?: unknown }[]; sessionPersistence?: unknown }
    | undefined;
  return {
    rules: rules.slice(0, -1),
    split: {
      filters: (split?.backendRefs ?? []).map((b) => b?.filters ?? null),
      sessionPersistence: split?.sessionPersistence ?? null,
    },
  };
}

/** The managed routes a route Vireo generates holds. */
export function generatedRouteManagedRoutes(obj: MeshObject): ManagedRoutes | null | undefined {
  const p = generatedRouteProjection(obj.spec);
  const split = p.split as { filters: unknown[]; sessionPersistence: unknown };
  return readManagedRoutes(
    obj,
    p,
    p.rules.length === 0 && split.filters.every((f) => f === null) && split.sessionPersistence === null,
  );
}

/** Whether a rule of a route someone else owns is one Vireo added for `rolloutName`. */
export const isManagedRule = (rule: unknown, rolloutName: string): boolean => {
  const name = (rule as { name?: unknown } | null)?.name;
  return typeof name === "string" && name.startsWith(managedPrefix(rolloutName));
};

/** What renders the managed routes in a route someone else owns: the rules Vireo added (by name). */
export const userRouteProjection = (spec: unknown, rolloutName: string): unknown[] =>
  rulesOf(spec).filter((r) => isManagedRule(r, rolloutName));

/** The managed routes Vireo added to a route someone else owns. */
export function userRouteManagedRoutes(
  obj: MeshObject,
  rolloutName: string,
): ManagedRoutes | null | undefined {
  const p = userRouteProjection(obj.spec, rolloutName);
  return readManagedRoutes(obj, p, p.length === 0);
}
