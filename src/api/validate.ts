// Validates a Rollout spec at runtime: zod schema, then the checks no schema can express (cron syntax, time zones).
import { CronExpressionParser } from "cron-parser";
import type * as z from "zod";
import { type RolloutSpec, RolloutSpecSchema } from "./rollout-schema.ts";

/** One problem in a spec, with the field path as users write it (`spec.strategy.canary.steps[2].setWeight`). */
export interface SpecIssue {
  path: string;
  message: string;
}

/** Result of validating a spec. */
export type SpecValidation = { ok: true; spec: RolloutSpec } | { ok: false; issues: SpecIssue[] };

/** Renders a zod issue path the way `kubectl explain` names fields. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "spec";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return out;
}

function zodIssues(error: z.ZodError): SpecIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/** True when the runtime knows the IANA time zone. */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function windowIssues(spec: RolloutSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const [i, w] of (spec.windows ?? []).entries()) {
    if (!isKnownTimeZone(w.timeZone)) {
      issues.push({ path: `spec.windows[${i}].timeZone`, message: `unknown time zone "${w.timeZone}"` });
      continue;
    }
    try {
      // cron-parser accepts some bad expressions until iterated, so iterate once.
      CronExpressionParser.parse(w.schedule, { tz: w.timeZone, currentDate: new Date(0) }).next();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      issues.push({
        path: `spec.windows[${i}].schedule`,
        message: `invalid cron expression "${w.schedule}": ${why}`,
      });
    }
  }
  return issues;
}

/** Validates and defaults a raw spec. Never throws; every problem names its field. */
export function validateRolloutSpec(raw: unknown): SpecValidation {
  const parsed = RolloutSpecSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, issues: zodIssues(parsed.error) };
  const issues = windowIssues(parsed.data);
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, spec: parsed.data };
}

/** One line naming every problem, for conditions and Events. */
export function describeIssues(issues: readonly SpecIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}
