// Builds the Rollout CustomResourceDefinition from the zod schemas, and checks it is a structural schema.
import * as z from "zod";
import { GROUP, KIND, PLURAL, VERSION } from "./constants.ts";
import { MAX_ROLLOUT_NAME, RolloutSpecSchema, RolloutStatusSchema } from "./rollout-schema.ts";

type JsonSchema = Record<string, unknown>;

/** Keys the API server forbids or that have no meaning in a structural schema. */
const FORBIDDEN_KEYS = [
  "$ref",
  "$schema",
  "definitions",
  "$defs",
  "oneOf",
  "anyOf",
  "allOf",
  "not",
  "patternProperties",
  "additionalItems",
  "uniqueItems",
  "propertyNames",
  "const",
  "id",
  "title",
];

/** The zod schema as an OpenAPI v3 schema, every part inlined (structural schemas allow no references). */
export function toOpenApi(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    unrepresentable: "throw",
    cycles: "throw",
    reused: "inline",
  }) as JsonSchema;
}

/** Lists every violation of the structural-schema rules below `node` (empty when the schema is structural). */
export function structuralViolations(node: unknown, path = "openAPIV3Schema"): string[] {
  if (node === null || typeof node !== "object") return [];
  const schema = node as JsonSchema;
  const out: string[] = [];
  for (const key of FORBIDDEN_KEYS) if (key in schema) out.push(`${path}: forbidden key ${key}`);
  if (schema.properties && "additionalProperties" in schema)
    out.push(`${path}: properties with additionalProperties`);
  if (
    !schema.type &&
    !schema["x-kubernetes-int-or-string"] &&
    !schema["x-kubernetes-preserve-unknown-fields"]
  ) {
    out.push(`${path}: missing type`);
  }
  if (schema.type === "null") out.push(`${path}: type null`);
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  for (const [name, child] of Object.entries(props))
    out.push(...structuralViolations(child, `${path}.${name}`));
  if (schema.items) out.push(...structuralViolations(schema.items, `${path}[]`));
  if (typeof schema.additionalProperties === "object") {
    out.push(...structuralViolations(schema.additionalProperties, `${path}{}`));
  }
  return out;
}

/** Lists every property below `node` without a description (so `kubectl explain` always says something). */
export function undocumentedFields(node: unknown, path = "spec"): string[] {
  if (node === null || typeof node !== "object") return [];
  const schema = node as JsonSchema;
  const out: string[] = [];
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, child] of Object.entries(props)) {
    if (!child.description) out.push(`${path}.${name}`);
    out.push(...undocumentedFields(child, `${path}.${name}`));
  }
  if (schema.items) out.push(...undocumentedFields(schema.items, `${path}[]`));
  return out;
}

/**
 * zod writes `format: date-time` strings with a long regex the API server does not need, and a free-form object
 * (`x-kubernetes-preserve-unknown-fields`, e.g. a Job check's JobSpec) with empty properties the API server refuses.
 */
export function simplify(node: unknown): void {
  if (node === null || typeof node !== "object") return;
  const schema = node as JsonSchema;
  if (schema.format === "date-time") delete schema.pattern;
  if (schema["x-kubernetes-preserve-unknown-fields"]) {
    delete schema.properties;
    delete schema.additionalProperties;
  }
  for (const value of Object.values(schema)) {
    if (Array.isArray(value)) value.forEach(simplify);
    else simplify(value);
  }
}

/** Phases in which the canary may carry traffic or the primary is being replaced. */
const IN_FLIGHT_PHASES = ["Progressing", "Paused", "Promoting", "Finalizing"];
const inFlight = `has(oldSelf.status) && has(oldSelf.status.phase) && oldSelf.status.phase in [${IN_FLIGHT_PHASES.map((p) => `'${p}'`).join(", ")}]`;
const serviceName = (o: string) =>
  `(has(${o}.spec.service) && has(${o}.spec.service.name) ? ${o}.spec.service.name : ${o}.spec.targetRef.name)`;
const targetKind = (o: string) => `(has(${o}.spec.targetRef.kind) ? ${o}.spec.targetRef.kind : 'Deployment')`;

