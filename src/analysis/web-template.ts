// Fills a web metric's request ({{ canary }}, {{ args.x }}, …) so that no value can change where it goes or what it
// means: percent-encoded in the URL (never in its host, for an argument), JSON-escaped in the body, no line breaks in
// headers. Templates substitute their arguments first (the Rollout's variables stay), the measurement the rest.
import type { WebMetricSpec } from "../api/web-metric-schema.ts";
import { TEMPLATE_VARIABLES, type TemplateVars } from "./promql-template.ts";
import { ARGS_PREFIX, NUMBER_VALUE } from "./templates/args.ts";

/** A request ready to send. */
export interface WebRequest {
  url: string;
  method: "GET" | "POST";
  body?: string;
  headers: Record<string, string>;
}

/** A template or value that cannot be used; the message names the placeholder and the part of the request. */
export class WebTemplateError extends Error {
  override name = "WebTemplateError";
}

/** What a placeholder becomes: a value, or `keep` to leave it for a later pass. */
type Lookup = (name: string) => string | "keep";
const KEEP = "keep";

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const NAME = /^\s*([a-z_]+|args\.[a-zA-Z][a-zA-Z0-9_-]*)\s*$/;
/** What a built-in variable must look like to stand in a host (they are Kubernetes names and durations). */
const HOST_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/;
/** What HTTP allows in a header value (a line break would start another header). */
const NOT_HEADER_TEXT = /[^\t\x20-\x7e\x80-\xff]/;

type UrlPart = "host" | "path" | "query" | "fragment";

/**
 * `web` with every `{{ args.<name> }}` filled from `args` (the Rollout's variables are left for
 * {@link renderWebRequest}).
 * @throws WebTemplateError for an undeclared argument, one in the URL's host, or a value that cannot stand where it is.
 */
export function substituteWebArgs(web: WebMetricSpec, args: ReadonlyMap<string, string>): WebMetricSpec {
  const lookup: Lookup = (name) => {
    if (!name.startsWith(ARGS_PREFIX)) return KEEP;
    const arg = name.slice(ARGS_PREFIX.length);
    const value = args.get(arg);
    if (value === undefined)
      throw new WebTemplateError(`the request uses {{ args.${arg} }}, which the template does not declare`);
    if (value.includes("{{") || value.includes("}}") || value.startsWith("}") || value.endsWith("{"))
      throw new WebTemplateError(
        `argument ${arg}: a value must not contain {{ or }} or start with } or end with {`,
      );
    return value;
  };
  return fill(web, lookup);
}

/**
 * The request `web` describes for a Rollout whose variables are `vars`.
 * @throws WebTemplateError for an unknown variable, an argument left unfilled, or a value that cannot stand where it
 *   is (or would move the URL to another host).
 */
export function renderWebRequest(web: WebMetricSpec, vars: TemplateVars): WebRequest {
  const known = vars as unknown as Record<string, string | undefined>;
  const lookup: Lookup = (name) => {
    if (name.startsWith(ARGS_PREFIX))
      throw new WebTemplateError(
        `{{ ${name} }} is a template argument; only a template's metrics may use it`,
      );
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name))
      throw new WebTemplateError(
        `unknown variable {{ ${name} }}; known: ${TEMPLATE_VARIABLES.map((v) => `{{ ${v} }}`).join(", ")}`,
      );
    const value = known[name];
    if (value === undefined)
      throw new WebTemplateError(
        `{{ ${name} }} is known only for StatefulSet and DaemonSet targets, once their canary pods exist`,
      );
    return value;
  };
  const filled = fill(web, lookup);
  const headers: Record<string, string> = {};
  for (const h of filled.headers ?? []) headers[h.name] = h.value;
  if (filled.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === "content-type"))
    headers["Content-Type"] = "application/json";
  return {
    url: filled.url,
    method: filled.method,
    ...(filled.body !== undefined ? { body: filled.body } : {}),
    headers,
  };
}

