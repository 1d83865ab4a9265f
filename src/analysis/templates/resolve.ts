// Resolves a Rollout's analysis.templates[] into plain metrics: finds each template, checks its arguments and
// substitutes them, and merges the result into the spec the engine runs. Pure: the templates come from `lookup`.
import { ARGO_GROUP, type TemplateGroup, type TemplateKind } from "../../api/constants.ts";
import type { MetricSpec, RolloutSpec } from "../../api/rollout-schema.ts";
import type { TemplateRef } from "../../api/template-ref-schema.ts";
import {
  type AnalysisTemplateObject,
  type AnalysisTemplateSpec,
  AnalysisTemplateSpecSchema,
  type TemplateArg,
} from "../../api/template-schema.ts";
import { formatPath, type SpecIssue, validateRolloutSpec } from "../../api/validate.ts";
import { PROM_DURATION, renderPromQL, type TemplateVars } from "../promql-template.ts";
import { renderWebRequest, substituteWebArgs } from "../web-template.ts";
import { type ArgoContext, translateArgoTemplate } from "./argo.ts";
import { NUMBER_VALUE, substituteArgs } from "./args.ts";

/**
 * Reads a template of `group` (vireo.dev or argoproj.io): namespaced kinds by namespace and name, cluster-scoped
 * ones by name (`namespace` undefined).
 */
export type TemplateLookup = (
  kind: TemplateKind,
  namespace: string | undefined,
  name: string,
  group: TemplateGroup,
) => AnalysisTemplateObject | undefined;

/** The outcome of {@link resolveTemplates}: the spec to run, or every reason it cannot be built. */
export type TemplateResolution = { ok: true; spec: RolloutSpec } | { ok: false; issues: SpecIssue[] };

/** The longest value shown in a message. */
const SHOWN = 60;
const show = (v: string) => JSON.stringify(v.length > SHOWN ? `${v.slice(0, SHOWN)}…` : v);

/**
 * The spec of a Rollout in `namespace` with the metrics of every template its `analysis.templates` names added
 * after its own, their `{{ args.<name> }}` substituted (see substituteArgs), and the templates' Prometheus settings
 * merged in. Refused, with one issue per problem and the template named in each: a template of another namespace,
 * one that does not exist or is invalid, an argument missing, undeclared or of the wrong type, a metric name used
 * twice, two different Prometheus servers, or a merged spec the Rollout schema refuses.
 */
