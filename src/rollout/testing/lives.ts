// Random lives for the engine's property tests: the events (people, pods, analysis, windows, faults from outside
// — deletions, drift, scaling — and HorizontalPodAutoscalers at work), the specs, and a player that reconciles after
// every event. Test support only.
import fc from "fast-check";
import type { OnFailure } from "../../api/check-schema.ts";
import { REASONS, type RequestKind } from "../../api/constants.ts";
import type { RolloutSpecInput } from "../../api/rollout-schema.ts";
import { ROUTE_LIMITS } from "../../api/traffic-route-schema.ts";
import { decide } from "../decide.ts";
import type { Decision } from "../types.ts";
import {
  analysisArb,
  type CommonEvent,
  requestArb,
  revisionArb,
  timeArb,
  windowArb,
} from "./common-events.ts";
import {
  apply,
  callWebhooks,
  finishJobs,
  type ModelWorld,
  makeSpec,
  measurements,
  modelJobName,
  newWorld,
  observe,
  rename,
  settle,
  syncEndpoints,
} from "./world.ts";

/** Something that happens to the world between two reconciles. */
export type Event =
  | CommonEvent
  | { kind: "settle" }
  // The EndpointSlice controller catching up with pods and selectors (they lag until it does).
  | { kind: "endpoints" }
  | { kind: "canaryCrash" }
  | { kind: "canaryHeal" }
  | { kind: "primaryFlap"; ready: boolean }
  | { kind: "routeDrift"; canary: number }
  /** Another writer wipes Vireo's managed routes (a GitOps re-apply) or edits them beyond reading. */
  | { kind: "managedDrift"; edited: boolean }
  // Faults from outside: objects deleted or edited by people, GitOps pruning or garbage collection.
  | { kind: "primaryLost" }
  | { kind: "targetLost" }
  | { kind: "targetBack" }
  | { kind: "servicesDrift" }
  | { kind: "userScale"; replicas: number }
  // HorizontalPodAutoscalers at work and edited: a metrics-driven scale, a spec or bounds edit, deletions.
  | { kind: "hpaScale"; primary: number; canary: number }
  | { kind: "hpaEdit"; min: number; max: number }
  | { kind: "hpaRemoved" }
  | { kind: "hpaBack" }
  | { kind: "primaryHpaLost" }
  // Ownership: another Rollout claims (or stops claiming) the objects, the spec is renamed, a claim label removed.
  | { kind: "conflict"; on: boolean }
  | { kind: "rename"; target: number }
  | { kind: "labelRemoved" }
  // Checks: how webhooks answer, Jobs finishing, a running Job deleted by someone.
  | { kind: "webhook"; outcome: "pass" | "fail" | "hang" }
  | { kind: "jobs"; state: "Complete" | "Failed" }
  | { kind: "jobLost"; when: "running" | "unseen" | "refused" }
  | { kind: "controllerKill" };

/** Events of every kind but the HPA ones, weighted so that rollouts reach their ends. */
export const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 12, arbitrary: timeArb },
  { weight: 10, arbitrary: fc.constant({ kind: "settle" as const }) },
  { weight: 1, arbitrary: revisionArb },
  { weight: 1, arbitrary: fc.constant({ kind: "canaryCrash" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "canaryHeal" as const }) },
  { weight: 4, arbitrary: analysisArb },
  { weight: 2, arbitrary: requestArb },
  { weight: 1, arbitrary: windowArb },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("primaryFlap" as const), ready: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("routeDrift" as const),
      canary: fc.integer({ min: 0, max: 100 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("managedDrift" as const), edited: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "primaryLost" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "targetLost" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "targetBack" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "servicesDrift" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("userScale" as const),
      replicas: fc.integer({ min: 1, max: 6 }),
    }),
  },
);

/** A step as a spec is written (before defaulting). */
type StepInput = NonNullable<NonNullable<RolloutSpecInput["strategy"]["canary"]>["steps"]>[number];

