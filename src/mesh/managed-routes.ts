// The mesh side of managed routes, shared by every provider: rule names, header conditions (a cookie is a regular
// expression on the Cookie header), Set-Cookie values, and the annotation that lets an adapter read back exactly
// the managed routes it wrote — and notice when someone else changed the rules that render them.
import { createHash } from "node:crypto";
import { MANAGED_ROUTES_ANNOTATION } from "../api/constants.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { canonicalJson } from "../api/semantic-equal.ts";
import { type HeaderMatch, mirrorMatchesOf, type RouteMatch } from "../api/traffic-route-schema.ts";
import type { ManagedRoutes, StickySession } from "../rollout/types.ts";
import type { MeshObject } from "./objects.ts";

/** Prefix of every rule Vireo adds for a Rollout: `vireo.<rollout>.` (a Gateway API rule name, dot-separated). */
export const managedPrefix = (rolloutName: string): string => `vireo.${rolloutName}.`;

/** What a managed rule does. */
export type ManagedRuleKind = "header" | "sticky" | "expire" | "mirror";

/** The name of a managed rule: `vireo.<rollout>.<kind>.<name>`, a valid Gateway API rule name. */
export const managedRuleName = (rolloutName: string, kind: ManagedRuleKind, name: string): string =>
  `${managedPrefix(rolloutName)}${kind}.${name}`;

/** A header condition in the one form every provider renders from. */
export type HeaderCondition = Pick<HeaderMatch, "name" | "type" | "value">;

/** `s` as a regular expression matching exactly `s` (RE2 and JavaScript alike). */
export const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");

/**
 * A condition on the Cookie header: the cookie `name` present with exactly `value`, or with any value. Anchored,
 * so it means the same to data planes that match the whole value (Envoy) and to those that search (Go, Traefik).
 */
export function cookieCondition(name: string, value?: string): HeaderCondition {
  const v = value === undefined ? "[^;]*" : escapeRegex(value);
  return { name: "cookie", type: "RegularExpression", value: `^(.*;\\s*)?${escapeRegex(name)}=${v}(;.*)?$` };
}

/** The header conditions of one match, its cookie included. */
export function conditionsOf(match: RouteMatch): HeaderCondition[] {
  const headers = (match.headers ?? []).map(({ name, type, value }) => ({ name, type, value }));
  return match.cookie ? [...headers, cookieCondition(match.cookie.name, match.cookie.value)] : headers;
}

/**
 * A condition as an anchored regular expression, for APIs without Prefix (Gateway API) or without anything but
 * regexes (SMI): Exact `^v$`, Prefix `^v.*$`; a RegularExpression is the user's, as written.
 */
export function asRegex(c: HeaderCondition): string {
  if (c.type === "Exact") return `^${escapeRegex(c.value)}$`;
  if (c.type === "Prefix") return `^${escapeRegex(c.value)}.*$`;
  return c.value;
}

/** Cookie attributes shared by setting and expiring. */
function attributes(s: StickySession, maxAge: number): string {
  return [
    `Max-Age=${maxAge}`,
    `Path=${s.path}`,
    ...(s.domain ? [`Domain=${s.domain}`] : []),
    ...(s.sameSite ? [`SameSite=${s.sameSite}`] : []),
    ...(s.secure ? ["Secure"] : []),
    ...(s.httpOnly ? ["HttpOnly"] : []),
  ].join("; ");
}

/** One sticky rule: requests carrying `condition` go to `backend`; `setCookie` is added to their responses. */
export interface StickyRule {
  name: string;
  condition: HeaderCondition;
  backend: "primary" | "canary";
  setCookie?: string;
}

/** What sticky sessions add: the cookie rules, and the cookie each backend of the weighted split sets. */
export interface StickyRendering {
  rules: StickyRule[];
  /** Set-Cookie added to responses of each backend of the weighted rule (assign only). */
  splitCookies: Partial<Record<"primary" | "canary", string>>;
}

/**
 * The sticky-session rules. Assign: a request carrying the canary's cookie of this rollout attempt stays on the
 * canary, one carrying the primary's (when pinned) on the primary; the weighted split sets the cookie of whichever
 * backend answers. Expire: a request carrying either cookie (any value) is answered by the primary with the cookie
 * expired (Max-Age=0).
 */
