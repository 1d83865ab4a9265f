// Applies a Rollout's analysis templates to its validated spec before anything is observed or decided: the engine
// then sees plain metrics, and a template it cannot resolve makes the spec invalid (status condition, Event).

import { resolveTemplates, type TemplateLookup } from "../analysis/templates/resolve.ts";
import type { Rollout } from "../api/rollout-schema.ts";
import { lastValidSpec, type Validated } from "./observe.ts";

/**
 * `v` with the templates of its spec resolved (see resolveTemplates). A Rollout whose templates cannot be resolved
 * is treated like an invalid one: its issues name the template, and the spec acted on is the last valid one (whose
 * metrics were resolved when it was valid), so it never promotes on a metric nobody could evaluate.
 */
export function withTemplates(v: Validated, rollout: Rollout, lookup: TemplateLookup | undefined): Validated {
  if (!v.spec?.analysis.templates?.length) return v;
  const resolved = resolveTemplates(v.spec, rollout.metadata.namespace, lookup ?? (() => undefined));
  if (resolved.ok) return { spec: resolved.spec, issues: [], acting: resolved.spec };
  return { spec: undefined, issues: resolved.issues, acting: lastValidSpec(rollout.status) };
}