/** A step of the random specs: a weight, a pause, or a managed route installed or removed. */
type StepIn =
  | { setWeight: number }
  | { pause: { duration?: string } }
  | { setHeaderRoute: { name: string; matches?: { headers: { name: string; value: string }[] }[] } }
  | { setMirror: { name: string; percent?: number } };

const ROUTE_NAMES = ["qa", "beta"] as const;

/**
 * Steps a valid spec may hold: weights sorted into their positions; a route removed only while installed; a mirror
 * only while the weight in force is 0, and removed before the first positive weight.
 */
function validSteps(raw: StepIn[]): StepIn[] {
  const ws = raw.flatMap((s) => ("setWeight" in s ? [s.setWeight] : [])).sort((a, b) => a - b);
  const sorted = raw.map((s) => ("setWeight" in s ? { setWeight: ws.shift()! } : s));
  const out: StepIn[] = [];
  const headers = new Set<string>();
  const mirrors = new Set<string>();
  let weight = 0;
  // The schema's bound on route-installing steps (a header route with matches, a mirror with a percent).
  let installs = 0;
  for (const s of sorted) {
    if ("setWeight" in s) {
      if (s.setWeight > 0) for (const name of mirrors) out.push({ setMirror: { name } });
      if (s.setWeight > 0) mirrors.clear();
      weight = s.setWeight;
      out.push(s);
    } else if ("setHeaderRoute" in s) {
      const { name, matches } = s.setHeaderRoute;
      if (matches) {
        if (installs === ROUTE_LIMITS.installs) continue;
        installs++;
        headers.add(name);
      } else if (!headers.delete(name)) continue;
      out.push(s);
    } else if ("setMirror" in s) {
      // One name per kind: mirrors are named after the header names' positions, never sharing one.
      const name = `m-${s.setMirror.name}`;
      if (s.setMirror.percent !== undefined) {
        if (weight > 0 || installs === ROUTE_LIMITS.installs) continue;
        installs++;
        mirrors.add(name);
      } else if (!mirrors.delete(name)) continue;
      out.push({ setMirror: { ...s.setMirror, name } });
    } else out.push(s);
  }
  return out.length > 0 ? out : [{ setWeight: 50 }];
}

const stepArb: fc.Arbitrary<StepIn> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 100 }).map((w) => ({ setWeight: w })) },
  { weight: 1, arbitrary: fc.constant({ pause: {} }) },
  { weight: 2, arbitrary: fc.constant({ pause: { duration: "15s" } }) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        name: fc.constantFrom(...ROUTE_NAMES),
        remove: fc.boolean(),
      })
      .map(({ name, remove }) => ({
        setHeaderRoute: remove
          ? { name }
          : { name, matches: [{ headers: [{ name: "x-canary", value: name }] }] },
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        name: fc.constantFrom(...ROUTE_NAMES),
        percent: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
      })
      .map(({ name, percent }) => ({ setMirror: percent === undefined ? { name } : { name, percent } })),
  },
);

/** The events of {@link eventArb} plus the checks' world: receivers answering, Jobs ending or vanishing, the
 * controller killed right after a status write, and people approving (the right check, or one that does not wait).
 */
export const checkEventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 12, arbitrary: eventArb },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("webhook" as const),
      outcome: fc.constantFrom("pass", "pass", "fail", "hang"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("jobs" as const),
      state: fc.constantFrom("Complete", "Complete", "Failed"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("jobLost" as const),
      when: fc.constantFrom("running", "unseen", "refused"),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "controllerKill" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      request: fc.constant<RequestKind>("approve"),
      // full: the approval check's name; else a name nothing waits for (ignored).
      full: fc.constantFrom(true, true, false),
    }),
  },
);

/** Names of the checks {@link checksOf} defines. */
const CHECK_NAMES = { webhook: "smoke", job: "e2e", approval: "gate" } as const;

