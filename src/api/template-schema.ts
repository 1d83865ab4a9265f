// The AnalysisTemplate and ClusterAnalysisTemplate API (vireo.dev/v1alpha1): reusable metric definitions with typed
// arguments, shared by Rollouts. The metrics are the Rollout's own metric schema, so thresholds, judges and their
// CEL rules are the same in both places.
import * as z from "zod";
import type { ObjectMeta } from "./object-meta.ts";
import { MetricSchema, PrometheusSchema } from "./rollout-schema.ts";
import { argName, MAX_ARG_VALUE } from "./template-ref-schema.ts";

/** Types an argument's value is checked against before it is put into a query. */
export const ARG_TYPES = ["string", "number", "duration"] as const;

/** One argument a template declares. */
export const TemplateArgSchema = z
  .object({
    name: argName("Name of the argument; the queries use it as {{ args.<name> }}."),
    type: z
      .enum(ARG_TYPES)
      .default("string")
      .describe(
        "string: any text (escaped inside a quoted string; bare only if a metric or label name); number: e.g. 0.5 or -3; duration: a PromQL duration such as 30s or 1m30s.",
      ),
    default: z
      .string()
      .max(MAX_ARG_VALUE)
      .optional()
      .describe("Value used when the Rollout passes none. Without a default the argument is required."),
  })
  .describe("An argument of the template.");

/** The spec of an AnalysisTemplate or ClusterAnalysisTemplate. */
export const AnalysisTemplateSpecSchema = z
  .object({
    args: z
      .array(TemplateArgSchema)
      .max(20)
      .default([])
      .describe("Arguments the metrics' queries and web requests use as {{ args.<name> }}.")
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
    prometheus: PrometheusSchema.optional().describe(
      "The Prometheus these metrics are written for. The controller's egress policy (--allowed-prometheus-urls) applies as it does to a Rollout's own address; Secrets are read from the Rollout's namespace, with the opt-in label.",
    ),
    metrics: z
      .array(MetricSchema)
      .min(1)
      .max(20)
      .describe(
        "Metrics added to every Rollout that names this template. Queries and web requests may use the Rollout's variables ({{ canary }}, {{ primary }}, {{ namespace }}, …) and {{ args.<name> }}; in a web metric an argument is percent-encoded in the URL (never in its host), JSON-escaped in the body.",
      )
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
  })
  .describe("Reusable metric definitions for Rollout analysis.")
  .superRefine((t, ctx) => {
    for (const [list, items] of [
      ["args", t.args],
      ["metrics", t.metrics],
    ] as const) {
      const seen = new Set<string>();
      for (const [i, x] of items.entries()) {
        if (seen.has(x.name))
          ctx.addIssue({ code: "custom", path: [list, i, "name"], message: "duplicate name" });
        seen.add(x.name);
      }
    }
  });

/** A template's spec with defaults applied. */
export type AnalysisTemplateSpec = z.output<typeof AnalysisTemplateSpecSchema>;
/** A declared argument with defaults applied. */
export type TemplateArg = z.output<typeof TemplateArgSchema>;

/** An AnalysisTemplate or ClusterAnalysisTemplate as read from the API server (spec not yet validated). */
export interface AnalysisTemplateObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: unknown;
}
