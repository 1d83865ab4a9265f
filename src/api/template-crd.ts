// Builds the AnalysisTemplate and ClusterAnalysisTemplate CustomResourceDefinitions from the zod schema.
import { GROUP, TEMPLATE_PLURALS, type TemplateKind, VERSION } from "./constants.ts";
import { simplify, structuralViolations, toOpenApi } from "./crd.ts";
import { AnalysisTemplateSpecSchema } from "./template-schema.ts";

type JsonSchema = Record<string, unknown>;

const DESCRIPTIONS: Record<TemplateKind, string> = {
  AnalysisTemplate:
    "Reusable analysis metrics with typed arguments, for the Rollouts of its own namespace (spec.analysis.templates).",
  ClusterAnalysisTemplate:
    "Reusable analysis metrics with typed arguments, for Rollouts of every namespace (spec.analysis.templates with kind ClusterAnalysisTemplate).",
};

/** The CustomResourceDefinition of one template kind: namespaced AnalysisTemplate or cluster-scoped ClusterAnalysisTemplate. */
export function buildTemplateCrd(kind: TemplateKind): JsonSchema {
  const spec = toOpenApi(AnalysisTemplateSpecSchema);
  simplify(spec);
  const openAPIV3Schema = {
    type: "object",
    description: DESCRIPTIONS[kind],
    required: ["spec"],
    properties: {
      apiVersion: { type: "string", description: `APIVersion of this object: ${GROUP}/${VERSION}.` },
      kind: { type: "string", description: `Kind of this object: ${kind}.` },
      metadata: { type: "object" },
      spec,
    },
  };
  const violations = structuralViolations(openAPIV3Schema);
  if (violations.length > 0) throw new Error(`${kind} schema is not structural:\n${violations.join("\n")}`);
  const plural = TEMPLATE_PLURALS[kind];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${GROUP}`, labels: { "app.kubernetes.io/part-of": "vireo" } },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        categories: ["vireo"],
      },
      scope: kind === "ClusterAnalysisTemplate" ? "Cluster" : "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }],
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}