export function stickyRendering(rolloutName: string, s: StickySession | undefined): StickyRendering {
  if (!s) return { rules: [], splitCookies: {} };
  if (s.mode === "expire") {
    const cookies: ["canary" | "primary", string | undefined][] = [
      ["canary", s.cookie],
      ["primary", s.primaryCookie],
    ];
    return {
      rules: cookies.flatMap(([which, cookie]) =>
        cookie === undefined
          ? []
          : [
              {
                name: managedRuleName(rolloutName, "expire", which),
                condition: cookieCondition(cookie),
                backend: "primary" as const,
                setCookie: `${cookie}=; ${attributes(s, 0)}`,
              },
            ],
      ),
      splitCookies: {},
    };
  }
  const session = s.session ?? "";
  const set = (cookie: string) => `${cookie}=${session}; ${attributes(s, s.maxAgeSeconds)}`;
  return {
    rules: [
      {
        name: managedRuleName(rolloutName, "sticky", "canary"),
        condition: cookieCondition(s.cookie, session),
        backend: "canary",
      },
      ...(s.primaryCookie
        ? [
            {
              name: managedRuleName(rolloutName, "sticky", "primary"),
              condition: cookieCondition(s.primaryCookie, session),
              backend: "primary" as const,
            },
          ]
        : []),
    ],
    splitCookies: {
      canary: set(s.cookie),
      ...(s.primaryCookie ? { primary: set(s.primaryCookie) } : {}),
    },
  };
}

/** Whether there is anything to render. */
export const hasManagedRoutes = (m: ManagedRoutes | undefined): m is ManagedRoutes =>
  !!m && (m.headerRoutes.length > 0 || m.mirrors.length > 0 || m.sticky !== undefined);

/** Digest of the part of a routing object that renders the managed routes (canonical JSON, SHA-256, 16 hex). */
const digestOf = (projection: unknown): string =>
  createHash("sha256").update(canonicalJson(projection)).digest("hex").slice(0, 16);

/** The annotation recording `managed`, rendered as `projection`; none when there is nothing managed. */
export function managedAnnotations(
  managed: ManagedRoutes | undefined,
  projection: unknown,
): Record<string, string> {
  if (!hasManagedRoutes(managed)) return {};
  return { [MANAGED_ROUTES_ANNOTATION]: JSON.stringify({ routes: managed, digest: digestOf(projection) }) };
}

/**
 * The managed routes a live routing object holds, given the part that renders them (`projection`; `empty` when it
 * renders none): none when that part is empty; the recorded routes when the annotation's digest matches it; null
 * when it does not (someone edited or removed Vireo's rules), so the engine writes them again.
 */
export function readManagedRoutes(
  obj: MeshObject,
  projection: unknown,
  empty: boolean,
): ManagedRoutes | null | undefined {
  if (empty) return undefined;
  const raw = obj.metadata.annotations?.[MANAGED_ROUTES_ANNOTATION];
  if (raw === undefined) return null;
  try {
    const parsed = JSON.parse(raw) as { routes?: ManagedRoutes; digest?: string };
    return parsed.routes && parsed.digest === digestOf(projection) ? parsed.routes : null;
  } catch {
    return null;
  }
}

/** Whether a spec asks for any managed route (a header route, a mirror, a sticky session). */
export function asksForManagedRoutes(spec: RolloutSpec): boolean {
  // Blue/green has no canary steps: it asks for none.
  const steps = spec.strategy.canary?.steps ?? [];
  return !!spec.strategy.canary?.sessionAffinity || steps.some((s) => s.setHeaderRoute || s.setMirror);
}

/**
 * Every managed route the spec can ask for, all at once (every header route and mirror its steps install, the
 * sticky cookies assigning): what an adapter must be able to render for the whole rollout, checked before it starts.
 */
export function everyManagedRoute(spec: RolloutSpec): ManagedRoutes {
  const headerRoutes = new Map<string, ManagedRoutes["headerRoutes"][number]>();
  const mirrors = new Map<string, ManagedRoutes["mirrors"][number]>();
  for (const step of spec.strategy.canary?.steps ?? []) {
    const h = step.setHeaderRoute;
    if (h?.matches) headerRoutes.set(h.name, { name: h.name, matches: h.matches });
    const m = step.setMirror;
    if (m?.percent !== undefined)
      mirrors.set(m.name, { name: m.name, percent: m.percent, matches: mirrorMatchesOf(m) });
  }
  const a = spec.strategy.canary?.sessionAffinity;
  return {
    headerRoutes: [...headerRoutes.values()],
    mirrors: [...mirrors.values()],
    ...(a
      ? {
          sticky: {
            mode: "assign" as const,
            cookie: a.cookieName,
            ...(a.pinPrimary ? { primaryCookie: a.primaryCookieName ?? `${a.cookieName}-primary` } : {}),
            session: "0123456789.0123456789",
            maxAgeSeconds: 1,
            path: a.path,
            secure: a.secure,
            httpOnly: a.httpOnly,
          },
        }
      : {}),
  };
}
