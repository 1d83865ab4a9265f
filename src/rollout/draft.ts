// The decision being built: a private copy of the status the rules change, the actions they ask for, the wake-up
// time, and the context every rule reads.

import type { MetricResult } from "../analysis/types.ts";
import type { CheckRun } from "../api/check-schema.ts";
import {
  MILESTONE_REASONS,
  MILESTONES_KEPT,
  type MilestoneReason,
  type Phase,
  REASONS,
  type Reason,
} from "../api/constants.ts";
import type { NotifyEvent, RolloutSpec, RolloutStatus } from "../api/rollout-schema.ts";
import { NO_MANAGED_ROUTES, sameManaged } from "./managed-routes.ts";
import type { expandSteps } from "./steps.ts";
import type { Action, ManagedRoutes, Observations, Side, Weights, WorkloadObservation } from "./types.ts";

/** Phases in which a canary is in flight. */
export const IN_FLIGHT: readonly Phase[] = ["Progressing", "Paused"];

/** True when a Deployment has finished rolling out and has at least one ready pod (and all it wants). */
export function isReady(w: WorkloadObservation): boolean {
  return w.exists && w.rolledOut && w.readyReplicas > 0 && w.readyReplicas >= w.desiredReplicas;
}

/**
 * The rollout attempt: its start (or retry) time in base 36, 8 characters — what keeps a retried rollout's
 * notification keys and sticky cookies apart from the earlier attempt's.
 */
export function attemptOf(status: RolloutStatus): string {
  const startedAt = status.rolloutStartedAt ? Date.parse(status.rolloutStartedAt) : Number.NaN;
  return Number.isFinite(startedAt) ? startedAt.toString(36) : "0";
}

/** The split that gives the canary `canary` percent. */
export const weights = (canary: number): Weights => ({ primary: 100 - canary, canary });

/** The world's intentions, in the order the reconciler carries them out (routes settle before a scale-down). */
const WORLD_ORDER = [
  "HandBack",
  "ClaimObjects",
  "EnsureWorkloads",
  "SyncAutoscaler",
  "DeleteAutoscaler",
  "ScalePrimary",
  "PromotePrimary",
  "ScaleCanaryUp",
  "PointPreview",
  "SetRoutes",
  "ApplyAccessPolicy",
  "HoldUpdates",
  "RestoreTemplate",
  "DeletePods",
  "ScaleCanaryDown",
] as const;
type WorldAction = Extract<Action, { type: (typeof WORLD_ORDER)[number] }>;
type Chatter = Extract<Action, { type: "RecordEvent" | "Notify" }>;
type CheckJobAction = Extract<Action, { type: "CreateCheckJob" | "DeleteCheckJob" }>;

/**
 * Accumulates the decision while the rules run; the rules mutate a private copy of the status. World intentions
 * are desired states, not commands: a later rule's wish replaces an earlier one's (a phase entered twice in one
 * decision asks once), and {@link Draft.actions} turns them into actions only where the world differs.
 */
export class Draft {
  readonly status: RolloutStatus;
  readonly #world = new Map<string, WorldAction>();
  #routes: Weights | undefined;
  #managed: ManagedRoutes | undefined;
  #canary: "up" | "down" | undefined;
  #preview: Side | undefined;
  readonly #chatter: Chatter[] = [];
  readonly #checkJobs = new Map<string, CheckJobAction>();
  private wakeAt = Number.POSITIVE_INFINITY;
  reason: Reason = REASONS.Healthy;
  message = "";

  readonly now: Date;

  constructor(status: RolloutStatus, now: Date) {
    this.status = status;
    this.now = now;
  }

  get phase(): Phase {
    return this.status.phase ?? "Initializing";
  }

  set phase(p: Phase) {
    this.status.phase = p;
    if (p !== "Paused") {
      delete this.status.pauseReason;
      delete this.status.pausedAt;
    }
  }

  say(reason: Reason, message: string): void {
    this.reason = reason;
    this.message = message;
  }

  /** Asks for a world change; the last wish of each kind wins. */
  act(
    action: Exclude<
      WorldAction,
      { type: "SetRoutes" | "ScaleCanaryUp" | "ScaleCanaryDown" | "PointPreview" }
    >,
  ): void {
    this.#world.set(action.type, action);
  }

  /** Takes back an earlier wish of this decision (a later rule found the world already as wanted). */
  forget(type: WorldAction["type"]): void {
    this.#world.delete(type);
  }

  /** The split the mesh should route; sent only if it differs from what the mesh routes. */
  routeTo(w: Weights): void {
    this.#routes = w;
  }

  /**
   * The routes beside the split; sent (with the split wished, else the one observed) only if they differ from what
   * the mesh holds. Without a wish the managed routes stay as they are.
   */
  manage(m: ManagedRoutes): void {
    this.#managed = m;
  }

