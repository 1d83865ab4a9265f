// Random lives of StatefulSet and DaemonSet targets for the engine's property tests: people (requests, partition
// and strategy edits, deleted pods), the workload controller, analysis, windows, scaling, nodes coming and going,
// and controller crashes between a status write and its actions. Test support only.
import fc from "fast-check";
import type { InPlaceKind } from "../../api/constants.ts";
import type { Step } from "../../api/rollout-schema.ts";
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
  controllerSync,
  type InPlaceWorld,
  makeInPlaceSpec,
  newInPlaceWorld,
  pushTemplate,
  reconcileInPlace,
} from "./in-place-world.ts";
import { measurements } from "./world.ts";

/** Something that happens between two reconciles. */
export type InPlaceEvent =
  | CommonEvent
  | { kind: "settle" }
  | { kind: "partitionEdit"; partition: number }
  | { kind: "strategyEdit" }
  | { kind: "podDeleted"; index: number }
  | { kind: "podUnready"; index: number }
  | { kind: "scale"; replicas: number }
  | { kind: "nodeAdded" }
  | { kind: "nodeRemoved"; index: number }
  | { kind: "crash" };

export const inPlaceEventArb: fc.Arbitrary<InPlaceEvent> = fc.oneof(
  { weight: 12, arbitrary: timeArb },
  { weight: 14, arbitrary: fc.constant({ kind: "settle" as const }) },
  { weight: 1, arbitrary: revisionArb },
  { weight: 4, arbitrary: analysisArb },
  { weight: 2, arbitrary: requestArb },
  { weight: 1, arbitrary: windowArb },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("partitionEdit" as const),
      partition: fc.integer({ min: 0, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "strategyEdit" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("podDeleted" as const), index: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("podUnready" as const), index: fc.nat(10) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("scale" as const), replicas: fc.integer({ min: 1, max: 6 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "nodeAdded" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("nodeRemoved" as const), index: fc.nat(10) }) },
  { weight: 2, arbitrary: fc.constant({ kind: "crash" as const }) },
);

/** Specs: the kind, cumulative setUpdated steps with pauses, analysis, limits, maxUnavailable. */
export const inPlaceSpecArb = fc.record({
  kind: fc.constantFrom<InPlaceKind>("StatefulSet", "DaemonSet"),
  steps: fc
    .array(
      fc.oneof(
        fc.integer({ min: 1, max: 5 }).map((n) => ({ setUpdated: { replicas: n } })),
        fc.integer({ min: 1, max: 100 }).map((p) => ({ setUpdated: { percent: p } })),
        fc.constant({ pause: {} }),
        fc.constant({ pause: { duration: "15s" } }),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .map((steps): Step[] => {
      // Counts are cumulative and never decrease: sort each kind's values into its positions.
      const sorted = (key: "replicas" | "percent") =>
        steps
          .flatMap((s) =>
            "setUpdated" in s && key in s.setUpdated ? [(s.setUpdated as Record<string, number>)[key]!] : [],
          )
          .sort((a, b) => a - b);
      const replicas = sorted("replicas");
      const percents = sorted("percent");
      const out: Step[] = steps.map((s) => {
        if (!("setUpdated" in s)) return s;
        return "replicas" in s.setUpdated
          ? { setUpdated: { replicas: replicas.shift()! } }
          : { setUpdated: { percent: percents.shift()! } };
      });
      if (!out.some((s) => s.setUpdated)) out.unshift({ setUpdated: { replicas: 1 } });
      return out;
    }),
  skipAnalysis: fc.boolean(),
  failureLimit: fc.integer({ min: 1, max: 3 }),
  deadlineSeconds: fc.integer({ min: 30, max: 300 }),
  maxUnavailable: fc.integer({ min: 1, max: 3 }),
  size: fc.integer({ min: 1, max: 5 }),
});

/** One spec drawn by {@link inPlaceSpecArb}. */
export type InPlaceSpecIn = typeof inPlaceSpecArb extends fc.Arbitrary<infer T> ? T : never;

let token = 0;

/** Applies an external event; `crash` is the player's business. */
export function happenInPlace(w: InPlaceWorld, e: InPlaceEvent): void {
  const live = w.pods.filter((p) => !p.terminating);
  switch (e.kind) {
    case "time":
      w.now += e.ms;
      break;
    case "settle":
      controllerSync(w);
      break;
    case "revision":
      pushTemplate(w, `rev-${e.rev}`, e.broken);
      break;
    case "analysis":
      w.nextAnalysis = (spec) => measurements(spec, e.result);
      break;
    case "request":
      w.requests[e.request] = e.request === "promote" && e.full ? "full" : `t${token++}`;
      break;
    case "window":
      w.window = e.open
        ? { open: true, message: "open" }
        : { open: false, message: "deny window", nextTransitionAt: new Date(w.now + 60_000) };
      break;
    case "partitionEdit":
      if (w.kind === "StatefulSet") {
        w.strategy = "RollingUpdate";
        w.partition = e.partition;
        w.observed = false;
      }
      break;
    case "strategyEdit":
      w.strategy = w.kind === "DaemonSet" ? "RollingUpdate" : "OnDelete";
      w.observed = false;
      break;
    case "podDeleted": {
      const pod = live[e.index % Math.max(1, live.length)];
      if (pod) {
        pod.terminating = true;
        pod.ready = false;
      }
      break;
    }
    case "podUnready": {
      const pod = live[e.index % Math.max(1, live.length)];
      if (pod) pod.ready = false;
      break;
    }
    case "scale":
      if (w.kind === "StatefulSet") {
        w.replicas = e.replicas;
        w.observed = false;
      }
      break;
    case "nodeAdded":
      if (w.kind === "DaemonSet" && w.nodes.length < 6)
        w.nodes.push({ name: `node-x${token++}`, labels: { zone: "c" } });
      break;
    case "nodeRemoved":
      if (w.kind === "DaemonSet" && w.nodes.length > 1) w.nodes.splice(e.index % w.nodes.length, 1);
      break;
    case "crash":
      break;
  }
}

/** A played life: each decision with a copy of the world it was taken in. */
export interface InPlaceTrace {
  w: InPlaceWorld;
  steps: { before: InPlaceWorld; decision: Decision; crashed: boolean }[];
}

/** A world for `specIn`, Healthy on rev-1 with rev-2 pushed (most lives), or fresh. */
export function worldFor(specIn: InPlaceSpecIn): InPlaceWorld {
  const spec = makeInPlaceSpec(specIn.kind, {
    strategy: { canary: { steps: specIn.steps } },
    skipAnalysis: specIn.skipAnalysis,
    progressDeadlineSeconds: specIn.deadlineSeconds,
    analysis: {
      interval: "10s",
      failureLimit: specIn.failureLimit,
      metrics: [{ name: "success", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
    },
  });
  const w = newInPlaceWorld(specIn.kind, spec, specIn.size);
  w.maxUnavailable = specIn.maxUnavailable;
  return w;
}

/** Copies a world for the trace (the analysis function is shared). */
export function snapshot(w: InPlaceWorld): InPlaceWorld {
  const copy = structuredClone({ ...w, nextAnalysis: undefined, log: [] }) as unknown as InPlaceWorld;
  copy.nextAnalysis = w.nextAnalysis;
  return copy;
}

/** Plays a life: the prelude takes the workload over and pushes rev-2; after each event one reconcile. */
export function playInPlace(specIn: InPlaceSpecIn, events: InPlaceEvent[]): InPlaceTrace {
  const w = worldFor(specIn);
  const steps: InPlaceTrace["steps"] = [];
  const prelude: InPlaceEvent[] = [
    { kind: "settle" },
    { kind: "settle" },
    { kind: "settle" },
    { kind: "revision", rev: 2, broken: false },
  ];
  let crash = false;
  for (const e of [...prelude, ...events]) {
    happenInPlace(w, e);
    if (e.kind === "crash") {
      crash = true;
      continue;
    }
    const before = snapshot(w);
    const decision = reconcileInPlace(w, { crashBeforeActions: crash });
    steps.push({ before, decision, crashed: crash });
    crash = false;
  }
  return { w, steps };
}

/**
 * A random life: a spec and up to 120 events; half of them start with a healthy new revision, so enough lives get
 * through the steps to promotion despite the noise that follows.
 */
export const inPlaceLifeArb = fc.tuple(
  inPlaceSpecArb,
  fc
    .tuple(fc.boolean(), fc.array(inPlaceEventArb, { minLength: 1, maxLength: 120 }))
    .map(([fresh, events]): InPlaceEvent[] =>
      fresh
        ? [{ kind: "settle" }, { kind: "revision", rev: 2, broken: false }, { kind: "settle" }, ...events]
        : events,
    ),
);
