// How a Rollout names reusable analysis templates (spec.analysis.templates[]): which template, and its arguments.
// Kept apart from template-schema.ts (the templates themselves), which builds on the Rollout's metric schema.
import * as z from "zod";
import { GROUP, TEMPLATE_GROUPS, TEMPLATE_KINDS } from "./constants.ts";

/** An argument name: a letter first, then letters, digits, `_` or `-` (it is written as `{{ args.<name> }}`). */
export const ARG_NAME_PATTERN = "^[a-zA-Z][a-zA-Z0-9_-]*$";
/** Longest argument value: it lands in a PromQL query, which is at most 4096 characters itself. */
export const MAX_ARG_VALUE = 1024;

/** An argument name, as declared by a template and passed by a Rollout. */
export const argName = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(new RegExp(ARG_NAME_PATTERN), "must be a letter then letters, digits, _ or -")
    .describe(what);

/** One argument a Rollout passes to a template. */
export const TemplateArgValueSchema = z
  .object({
    name: argName("Name of the argument, as the template declares it."),
    value: z
      .string()
      .max(MAX_ARG_VALUE)
      .describe(
        "Value of the argument. Inside a quoted string of the query it is escaped (it can never end the string); bare, it must be a number, a duration or a metric or label name.",
      ),
  })
  .describe("An argument passed to a template.");

/** A reference from a Rollout's analysis to an AnalysisTemplate or ClusterAnalysisTemplate. */
export const TemplateRefSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
        "must be a lowercase DNS name",
      )
      .describe("Name of the template."),
    apiGroup: z
      .enum(TEMPLATE_GROUPS)
      .default(GROUP)
      .describe(
        "vireo.dev (default): Vireo's own templates. argoproj.io: an Argo Rollouts AnalysisTemplate or ClusterAnalysisTemplate, read where its CRD is served; its prometheus and web metrics are translated, anything else makes the Rollout Invalid with the field named (docs/analysis/templates.md).",
      ),
    kind: z
      .enum(TEMPLATE_KINDS)
      .default("AnalysisTemplate")
      .describe(
        "AnalysisTemplate (in the Rollout's own namespace) or ClusterAnalysisTemplate (cluster-wide, kept by the platform team).",
      ),
    namespace: z
      .string()
      .max(63)
      .optional()
      .describe(
        "Only the Rollout's own namespace is accepted: a Rollout cannot use another namespace's AnalysisTemplate (share it as a ClusterAnalysisTemplate instead).",
      ),
    args: z
      .array(TemplateArgValueSchema)
      .max(20)
      .default([])
      .describe(
        "Arguments for the template's declared args; each is required unless the template gives a default.",
      )
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
  })
  .describe("A template whose metrics join this Rollout's analysis.")
  .meta({
    "x-kubernetes-validations": [
      {
        rule: "!has(self.namespace) || self.kind == 'AnalysisTemplate'",
        message: "namespace is for kind AnalysisTemplate only: a ClusterAnalysisTemplate has none",
      },
    ],
  })
  .refine((r) => r.namespace === undefined || r.kind === "AnalysisTemplate", {
    message: "namespace is for kind AnalysisTemplate only: a ClusterAnalysisTemplate has none",
  });

/** The list of template references of a Rollout's analysis. */
export const TemplateRefsSchema = z
  .array(TemplateRefSchema)
  .max(10)
  .describe(
    "Reusable analysis templates whose metrics are added to metrics (names must not clash). A missing or invalid template makes the Rollout Invalid before any traffic moves.",
  );

/** A template reference as the controller sees it (defaults applied). */
export type TemplateRef = z.output<typeof TemplateRefSchema>;
