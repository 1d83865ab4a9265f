// The routes the engine manages beside the weight: which header routes and mirrors the steps entered so far have
// installed, and the sticky-cookie rules of sessionAffinity — all derived from the spec and status alone, so a
// controller that restarts routes exactly as before.

import { parseDuration } from "../api/duration.ts";
import type { RolloutSpec, RolloutStatus, StatusManagedRoute, Step } from "../api/rollout-schema.ts";
import { semanticEqual } from "../api/semantic-equal.ts";
import { mirrorMatchesOf, type SessionAffinity } from "../api/traffic-route-schema.ts";
import type { HeaderRoute, ManagedRoutes, MirrorRoute, StickySession } from "./types.ts";

/** What the managed routes of a decision depend on. */
export interface RouteContext {
  spec: RolloutSpec;
  /** The decision's status so far (phase, step, revision). */
  status: RolloutStatus;
  steps: readonly Step[];
  /** The canary has ready pods to answer. */
  canaryServes: boolean;
  /** The rollout attempt (see draft.ts attemptOf). */
  attempt: string;
}

/** No route beside the weights. */
export const NO_MANAGED_ROUTES: ManagedRoutes = { headerRoutes: [], mirrors: [] };

/**
 * Phases whose canary serves through managed routes: in flight, and promoting (the primary takes the canary's
 * template meanwhile, so a tester on the canary sees what everyone will). From Finalizing on they are gone.
 */
const ROUTED_PHASES = ["Progressing", "Paused", "Promoting"];

/**
 * The managed routes for this decision, with the canary routed `canaryWeight` %: the header routes and mirrors of
 * the steps entered so far (a step not yet entered installs nothing), the sticky cookies while the canary has
 * weight, and their expiry once the rollout is over. Nothing points at a canary without ready pods, and no mirror
 * runs while the canary has weight (the schema refuses such steps; this holds for any status too).
 */
export function managedRoutesFor(c: RouteContext, canaryWeight: number): ManagedRoutes {
  const { spec, steps, status } = c;
  const routed = ROUTED_PHASES.includes(status.phase ?? "Initializing") && c.canaryServes;
  const affinity = spec.strategy.canary?.sessionAffinity;
  const sticky = affinity && stickyFor(affinity, status, c.attempt, routed, canaryWeight);
  const out: ManagedRoutes = { ...NO_MANAGED_ROUTES, ...(sticky ? { sticky } : {}) };
  if (!routed) return out;
  const index = status.currentStepIndex ?? 0;
  const entered = status.stepStartedAt !== undefined ? index : index - 1;
  const headerRoutes = new Map<string, HeaderRoute>();
  const mirrors = new Map<string, MirrorRoute>();
  for (const step of steps.slice(0, entered + 1)) {
    const h = step.setHeaderRoute;
    if (h?.matches) headerRoutes.set(h.name, { name: h.name, matches: h.matches });
    else if (h) headerRoutes.delete(h.name);
    const m = step.setMirror;
    if (m?.percent !== undefined)
      mirrors.set(m.name, {
        name: m.name,
        percent: m.percent,
        matches: mirrorMatchesOf(m),
      });
    else if (m) mirrors.delete(m.name);
  }
  return {
    ...out,
    headerRoutes: [...headerRoutes.values()],
    mirrors: canaryWeight === 0 ? [...mirrors.values()] : [],
  };
}

/** Assign while the canary serves with weight; expire when the rollout is over; nothing at weight 0 in flight. */
function stickyFor(
  a: SessionAffinity,
  status: RolloutStatus,
  attempt: string,
  routed: boolean,
  canaryWeight: number,
): StickySession | undefined {
  const primaryCookie = a.primaryCookieName ?? `${a.cookieName}-primary`;
  const attributes = {
    maxAgeSeconds: Math.max(1, Math.round(parseDuration(a.maxAge) / 1000)),
    path: a.path,
    ...(a.domain !== undefined ? { domain: a.domain } : {}),
    ...(a.sameSite !== undefined ? { sameSite: a.sameSite } : {}),
    secure: a.secure,
    httpOnly: a.httpOnly,
  };
  if (!routed) return { mode: "expire", cookie: a.cookieName, primaryCookie, ...attributes };
  if (canaryWeight === 0) return undefined;
  return {
    mode: "assign",
    cookie: a.cookieName,
    ...(a.pinPrimary ? { primaryCookie } : {}),
    session: `${status.canaryRevision ?? "none"}.${attempt}`.replace(/[^A-Za-z0-9._-]/g, "-"),
    ...attributes,
  };
}

/** Whether the observed managed routes are `desired` (undefined observed: none; null: unreadable, never equal). */
export function sameManaged(observed: ManagedRoutes | null | undefined, desired: ManagedRoutes): boolean {
  if (observed === null) return false;
  return semanticEqual(observed ?? NO_MANAGED_ROUTES, desired);
}

/** Whether any managed route sends requests (or copies of them) to the canary. */
export function pointsAtCanary(m: ManagedRoutes | null | undefined): boolean {
  if (m === null) return true;
  return !!m && (m.headerRoutes.length > 0 || m.mirrors.length > 0 || m.sticky?.mode === "assign");
}

/** The managed routes as status lists them (for `kubectl get -o yaml`, the plugin and the dashboard). */
function statusManagedRoutes(m: ManagedRoutes): StatusManagedRoute[] {
  return [
    ...m.headerRoutes.map((r) => ({ type: "HeaderRoute" as const, name: r.name })),
    ...(m.sticky ? [{ type: "StickySession" as const, name: m.sticky.cookie, state: m.sticky.mode }] : []),
    ...m.mirrors.map((r) => ({ type: "Mirror" as const, name: r.name, percent: r.percent })),
  ];
}

/** Records in status the managed routes the mesh holds (kept as they were when they cannot be read). */
export function recordManagedRoutes(status: RolloutStatus, observed: ManagedRoutes | null | undefined): void {
  if (observed === null) return;
  const listed = statusManagedRoutes(observed ?? NO_MANAGED_ROUTES);
  if (listed.length > 0) status.managedRoutes = listed;
  else delete status.managedRoutes;
}
