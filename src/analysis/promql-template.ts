// Renders user PromQL templates ({{ target }}, {{ interval }}, …) so that no variable value can change the query's shape.

/** Values a custom metric query may reference. */
export interface TemplateVars {
  /** Namespace of the Rollout (DNS label). */
  namespace: string;
  /** The workload being measured: the canary, or the primary when measuring it for compareToPrimary. */
  target: string;
  /** The canary Deployment (the user's `targetRef.name`). */
  canary: string;
  /** Vireo's `<target>-primary` Deployment. */
  primary: string;
  /** The root Service clients call. */
  service: string;
  /** The query window as a PromQL duration, e.g. `30s` or `1m30s`. */
  interval: string;
  /**
   * StatefulSet and DaemonSet targets: the `controller-revision-hash` label of the canary pods (the update
   * revision), once the workload's controller made it; unknown for Deployments.
   */
  canary_hash?: string;
}

/** Names a template may use; anything else is a typo worth failing on. */
export const TEMPLATE_VARIABLES = [
  "namespace",
  "target",
  "canary",
  "primary",
  "service",
  "interval",
  "canary_hash",
] as const satisfies readonly (keyof TemplateVars)[];

/** Raised for an unusable template or variable value; the message names the offending part. */
export class PromQLTemplateError extends Error {
  override name = "PromQLTemplateError";
}

/** DNS-1123 subdomain (Deployments) — also what keeps a name free of PromQL syntax. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A PromQL duration made of integer parts (`90s`, `1m30s`, `500ms`); Prometheus rejects fractions. */
export const PROM_DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;
/** Label names, for builtin queries whose label names come from `spec.analysis.labels`. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** RE2 metacharacters: a `.` in a Deployment name must not match any character under `=~`. */
const REGEX_META = /[\\.+*?()|[\]{}^$]/g;

/** Throws unless `value` is a Kubernetes object name (DNS-1123 subdomain, at most 253 characters). */
export function assertK8sName(what: string, value: string): void {
  if (value.length === 0 || value.length > 253 || !K8S_NAME.test(value)) {
    throw new PromQLTemplateError(`${what} ${JSON.stringify(value)} is not a Kubernetes name`);
  }
}

/** Throws unless `value` is a PromQL duration such as `30s`, `5m` or `1m30s`. */
export function assertPromDuration(value: string): void {
  if (!PROM_DURATION.test(value)) {
    throw new PromQLTemplateError(
      `interval ${JSON.stringify(value)} is not a PromQL duration (use e.g. 30s, 5m, 1m30s)`,
    );
  }
}

/** Throws unless `value` is a valid Prometheus label name. */
export function assertLabelName(value: string): void {
  if (!LABEL_NAME.test(value) || value.length > 128) {
    throw new PromQLTemplateError(`${JSON.stringify(value)} is not a Prometheus label name`);
  }
}

/** Formats milliseconds as a PromQL duration with integer parts (`90000` → `90s`, `1500` → `1500ms`). */
export function toPromDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1) throw new PromQLTemplateError(`window of ${ms} ms is too short`);
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/**
 * Escapes `value` for the inside of a PromQL string literal delimited by `quote`. Backslash, the delimiter and
 * line breaks are the only characters that can end or corrupt such a literal.
 */
export function escapePromQLString(value: string, quote: '"' | "'" = '"'): string {
  let out = "";
  for (const ch of value) {
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else out += ch;
  }
  return out;
}

/** A complete double-quoted PromQL string literal holding exactly `value`. */
export function promString(value: string): string {
  return `"${escapePromQLString(value)}"`;
}

/** Escapes RE2 metacharacters so that `value` matches only itself inside a `=~`/`!~` matcher. */
export function escapeRegex(value: string): string {
  return value.replace(REGEX_META, (c) => `\\${c}`);
}