/** Where a life's checks run, and what a failure of its webhook check does. */
export const checkPlanArb = fc.record({
  preRollout: fc.subarray([CHECK_NAMES.webhook, CHECK_NAMES.job]),
  /** A `- check:` step inserted before the step at this index (clamped). */
  step: fc.option(
    fc.record({
      at: fc.integer({ min: 0, max: 5 }),
      name: fc.constantFrom<string>(CHECK_NAMES.webhook, CHECK_NAMES.job, CHECK_NAMES.approval),
    }),
    { nil: undefined },
  ),
  prePromotion: fc.subarray([CHECK_NAMES.approval, CHECK_NAMES.job, CHECK_NAMES.webhook]),
  postPromotion: fc.subarray([CHECK_NAMES.webhook, CHECK_NAMES.job]),
  onRollback: fc.subarray([CHECK_NAMES.webhook]),
  onAbort: fc.subarray([CHECK_NAMES.job]),
  /** Checks run at every analysis tick (Flagger's rollout webhooks). */
  analysis: fc.subarray([CHECK_NAMES.webhook, CHECK_NAMES.job]),
  onFailure: fc.constantFrom<OnFailure | undefined>(undefined, "rollback", "pause", "continue"),
  approvalTimeout: fc.boolean(),
});
/** One plan drawn by {@link checkPlanArb}. */
export type CheckPlan = typeof checkPlanArb extends fc.Arbitrary<infer T> ? T : never;

/** The spec fields a check plan adds: the definitions and the hooks; the step goes in via `steps`. */
export function checksOf(plan: CheckPlan): Pick<RolloutSpecInput, "checks" | "hooks"> {
  return {
    checks: [
      {
        name: CHECK_NAMES.webhook,
        webhook: { url: "http://receiver.test/hook", timeout: "5s", retries: 1 },
        ...(plan.onFailure ? { onFailure: plan.onFailure } : {}),
      },
      {
        name: CHECK_NAMES.job,
        job: {
          serviceAccountName: "tester",
          timeout: "2m",
          spec: { template: { spec: { containers: [{ name: "t", image: "tests:1" }] } } },
        },
      },
      { name: CHECK_NAMES.approval, approval: plan.approvalTimeout ? { timeout: "5m" } : {} },
    ],
    hooks: {
      preRollout: plan.preRollout,
      prePromotion: plan.prePromotion,
      postPromotion: plan.postPromotion,
      onRollback: plan.onRollback,
      onAbort: plan.onAbort,
    },
  };
}

/** Specs: steps, analysis, limits, sticky canaries, and whether the life starts from a healthy, adopted rollout. */
export const specArb = fc.record({
  steps: fc.oneof(fc.constant(undefined), fc.array(stepArb, { minLength: 1, maxLength: 6 }).map(validSteps)),
  sticky: fc.boolean(),
  skipAnalysis: fc.boolean(),
  failureLimit: fc.integer({ min: 1, max: 3 }),
  /** A step's budget: mostly out of a life's reach, sometimes short enough to run out while analysis says nothing. */
  maxStepDuration: fc.constantFrom("1h", "20s", "20s", "45s"),
  noEvidence: fc.constantFrom("pause" as const, "promote" as const, "rollback" as const),
  /** What analysis says until an analysis event changes it: a third of the lives start with silence. */
  firstAnalysis: fc.constantFrom("pass" as const, "pass" as const, "nodata" as const),
  deadlineSeconds: fc.integer({ min: 30, max: 300 }),
  /** Most lives start from an adopted, healthy rollout with a new revision pushed, so rollouts dominate. */
  startHealthy: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});

let token = 0;

