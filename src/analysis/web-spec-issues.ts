// What a Rollout's web metrics cannot do on this controller, found before any traffic moves: a request that does not
// render for this Rollout, or a URL outside --allowed-check-urls (which is then never called).
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { SpecIssue } from "../api/validate.ts";
import { isAllowedAddress } from "./allowed-urls.ts";
import { type MeasureInput, variablesFor } from "./measure.ts";
import { notAllowedMessage } from "./web-metric.ts";
import { renderWebRequest } from "./web-template.ts";

/** The names a web metric's variables come from. */
export type WebIssueInput = Pick<
  MeasureInput,
  "namespace" | "targetName" | "serviceName" | "scrapeIntervalMs"
>;

/**
 * One issue per web metric whose request does not render (for the canary or, with compareToPrimary, the primary) or
 * whose URL lies outside `allowedUrls`. The canary pods' hash is not known yet, so a stand-in is rendered for it.
 */
export function webMetricIssues(
  spec: RolloutSpec,
  input: WebIssueInput,
  allowedUrls: readonly string[],
): SpecIssue[] {
  const issues: SpecIssue[] = [];
  for (const [i, metric] of spec.analysis.metrics.entries()) {
    if (metric.web === undefined) continue;
    const path = `spec.analysis.metrics[${i}].web`;
    const workloads = [input.targetName, ...(metric.compareToPrimary ? [`${input.targetName}-primary`] : [])];
    for (const workload of workloads) {
      const vars = { canary_hash: "0", ...variablesFor({ ...input, spec }, metric, workload) };
      let url: string;
      try {
        url = renderWebRequest(metric.web, vars).url;
      } catch (err) {
        issues.push({ path, message: `metric ${metric.name}: ${(err as Error).message}` });
        break;
      }
      if (!isAllowedAddress(url, allowedUrls)) {
        issues.push({ path: `${path}.url`, message: `metric ${metric.name}: ${notAllowedMessage(url)}` });
        break;
      }
    }
  }
  return issues;
}