/** Messages of the whole-object rules, for tests. */
export const ROOT_RULE_MESSAGES = {
  nameTooLong: `metadata.name must be at most ${MAX_ROLLOUT_NAME} characters: it is the value of the vireo.dev/rollout label on every object Vireo creates`,
  targetChanged:
    "spec.targetRef.name cannot change while a rollout is in flight (Progressing, Paused, Promoting or Finalizing): abort it (vireo.dev/abort) or wait for it to finish, then change it",
  kindChanged:
    "spec.targetRef.kind cannot change while a rollout is in flight (Progressing, Paused, Promoting or Finalizing): abort it (vireo.dev/abort) or wait for it to finish, then change it",
  serviceChanged:
    "spec.service.name (default: spec.targetRef.name) cannot change while a rollout is in flight (Progressing, Paused, Promoting or Finalizing): abort it (vireo.dev/abort) or wait for it to finish, then change it",
} as const;

/**
 * Rules on the whole object: the only scope where CEL sees metadata.name, and where a transition rule on spec can
 * read the stored status (the status subresource keeps status out of spec updates, but rules at the root still
 * read it). Transition rules run on updates only.
 */
const ROOT_RULES = [
  {
    // On create only (oldSelf absent): a Rollout stored before this rule must still let its finalizer go. No
    // fieldPath: the API server refuses ".metadata.name" there, so the message names the field itself.
    rule: `oldSelf.hasValue() || self.metadata.name.size() <= ${MAX_ROLLOUT_NAME}`,
    optionalOldSelf: true,
    message: ROOT_RULE_MESSAGES.nameTooLong,
  },
  {
    rule: `!(${inFlight}) || self.spec.targetRef.name == oldSelf.spec.targetRef.name`,
    message: ROOT_RULE_MESSAGES.targetChanged,
    fieldPath: ".spec.targetRef.name",
    reason: "FieldValueForbidden",
  },
  {
    rule: `!(${inFlight}) || ${targetKind("self")} == ${targetKind("oldSelf")}`,
    message: ROOT_RULE_MESSAGES.kindChanged,
    fieldPath: ".spec.targetRef.kind",
    reason: "FieldValueForbidden",
  },
  {
    rule: `!(${inFlight}) || ${serviceName("self")} == ${serviceName("oldSelf")}`,
    message: ROOT_RULE_MESSAGES.serviceChanged,
    fieldPath: ".spec.service",
    reason: "FieldValueForbidden",
  },
];

/** The full CustomResourceDefinition object for Rollouts. */
export function buildRolloutCrd(): JsonSchema {
  const spec = toOpenApi(RolloutSpecSchema);
  const status = toOpenApi(RolloutStatusSchema);
  simplify(spec);
  simplify(status);
  const openAPIV3Schema = {
    type: "object",
    description:
      "A Rollout runs canary releases of a Deployment: traffic moves step by step to the new version while Prometheus analysis stays good, and back to the stable version when it does not.",
    required: ["spec"],
    "x-kubernetes-validations": ROOT_RULES,
    properties: {
      apiVersion: { type: "string", description: "APIVersion of this object: vireo.dev/v1alpha1." },
      kind: { type: "string", description: "Kind of this object: Rollout." },
      metadata: { type: "object" },
      spec,
      status,
    },
  };
  const violations = structuralViolations(openAPIV3Schema);
  if (violations.length > 0) throw new Error(`Rollout schema is not structural:\n${violations.join("\n")}`);
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { "app.kubernetes.io/part-of": "vireo" } },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: "rollout",
        shortNames: ["vro"],
        categories: ["all", "vireo"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: "Phase",
              type: "string",
              jsonPath: ".status.phase",
              description: "Where the rollout is.",
            },
            {
              name: "Weight",
              type: "integer",
              jsonPath: ".status.canaryWeight",
              description: "Canary traffic percent.",
            },
            {
              name: "Step",
              type: "integer",
              jsonPath: ".status.currentStepIndex",
              description: "Current step index.",
            },
            {
              name: "Reason",
              type: "string",
              priority: 1,
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
              description: "Reason of the Ready condition.",
            },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}