/** Applies an external event to the world. */
export function happen(w: ModelWorld, e: Event): void {
  switch (e.kind) {
    case "time":
      w.now += e.ms;
      break;
    case "settle":
      // The slices catch up with the pods as they were, then the pods move on: the slices lag one settle behind
      // (a decision in between sees pods ready that no slice lists yet), and an "endpoints" event closes the gap.
      syncEndpoints(w);
      settle(w);
      break;
    case "endpoints":
      syncEndpoints(w);
      break;
    case "revision":
      w.canary.revision = `rev-${e.rev}`;
      w.canary.broken = e.broken;
      w.canary.ready = 0;
      break;
    case "canaryCrash":
      w.canary.broken = true;
      w.canary.ready = 0;
      break;
    case "canaryHeal":
      w.canary.broken = false;
      break;
    case "analysis":
      w.nextAnalysis = (spec) => measurements(spec, e.result);
      break;
    case "request":
      w.requests[e.request] =
        e.request === "promote" && e.full
          ? "full"
          : e.request === "approve"
            ? `${e.full ? CHECK_NAMES.approval : "nothing-waits"}/t${token++}`
            : `t${token++}`;
      break;
    case "webhook":
      w.checks.webhook = e.outcome;
      break;
    case "jobs":
      finishJobs(w, e.state);
      break;
    case "jobLost":
      // Someone deletes the running Jobs now, or the Jobs the controller creates next before it lists them; or the
      // API server refuses the next create.
      if (e.when === "unseen") w.checks.loseNextCreated = true;
      else if (e.when === "refused") w.checks.refuseNextCreate = true;
      else for (const [name, job] of w.checks.jobs) if (job.state === "Running") w.checks.jobs.delete(name);
      break;
    case "controllerKill":
      // A new process: the webhook results it held in memory are gone; status and the Jobs remain.
      w.checks.results = [];
      w.checks.killed = true;
      w.checks.kills++;
      break;
    case "window":
      w.window = e.open
        ? { open: true, message: "open" }
        : { open: false, message: "deny window", nextTransitionAt: new Date(w.now + 60_000) };
      break;
    case "primaryFlap":
      if (w.primary.exists) w.primary.ready = e.ready ? w.primary.desired : 0;
      break;
    case "routeDrift":
      if (w.routes) w.routes = { primary: 100 - e.canary, canary: e.canary };
      break;
    case "managedDrift":
      if (w.routes) w.managed = e.edited ? null : undefined;
      break;
    case "primaryLost":
      w.primary = { exists: false, revision: "", desired: 0, ready: 0, broken: false };
      break;
    case "targetLost":
      w.canary = { ...w.canary, exists: false, desired: 0, ready: 0 };
      break;
    case "targetBack":
      // Re-applied from Git: the same template, scaled as the user wrote it.
      if (!w.canary.exists) w.canary = { ...w.canary, exists: true, desired: w.replicas, ready: 0 };
      break;
    case "servicesDrift":
      w.servicesReady = false;
      break;
    case "userScale":
      w.replicas = e.replicas;
      if (w.canary.exists) w.canary.desired = e.replicas;
      break;
    case "hpaScale": {
      // The HPA controller scales within bounds from metrics; never a Deployment at zero.
      const { user, primary } = w.autoscalers ?? {};
      if (primary && w.primary.exists && w.primary.desired > 0)
        w.primary.desired = Math.min(primary.max, Math.max(primary.min, e.primary));
      if (user && w.canary.exists && w.canary.desired > 0)
        w.canary.desired = Math.min(user.max, Math.max(user.min, e.canary));
      break;
    }
    case "hpaEdit":
      if (w.autoscalers?.user)
        w.autoscalers.user = { min: e.min, max: Math.max(e.min, e.max), spec: w.autoscalers.user.spec + 1 };
      break;
    case "hpaRemoved":
      if (w.autoscalers) delete w.autoscalers.user;
      break;
    case "hpaBack":
      if (w.autoscalers && !w.autoscalers.user) w.autoscalers.user = { min: 1, max: 8, spec: 0 };
      break;
    case "primaryHpaLost":
      if (w.autoscalers) delete w.autoscalers.primary;
      break;
    case "conflict":
      w.refusals = e.on
        ? [{ reason: REASONS.OwnershipConflict, message: "Deployment shop/x is managed by Rollout other" }]
        : [];
      break;
    case "rename":
      if (w.spec.targetRef.name !== `app-${e.target}`) rename(w, `app-${e.target}`);
      break;
    case "labelRemoved":
      w.labelled = false;
      break;
  }
}

