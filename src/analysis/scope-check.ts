// What `--scope-queries` refuses in a Rollout's analysis, found before anything is sent: custom queries that cannot
// be confined to the Rollout's namespace, and a renamed namespace label for the built-in metrics.
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import { type MeasureInput, queryFor } from "./measure.ts";

/**
 * The problems a controller confining queries to `input.namespace` under `input.scopeLabel` has with `spec`: each
 * custom query is rendered for the canary and the primary and confined (see scopeQuery), and
 * `analysis.labels.namespace` is refused, since it would let a Rollout pick which label scopes the built-in metrics.
 * Pure; an empty list when nothing is refused.
 */
export function queryScopeIssues(
  spec: RolloutSpec,
  input: Pick<
    MeasureInput,
    "namespace" | "targetName" | "serviceName" | "metricsMesh" | "scrapeIntervalMs"
  > & {
    scopeLabel: string;
  },
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (spec.analysis.labels?.namespace !== undefined) {
    issues.push({
      path: "spec.analysis.labels.namespace",
      message: `this controller confines queries to the Rollout's namespace (--scope-queries); the namespace label of built-in metrics cannot be renamed`,
    });
  }
  for (const [i, metric] of spec.analysis.metrics.entries()) {
    if (metric.query === undefined) continue;
    for (const workload of [input.targetName, `${input.targetName}-primary`]) {
      try {
        queryFor({ ...input, spec }, metric, workload);
      } catch (err) {
        issues.push({ path: `spec.analysis.metrics[${i}].query`, message: (err as Error).message });
        break;
      }
    }
  }
  return issues;
}