function fill(web: WebMetricSpec, lookup: Lookup): WebMetricSpec {
  return {
    ...web,
    url: fillUrl(web.url, lookup),
    ...(web.body !== undefined ? { body: fillBody(web.body, lookup) } : {}),
    ...(web.headers
      ? {
          headers: web.headers.map((h) => ({
            name: h.name,
            value: replace(
              h.value,
              `header ${h.name}`,
              (name, value) => {
                if (NOT_HEADER_TEXT.test(value))
                  throw new WebTemplateError(
                    `{{ ${name} }} in header ${h.name}: a value must be Latin-1 text without control characters`,
                  );
                return value;
              },
              lookup,
            ),
          })),
        }
      : {}),
  };
}

/** Replaces every placeholder of `text` with `place(name, value, offset)`; `where` names the text in messages. */
function replace(
  text: string,
  where: string,
  place: (name: string, value: string, offset: number) => string,
  lookup: Lookup,
): string {
  return text.replace(PLACEHOLDER, (whole, inner: string, offset: number) => {
    const m = NAME.exec(inner);
    if (!m) throw new WebTemplateError(`${where}: ${JSON.stringify(whole.slice(0, 40))} is not a variable`);
    const name = m[1] as string;
    const value = lookup(name);
    return value === KEEP ? whole : place(name, value, offset);
  });
}

function fillUrl(url: string, lookup: Lookup): string {
  const start = url.indexOf("://") + 3;
  const rest = url.slice(start);
  const cut = rest.search(/[/\\?#]/);
  const hostEnd = start + (cut < 0 ? rest.length : cut);
  const fragment = url.indexOf("#", hostEnd);
  const query = url.indexOf("?", hostEnd);
  const partAt = (offset: number): UrlPart => {
    if (offset < hostEnd) return "host";
    if (fragment >= 0 && offset > fragment) return "fragment";
    if (query >= 0 && offset > query && (fragment < 0 || query < fragment)) return "query";
    return "path";
  };
  const out = replace(
    url,
    "url",
    (name, value, offset) => {
      const part = partAt(offset);
      if (part === "host") {
        if (name.startsWith(ARGS_PREFIX))
          throw new WebTemplateError(
            `{{ ${name} }} stands in the URL's host: a template fixes the host; put arguments in the path or query`,
          );
        if (!HOST_VALUE.test(value))
          throw new WebTemplateError(
            `{{ ${name} }} = ${JSON.stringify(value.slice(0, 60))} cannot stand in a host`,
          );
        return value;
      }
      if (part === "path" && (/^\.{1,2}$/.test(value) || /[/\\]/.test(value)))
        throw new WebTemplateError(
          `{{ ${name} }} in the URL's path must be one segment: not . or .., and no / or \\`,
        );
      try {
        return encodeURIComponent(value);
      } catch {
        throw new WebTemplateError(`{{ ${name} }} is not valid Unicode text`);
      }
    },
    lookup,
  );
  return out;
}

/** The body with values JSON-escaped inside strings; outside a string a value must be a number. */
function fillBody(body: string, lookup: Lookup): string {
  const inString = jsonStringState(body);
  return replace(
    body,
    "body",
    (name, value, offset) => {
      if (inString(offset)) return JSON.stringify(value).slice(1, -1);
      if (!NUMBER_VALUE.test(value))
        throw new WebTemplateError(
          `{{ ${name} }} stands outside a JSON string in the body, where only a number can; put it inside quotes`,
        );
      return value;
    },
    lookup,
  );
}

/** Whether each offset of `text` lies inside a JSON string (escapes honoured). */
function jsonStringState(text: string): (offset: number) => boolean {
  const inside: boolean[] = [];
  let str = false;
  for (let i = 0; i < text.length; i++) {
    inside[i] = str;
    const c = text[i];
    if (str && c === "\\") {
      inside[i + 1] = true;
      i++;
    } else if (c === '"') str = !str;
  }
  return (offset) => inside[offset] ?? false;
}