/** A played life: the world at the end, and each decision with the world it was taken in. */
export interface Trace {
  w: ModelWorld;
  steps: { before: ModelWorld; decision: Decision }[];
}

/** A blue/green strategy for {@link blueGreenLifeArb} (kept out of specArb so canary lives stay as they were). */
const blueGreenArb = fc.record({
  autoPromotion: fc.boolean(),
  previewAnalysis: fc.boolean(),
  rollbackWindow: fc.constantFrom("0s", "20s", "1m"),
  scaleDownDelay: fc.constantFrom("0s", "10s"),
});

/**
 * One spec drawn by {@link specArb}, with the checks lives' plan; `blueGreen` is set only by blue/green lives (the
 * steps are then unused).
 */
export type SpecIn = Omit<typeof specArb extends fc.Arbitrary<infer T> ? T : never, "checks"> & {
  checks?: CheckPlan | undefined;
  blueGreen?: typeof blueGreenArb extends fc.Arbitrary<infer B> ? B : never;
};

/** A spec for lives pinned as examples: analysis passes, one failure rolls back, budgets out of reach. */
export const EXAMPLE_SPEC: SpecIn = {
  steps: undefined,
  sticky: false,
  skipAnalysis: false,
  failureLimit: 1,
  maxStepDuration: "1h",
  noEvidence: "pause",
  firstAnalysis: "pass",
  deadlineSeconds: 30,
  startHealthy: true,
};

/** Plays a random life: after each event one reconcile (observe → decide → apply). */
export function play(specIn: SpecIn, events: Event[], prepare?: (w: ModelWorld) => void): Trace {
  const plan = specIn.checks;
  let steps: StepInput[] | undefined = specIn.steps;
  if (plan?.step) {
    const base = steps ?? [{ setWeight: 10 }, { setWeight: 30 }, { setWeight: 50 }];
    const at = Math.min(plan.step.at, base.length);
    steps = [...base.slice(0, at), { check: plan.step.name }, ...base.slice(at)];
  }
  const sessionAffinity = specIn.sticky ? { sessionAffinity: { cookieName: "vireo-canary" } } : {};
  const spec = makeSpec({
    strategy: specIn.blueGreen
      ? { blueGreen: specIn.blueGreen }
      : { canary: { steps: steps ?? makeSpec().strategy.canary!.steps, ...sessionAffinity } },
    skipAnalysis: specIn.skipAnalysis,
    progressDeadlineSeconds: specIn.deadlineSeconds,
    analysis: {
      interval: "10s",
      failureLimit: specIn.failureLimit,
      maxStepDuration: specIn.maxStepDuration,
      noEvidence: specIn.noEvidence,
      metrics: makeSpec().analysis.metrics,
      ...(plan?.analysis.length ? { checks: plan.analysis } : {}),
    },
    ...(plan ? checksOf(plan) : {}),
  });
  const w = newWorld(spec);
  w.nextAnalysis = (s) => measurements(s, specIn.firstAnalysis);
  prepare?.(w);
  const trace: Trace["steps"] = [];
  const prelude: Event[] = [{ kind: "settle" }];
  if (specIn.startHealthy) {
    prelude.push(
      { kind: "settle" },
      { kind: "endpoints" },
      { kind: "settle" },
      { kind: "endpoints" },
      { kind: "settle" },
      { kind: "endpoints" },
      { kind: "revision", rev: 2, broken: false },
    );
  }
  for (const e of [...prelude, ...events]) {
    happen(w, e);
    const before = structuredClone({ ...w, nextAnalysis: undefined, log: [] }) as unknown as ModelWorld;
    before.nextAnalysis = w.nextAnalysis;
    const obs = observe(w);
    const decision = decide(
      { generation: w.generation, spec: w.spec, status: w.status },
      obs,
      new Date(w.now),
    );
    const killed = w.checks.killed;
    w.checks.killed = false;
    // Killed right after the status write: what the reconciler does after it (Jobs, webhook calls) never happens.
    apply(
      w,
      killed
        ? decision.actions.filter((a) => a.type !== "CreateCheckJob" && a.type !== "DeleteCheckJob")
        : decision.actions,
    );
    w.status = decision.status;
    if (!killed) callWebhooks(w);
    if (w.checks.loseNextCreated) loseCreated(w, decision);
    trace.push({ before, decision });
  }
  return { w, steps: trace };
}

