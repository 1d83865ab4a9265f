// Applies a Rollout's analysis templates to its validated spec before anything is observed or decided: the engine
// then sees plain metrics, and a template it cannot resolve makes the spec invalid (status condition, Event).

import { resolveTemplates, type TemplateLookup } from "../analysis/templates/resolve.ts";
import type { Rollout } from "../api/rollout-schema.ts";
import { pinnedSpec } from "../rollout/template-pin.ts";
import { lastValidSpec, type Validated } from "./observe.ts";

/**
 * `v` with the templates of its spec resolved (see resolveTemplates). A Rollout whose templates cannot be resolved
 * is treated like an invalid one: its issues name the template, and the spec acted on is the last valid one (whose
 * metrics were resolved when it was valid), so it never promotes on a metric nobody could evaluate.
 * While a step is under way and the Rollout's own spec is unchanged, the spec is the one resolved when the step
 * started (see pinnedSpec): a template edited mid-step, or one gone, applies from the next step.
 */
export function withTemplates(v: Validated, rollout: Rollout, lookup: TemplateLookup | undefined): Validated {
  if (!v.spec?.analysis.templates?.length) return v;
  const resolved = resolveTemplates(v.spec, rollout.metadata.namespace, lookup ?? (() => undefined));
  // The step under way keeps the metrics resolved when it started; the templates as they are now are handed on for
  // a step that starts in this decision.
  const pinned =
    pinnedSpec(rollout.status, rollout.metadata.generation ?? 1) && lastValidSpec(rollout.status);
  if (pinned) return { spec: pinned, issues: [], acting: pinned, fresh: resolved.ok ? resolved.spec : null };
  if (resolved.ok) return { spec: resolved.spec, issues: [], acting: resolved.spec };
  return { spec: undefined, issues: resolved.issues, acting: lastValidSpec(rollout.status) };
}
