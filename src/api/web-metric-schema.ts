// A web metric (spec.analysis.metrics[].web): an HTTP GET or POST whose JSON answer holds the number the metric is
// judged by, read with a JSONPath. Kept apart from rollout-schema.ts, which builds MetricSchema on it.
import * as z from "zod";
import { CLIENT_OWNED_HEADERS } from "./constants.ts";
import { JsonPathError, MAX_JSON_PATH, parseJsonPath } from "./json-path.ts";
import { cel, duration } from "./schema-fields.ts";

/** Methods a web metric may use. */
export const WEB_METHODS = ["GET", "POST"] as const;

/**
 * Headers a web metric may not set: the ones that say where the request goes or how it is framed (Host would pick
 * another virtual host behind an allowed address), which the controller's HTTP client sets itself.
 */
export const FORBIDDEN_WEB_HEADERS = [...CLIENT_OWNED_HEADERS, "forwarded", "x-forwarded-host"] as const;

/** Bounds of a web metric's request. */
export const WEB_LIMITS = { url: 2048, body: 4096, headers: 10, headerValue: 1024 } as const;

/** An http(s) URL whose only spaces and braces are those of `{{ variable }}` placeholders. */
const WEB_URL = "^https?://([^\\s{}]|\\{\\{ *[a-zA-Z_][a-zA-Z0-9_.-]* *\\}\\})+$";
/** An RFC 9110 token (a header name). */
const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
/** What HTTP allows in a header value: Latin-1 text without control characters (CR, LF would start a header). */
const HEADER_VALUE = "^[\\t\\x20-\\x7e\\x80-\\xff]*$";

/** One header sent with the request. */
export const WebHeaderSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(new RegExp(HEADER_NAME), "must be an HTTP header name")
      .describe(`Header name. Not one of ${FORBIDDEN_WEB_HEADERS.join(", ")}.`),
    value: z
      .string()
      .max(WEB_LIMITS.headerValue)
      .regex(new RegExp(HEADER_VALUE), "must be Latin-1 text without control characters")
      .describe("Header value; may use the same variables as url."),
  })
  .describe("An HTTP header.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        `!(self.name.lowerAscii() in [${FORBIDDEN_WEB_HEADERS.map((h) => `'${h}'`).join(", ")}])`,
        "this header is set by the controller",
        ".name",
      ),
    ],
  })
  .refine((h) => !(FORBIDDEN_WEB_HEADERS as readonly string[]).includes(h.name.toLowerCase()), {
    message: "this header is set by the controller",
    path: ["name"],
  });

/** Where a web metric's number comes from. */
export const WebMetricSchema = z
  .object({
    url: z
      .string()
      .max(WEB_LIMITS.url)
      .regex(new RegExp(WEB_URL), "must be an http(s) URL (braces only as {{ variable }})")
      .describe(
        "The URL to call. It must lie under one of the controller's --allowed-check-urls, and connections pass its egress policy. Variables {{ namespace }}, {{ target }}, {{ canary }}, {{ primary }}, {{ service }}, {{ interval }} (and a template's {{ args.<name> }}) are percent-encoded; an argument cannot stand in the host.",
      ),
    method: z.enum(WEB_METHODS).default("GET").describe("GET (default) or POST."),
    body: z
      .string()
      .max(WEB_LIMITS.body)
      .optional()
      .describe(
        "JSON sent with POST (Content-Type application/json unless a header says otherwise). A variable inside a JSON string is escaped for it; outside a string its value must be a number.",
      ),
    headers: z
      .array(WebHeaderSchema)
      .max(WEB_LIMITS.headers)
      .optional()
      .describe(`Headers sent with the request, at most ${WEB_LIMITS.headers}.`),
    jsonPath: z
      .string()
      .min(1)
      .max(MAX_JSON_PATH)
      .regex(/^\$/, "must start with $")
      .describe(
        "Where the number is in the JSON answer: $.a.b, $['a-b'], $.items[0], $.items[-1], $.items[*] (with reduce). It must select a number or a numeric string; nothing selected (or null) is no data.",
      )
      .superRefine((path, ctx) => {
        try {
          parseJsonPath(path);
        } catch (err) {
          if (!(err instanceof JsonPathError)) throw err;
          ctx.addIssue({ code: "custom", message: err.message });
        }
      }),
    timeout: duration("How long one request may take, answer included. Default 5s.").default("5s"),
  })
  .describe("Measure with an HTTP request whose JSON answer holds the value.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        "!has(self.body) || (has(self.method) && self.method == 'POST')",
        "body needs method POST",
        ".body",
      ),
    ],
  })
  .refine((w) => w.body === undefined || w.method === "POST", {
    message: "body needs method POST",
    path: ["body"],
  });

/** A web metric with defaults applied. */
export type WebMetricSpec = z.output<typeof WebMetricSchema>;