export function resolveTemplates(
  spec: RolloutSpec,
  namespace: string,
  lookup: TemplateLookup,
): TemplateResolution {
  const refs = spec.analysis.templates ?? [];
  if (refs.length === 0) return { ok: true, spec };
  const issues: SpecIssue[] = [];
  const metrics: MetricSpec[] = [...spec.analysis.metrics];
  const owners = new Map<string, string>(metrics.map((m) => [m.name, "the Rollout"]));
  let prometheus = spec.analysis.prometheus;
  let prometheusFrom = prometheus ? "the Rollout" : undefined;
  for (const [i, ref] of refs.entries()) {
    const path = `spec.analysis.templates[${i}]`;
    const found = findTemplate(ref, namespace, lookup, spec.analysis);
    if (!found.ok) {
      issues.push({ path, message: found.message });
      continue;
    }
    const { label, template } = found;
    const args = argValues(ref, template.args, label);
    if (!args.ok) {
      issues.push(...args.messages.map((message) => ({ path: `${path}.args`, message })));
      continue;
    }
    for (const metric of template.metrics) {
      const owner = owners.get(metric.name);
      if (owner !== undefined) {
        issues.push({ path, message: `${label}: metric ${metric.name} is also defined by ${owner}` });
        continue;
      }
      owners.set(metric.name, label);
      const rendered = renderMetric(metric, args.values, spec, namespace);
      if (typeof rendered === "string")
        issues.push({ path, message: `${label}, metric ${metric.name}: ${rendered}` });
      else metrics.push(rendered);
    }
    if (template.prometheus) {
      if (prometheus && JSON.stringify(prometheus) !== JSON.stringify(template.prometheus)) {
        issues.push({
          path,
          message: `${label} names a different Prometheus (${template.prometheus.address ?? "the controller's default"}) than ${prometheusFrom}: one Rollout queries one Prometheus`,
        });
      } else if (!prometheus) {
        prometheus = template.prometheus;
        prometheusFrom = label;
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  const merged = validateRolloutSpec({
    ...spec,
    analysis: { ...spec.analysis, metrics, ...(prometheus ? { prometheus } : {}) },
  });
  if (!merged.ok) {
    return {
      ok: false,
      issues: merged.issues.map((x) => ({
        path: x.path,
        message: `with its templates' metrics: ${x.message}`,
      })),
    };
  }
  return merged;
}

type Found = { ok: true; label: string; template: AnalysisTemplateSpec } | { ok: false; message: string };

/**
 * The template `ref` names, validated (an Argo template translated first, for a Rollout analysing as `argo` says);
 * or why it cannot be used.
 */
function findTemplate(ref: TemplateRef, namespace: string, lookup: TemplateLookup, argo: ArgoContext): Found {
  const cluster = ref.kind === "ClusterAnalysisTemplate";
  if (!cluster && ref.namespace !== undefined && ref.namespace !== namespace) {
    return {
      ok: false,
      message: `AnalysisTemplate ${ref.namespace}/${ref.name} is in another namespace: a Rollout may use only the AnalysisTemplates of its own namespace (${namespace}); a template meant for several namespaces is a ClusterAnalysisTemplate`,
    };
  }
  const fromArgo = ref.apiGroup === ARGO_GROUP;
  const label = `${fromArgo ? "Argo " : ""}${cluster ? `ClusterAnalysisTemplate ${ref.name}` : `AnalysisTemplate ${namespace}/${ref.name}`}`;
  const object = lookup(ref.kind, cluster ? undefined : namespace, ref.name, ref.apiGroup);
  if (!object) return { ok: false, message: `${label} not found` };
  let spec = object.spec;
  if (fromArgo) {
    const translated = translateArgoTemplate(spec, argo);
    if (!translated.ok)
      return { ok: false, message: `${label} cannot be used: ${translated.messages.join("; ")}` };
    spec = translated.spec;
  }
  const parsed = AnalysisTemplateSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const why = parsed.error.issues.map((x) => `${formatPath(x.path)}: ${x.message}`).join("; ");
    return { ok: false, message: `${label} is invalid: ${why}` };
  }
  return { ok: true, label, template: parsed.data };
}

type Args = { ok: true; values: Map<string, string> } | { ok: false; messages: string[] };

/** The value of every declared argument: passed, else the default; checked against its type. */
function argValues(ref: TemplateRef, declared: readonly TemplateArg[], label: string): Args {
  const messages: string[] = [];
  const known = new Set(declared.map((a) => a.name));
  const passed = new Map<string, string>();
  for (const a of ref.args) {
    if (!known.has(a.name)) {
      const names = declared.map((d) => d.name).join(", ") || "none";
      messages.push(`${label} has no argument ${a.name} (it declares: ${names})`);
    } else if (passed.has(a.name)) messages.push(`argument ${a.name} is passed twice`);
    passed.set(a.name, a.value);
  }
  const values = new Map<string, string>();
  for (const arg of declared) {
    const value = passed.get(arg.name) ?? arg.default;
    if (value === undefined) {
      messages.push(`${label} needs argument ${arg.name} (it has no default)`);
      continue;
    }
    const typeError = checkType(arg, value);
    if (typeError) messages.push(`${label}: argument ${arg.name} ${typeError}`);
    values.set(arg.name, value);
  }
  return messages.length > 0 ? { ok: false, messages } : { ok: true, values };
}

/** Why `value` is not of `arg`'s type, or undefined. */
function checkType(arg: TemplateArg, value: string): string | undefined {
  if (arg.type === "number" && !NUMBER_VALUE.test(value)) return `must be a number, not ${show(value)}`;
  if (arg.type === "duration" && !PROM_DURATION.test(value))
    return `must be a PromQL duration such as 30s or 1m30s, not ${show(value)}`;
  return undefined;
}

/**
 * `metric` with its arguments substituted, or why it cannot be: an argument it names is undeclared, a value
 * cannot stand where the query or request puts it (an argument never stands in a web metric's host), or the query or
 * request does not render for this Rollout (an unknown variable).
 */
function renderMetric(
  metric: MetricSpec,
  args: ReadonlyMap<string, string>,
  spec: RolloutSpec,
  namespace: string,
): MetricSpec | string {
  // Rendered once now with this Rollout's names, so a broken query or request is refused before any traffic moves.
  const canary = spec.targetRef.name;
  const vars: TemplateVars = {
    namespace,
    target: canary,
    canary,
    primary: `${canary}-primary`,
    service: spec.service?.name ?? canary,
    interval: "30s",
  };
  try {
    if (metric.web !== undefined) {
      const web = substituteWebArgs(metric.web, args);
      renderWebRequest(web, vars);
      return { ...metric, web };
    }
    if (metric.query === undefined) return metric;
    const query = substituteArgs(metric.query, args);
    renderPromQL(query, vars);
    return { ...metric, query };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