/**
 * Renders `template`, replacing `{{ name }}` placeholders (spaces inside the braces optional) in one pass, so a
 * value containing `{{ … }}` is never expanded again. Each string value must be a Kubernetes name — that alone
 * keeps it free of PromQL syntax — and is escaped for the context it lands in anyway (defence in depth):
 * inside a double- or single-quoted literal it is string-escaped, and regex-escaped first when that literal is
 * the right side of `=~`/`!~`; inside a raw (backtick) literal or bare, it is inserted as validated.
 * `{{ interval }}` is inserted raw after checking it is a PromQL duration.
 *
 * @throws PromQLTemplateError for an unknown or malformed placeholder, an invalid value or an unterminated one.
 */
export function renderPromQL(template: string, vars: TemplateVars): string {
  assertK8sName("namespace", vars.namespace);
  assertK8sName("target", vars.target);
  assertK8sName("canary", vars.canary);
  assertK8sName("primary", vars.primary);
  assertK8sName("service", vars.service);
  assertPromDuration(vars.interval);
  if (vars.canary_hash !== undefined) assertK8sName("canary_hash", vars.canary_hash);
  return substitute(template, vars);
}

/**
 * The context-aware substitution behind {@link renderPromQL}, without the name checks. Exported so tests can
 * prove the escaping alone keeps arbitrary values inside their literal; production code calls renderPromQL.
 * @internal
 */
export function substitute(template: string, vars: TemplateVars): string {
  return scanPlaceholders(template, (name, ctx) => expand(name, vars, ctx.quote, ctx.regexLiteral));
}

/** Where in a query a placeholder stands: inside which kind of string literal, and whether it is a `=~`/`!~` one. */
export interface PlaceholderContext {
  /** The literal's delimiter, or null outside any string. */
  quote: '"' | "'" | "`" | null;
  /** The literal is the right side of `=~`/`!~`. */
  regexLiteral: boolean;
}

/**
 * Walks `template` once, replacing every `{{ name }}` with what `expand` returns for it, in one pass (a returned
 * value is never scanned again). Tracks string literals so `expand` can escape for where the placeholder stands.
 *
 * @throws PromQLTemplateError for an unterminated placeholder or string literal, and whatever `expand` throws.
 */
export function scanPlaceholders(
  template: string,
  expand: (name: string, ctx: PlaceholderContext) => string,
): string {
  let out = "";
  let quote: '"' | "'" | "`" | null = null;
  let regexLiteral = false;
  let i = 0;
  while (i < template.length) {
    const ch = template[i] as string;
    if (ch === "{" && template[i + 1] === "{") {
      const end = template.indexOf("}}", i + 2);
      if (end < 0) throw new PromQLTemplateError(`unterminated placeholder at offset ${i}`);
      const name = template.slice(i + 2, end).trim();
      out += expand(name, { quote, regexLiteral });
      i = end + 2;
      continue;
    }
    out += ch;
    i++;
    if (quote === null) {
      if (ch === '"' || ch === "'" || ch === "`") {
        quote = ch;
        regexLiteral = /[=!]~\s*$/.test(out.slice(0, -1));
      }
    } else if (ch === "\\" && quote !== "`" && i < template.length) {
      // An escaped character never closes the literal (and `\{` is not a placeholder).
      out += template[i];
      i++;
    } else if (ch === quote) {
      quote = null;
    }
  }
  if (quote !== null) throw new PromQLTemplateError(`unterminated ${quote} string in the query`);
  return out;
}

function expand(
  name: string,
  vars: TemplateVars,
  quote: '"' | "'" | "`" | null,
  regexLiteral: boolean,
): string {
  if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
    throw new PromQLTemplateError(
      `unknown template variable ${JSON.stringify(name)}; known: ${TEMPLATE_VARIABLES.join(", ")}`,
    );
  }
  const value = vars[name as keyof TemplateVars];
  if (value === undefined)
    throw new PromQLTemplateError(
      `{{ ${name} }} is known only for StatefulSet and DaemonSet targets, once their canary pods exist`,
    );
  if (name === "interval") {
    if (quote !== null) throw new PromQLTemplateError("{{ interval }} must not be inside a string");
    assertPromDuration(value);
    return value;
  }
  if (quote === '"' || quote === "'") {
    return escapePromQLString(regexLiteral ? escapeRegex(value) : value, quote);
  }
  // Bare or raw-string context: nothing can be escaped there, so rely on the name check (no quotes, no `).
  return value;
}
