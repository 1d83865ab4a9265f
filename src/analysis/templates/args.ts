// Puts a Rollout's arguments into a template's PromQL ({{ args.<name> }}) so that no value can change the query's
// shape: quoted, a value is escaped and can never end its string; bare, only a number, a duration or a name fits.
import {
  escapePromQLString,
  type PlaceholderContext,
  PROM_DURATION,
  PromQLTemplateError,
  scanPlaceholders,
} from "../promql-template.ts";

/** How a query names an argument: `{{ args.<name> }}`. */
export const ARGS_PREFIX = "args.";
/** A PromQL number literal (decimal; what a threshold or a factor looks like). */
export const NUMBER_VALUE = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
/** A metric or label name. */
const NAME_VALUE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Words that are PromQL syntax where a name could stand: as bare values they would change the query's shape. */
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "bool",
  "atan2",
  "start",
  "end",
  "inf",
  "nan",
  // Not PromQL words, but the grammar Vireo checks queries with (lezer-promql) looks names up in plain objects and
  // misreads these two: bare, they would make a query the scope check cannot parse.
  "__proto__",
  "constructor",
]);

/**
 * `query` with every `{{ args.<name> }}` replaced by its value from `args`, escaped for where it stands; the
 * Rollout's own variables (`{{ canary }}`, …) are left for renderPromQL. One pass: a value is never scanned again.
 *
 * @throws PromQLTemplateError naming the argument when the query uses one `args` lacks, or a value cannot stand
 *   where the query puts it.
 */
export function substituteArgs(query: string, args: ReadonlyMap<string, string>): string {
  return scanPlaceholders(query, (name, ctx) => {
    if (!name.startsWith(ARGS_PREFIX)) return `{{ ${name} }}`;
    const arg = name.slice(ARGS_PREFIX.length);
    const value = args.get(arg);
    if (value === undefined)
      throw new PromQLTemplateError(`the query uses {{ args.${arg} }}, which the template does not declare`);
    return placed(arg, value, ctx);
  });
}

/** `value` as it may stand in `ctx`. */
function placed(arg: string, value: string, ctx: PlaceholderContext): string {
  // Braces at the edges or doubled would make a placeholder of the value's text and its neighbours'.
  if (value.includes("{{") || value.includes("}}") || value.startsWith("}") || value.endsWith("{")) {
    throw new PromQLTemplateError(
      `argument ${arg}: a value must not contain {{ or }} or start with } or end with {`,
    );
  }
  if (ctx.quote === '"' || ctx.quote === "'") return escapePromQLString(value, ctx.quote);
  if (ctx.quote === "`") {
    // A raw string has no escapes: the only way out of it is a backtick.
    if (value.includes("`"))
      throw new PromQLTemplateError(
        `argument ${arg}: a value inside a \`raw\` string must not contain a backtick`,
      );
    return value;
  }
  if (NUMBER_VALUE.test(value) || PROM_DURATION.test(value)) return value;
  if (NAME_VALUE.test(value) && !KEYWORDS.has(value.toLowerCase())) return value;
  throw new PromQLTemplateError(
    `argument ${arg}: ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)} cannot stand bare in the query (only a number, a duration or a metric or label name can); put {{ args.${arg} }} inside quotes`,
  );
}