/** Deletes the Jobs `decision` created, before any reconcile lists them; disarms once one was. */
function loseCreated(w: ModelWorld, decision: Decision): void {
  for (const a of decision.actions) {
    if (a.type !== "CreateCheckJob" || !w.checks.jobs.delete(modelJobName(a.run, a.attemptId))) continue;
    w.checks.lostUnseen++;
    w.checks.loseNextCreated = false;
  }
}

/** The events of {@link eventArb} plus HPAs scaling, being edited, removed and deleted. */
export const autoscaledEventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 12, arbitrary: eventArb },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("hpaScale" as const),
      primary: fc.integer({ min: 0, max: 10 }),
      canary: fc.integer({ min: 0, max: 10 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("hpaEdit" as const),
      min: fc.integer({ min: 1, max: 4 }),
      max: fc.integer({ min: 1, max: 10 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "hpaRemoved" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "hpaBack" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "primaryHpaLost" as const }) },
);

/** The events of {@link eventArb} plus conflicts with other Rollouts, renames and claim labels removed. */
export const ownershipEventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 12, arbitrary: eventArb },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("conflict" as const), on: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("rename" as const), target: fc.integer({ min: 1, max: 3 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "labelRemoved" as const }) },
);

/** A random life: a spec and up to 120 events. */
export const lifeArb = fc.tuple(specArb, fc.array(eventArb, { minLength: 1, maxLength: 120 }));

/** Blue/green specs only. */
const blueGreenSpecArb: fc.Arbitrary<SpecIn> = fc
  .tuple(specArb, blueGreenArb)
  .map(([spec, blueGreen]) => ({ ...spec, blueGreen }));

/**
 * Events for blue/green lives: those of {@link eventArb}, with more pods settling, time passing and EndpointSlices
 * syncing, since a blue/green rollout needs both slices and pods to catch up twice (preview, then cut-over) before it
 * moves.
 */
const blueGreenEventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 3, arbitrary: eventArb },
  { weight: 3, arbitrary: fc.constant({ kind: "settle" as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: "endpoints" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 1_000, max: 15_000 }) }),
  },
  // People and analysis acting after the cut-over, in the rollback window.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      request: fc.constantFrom<RequestKind>("abort", "promote", "retry"),
      full: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("analysis" as const),
      result: fc.constantFrom("pass", "pass", "fail"),
    }),
  },
);

/** A random blue/green life: a blue/green spec and up to 120 events (lengths spread over the range: rollouts need many). */
export const blueGreenLifeArb = fc.tuple(
  blueGreenSpecArb,
  fc.array(blueGreenEventArb, { minLength: 1, maxLength: 120, size: "medium" }),
);

/** A random life with ownership events: a spec and up to 120 events of {@link ownershipEventArb}. */
export const ownershipLifeArb = fc.tuple(
  specArb,
  fc.array(ownershipEventArb, { minLength: 1, maxLength: 120 }),
);
