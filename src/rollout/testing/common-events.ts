// The events every random life has, whatever the workload kind: time passing, a new revision, an analysis tick's
// result, a person's request and a deployment window opening or closing. Test support only.
import fc from "fast-check";
import type { RequestKind } from "../../api/constants.ts";

/** The events shared by the Deployment and the in-place (StatefulSet, DaemonSet) lives. */
export type CommonEvent =
  | { kind: "time"; ms: number }
  | { kind: "revision"; rev: number; broken: boolean }
  | { kind: "analysis"; result: "pass" | "fail" | "nodata" | "error" }
  | { kind: "request"; request: RequestKind; full: boolean }
  | { kind: "window"; open: boolean };

/** Up to 40 s pass: long enough to cross pauses, intervals and deadlines. */
export const timeArb = fc.record({
  kind: fc.constant("time" as const),
  ms: fc.integer({ min: 100, max: 40_000 }),
});

/** A new pod template (one of four, so a revision can come back), working or broken. */
export const revisionArb = fc.record({
  kind: fc.constant("revision" as const),
  rev: fc.integer({ min: 1, max: 4 }),
  broken: fc.boolean(),
});

/** An analysis tick's result, passing more often than not so that lives reach promotion. */
export const analysisArb = fc.record({
  kind: fc.constant("analysis" as const),
  result: fc.constantFrom("pass", "pass", "pass", "fail", "fail", "nodata", "error"),
});

/** A person's request; `full` makes a promote a full promotion (the remaining steps skipped). */
export const requestArb = fc.record({
  kind: fc.constant("request" as const),
  request: fc.constantFrom<RequestKind>("promote", "abort", "pause", "resume", "retry"),
  full: fc.boolean(),
});

/** A deployment window opening or closing. */
export const windowArb = fc.record({ kind: fc.constant("window" as const), open: fc.boolean() });