  /** Whether the user's Deployment (the canary) should run; scaled only if it differs from what it runs. */
  wantCanary(state: "up" | "down"): void {
    this.#canary = state;
  }

  /** Blue/green: the side the preview Service should select; pointed only if its slices do not show it already. */
  previewTo(side: Side): void {
    this.#preview = side;
  }

  /** Asks for a check's Job to be created or deleted; one wish per Job (the last wins). */
  checkJob(action: CheckJobAction, key: string): void {
    this.#checkJobs.set(key, action);
  }

  /** The actions for the world as observed: intentions that change something, in order, then Events and notifications. */
  actions(
    obs: Pick<Observations, "routes" | "managedRoutes" | "canary" | "inPlace" | "endpoints">,
  ): Action[] {
    const world = new Map<string, Action>(this.#world);
    const r = this.#routes;
    const m = this.#managed;
    const split = r ?? obs.routes;
    const keep = obs.managedRoutes ?? NO_MANAGED_ROUTES;
    if (
      split &&
      ((r && (obs.routes?.primary !== r.primary || obs.routes?.canary !== r.canary)) ||
        (m && !sameManaged(obs.managedRoutes, m)))
    ) {
      const managed = m ?? keep;
      world.set("SetRoutes", {
        type: "SetRoutes",
        weights: split,
        ...(sameManaged(undefined, managed) ? {} : { managed }),
      });
    }
    // An in-place target is both sides at once: it is never scaled, its pods are moved (HoldUpdates, DeletePods).
    if (!obs.inPlace && this.#canary === "up" && obs.canary.exists && obs.canary.desiredReplicas === 0)
      world.set("ScaleCanaryUp", { type: "ScaleCanaryUp" });
    if (this.#preview && obs.endpoints?.preview !== this.#preview)
      world.set("PointPreview", { type: "PointPreview", at: this.#preview });
    if (!obs.inPlace && this.#canary === "down" && obs.canary.desiredReplicas > 0)
      world.set("ScaleCanaryDown", { type: "ScaleCanaryDown" });
    return [...WORLD_ORDER.flatMap((t) => world.get(t) ?? []), ...this.#checkJobs.values(), ...this.#chatter];
  }

  /** Asks for an Event; a milestone reason is also recorded in `status.milestones` (bounded, newest last). */
  event(eventType: "Normal" | "Warning", reason: Reason, message: string): void {
    this.#chatter.push({ type: "RecordEvent", eventType, reason, message });
    if (!(MILESTONE_REASONS as readonly string[]).includes(reason)) return;
    const milestone = {
      at: this.now.toISOString(),
      reason: reason as MilestoneReason,
      revision: (this.status.canaryRevision ?? this.status.stableRevision ?? "").slice(0, 64),
      message: message.length > 256 ? `${message.slice(0, 255)}…` : message,
    };
    this.status.milestones = [...(this.status.milestones ?? []), milestone].slice(-MILESTONES_KEPT);
  }

  notify(
    event: NotifyEvent,
    severity: "info" | "warning" | "error",
    message: string,
    discriminator: string,
    failing?: MetricResult,
  ): void {
    const revision = this.status.canaryRevision ?? this.status.stableRevision ?? "unknown";
    // The attempt keeps a retried rollout's keys apart from the ones its earlier attempt already delivered, so the
    // retry's own RolledBack or StepAdvanced is sent too.
    const attempt = attemptOf(this.status);
    this.#chatter.push({
      type: "Notify",
      event,
      severity,
      message,
      key: `${revision}/${attempt}/${event}/${discriminator}`,
      weights: weights(this.status.canaryWeight ?? 0),
      revision,
      ...(failing ? { failing } : {}),
    });
  }

  /** Asks to be reconciled again at `at` (or earlier, if something else needs it). */
  wake(at: Date | number): void {
    this.wakeAt = Math.min(this.wakeAt, typeof at === "number" ? at : at.getTime());
  }

  wakeIn(ms: number): void {
    this.wake(this.now.getTime() + ms);
  }

  requeueAfterMs(): number | undefined {
    if (!Number.isFinite(this.wakeAt)) return undefined;
    return Math.max(0, this.wakeAt - this.now.getTime());
  }
}

/** The engine's context for one decision. */
export interface Ctx {
  d: Draft;
  spec: RolloutSpec;
  obs: Observations;
  steps: ReturnType<typeof expandSteps>;
  generation: number;
  /** Set once this decision recorded the tick: a phase change (e.g. to Paused) re-runs the rules, not the tick. */
  analysisRecorded?: boolean;
  /** The last analysis check run that failed in this decision (counted already): the rollback's message names it. */
  failedAnalysisRun?: CheckRun;
}
