// The routes a Rollout manages beside the canary weight: header and cookie routes to the canary (setHeaderRoute
// steps), percentage mirroring of the primary's requests (setMirror steps) and sticky canaries (sessionAffinity).
// Limits follow the narrowest API Vireo renders them for (Istio HTTPMatchRequest, Gateway API HTTPRoute v1.4), so
// a Rollout the API server accepts renders routes every provider that supports the feature stores as written.
import * as z from "zod";
import { cel, DNS_LABEL, duration, percent } from "./schema-fields.ts";

/**
 * An HTTP header name in lower case (RFC 9110 token): Istio requires lower-case keys, and header names match
 * case-insensitively anyway. Pseudo-headers (`:authority`) are not tokens.
 */
export const HEADER_NAME = "^[a-z0-9!#$%&'*+.^_`|~-]+$";
/** A cookie name (RFC 6265: an RFC 9110 token). */
export const COOKIE_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
/** A cookie value (RFC 6265 cookie-octets: no space, DQUOTE, comma, semicolon or backslash). */
export const COOKIE_VALUE = "^[!#-+\\--:<-\\[\\]-~]+$";
/** A cookie Path attribute: absolute, printable, no semicolon. */
const COOKIE_PATH = "^/[!-:<-~]*$";
/** A cookie Domain attribute: a DNS name, optionally with the legacy leading dot. */
const COOKIE_DOMAIN = "^\\.?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** Header values: printable ASCII and spaces/tabs, no control characters (Gateway API and Envoy refuse them). */
const HEADER_VALUE = "^[\\t\\x20-\\x7e]+$";

/**
 * Upper bounds of the managed routes: every provider holds them (Gateway API: 16 rules per route), the CRD's CEL
 * stays within the API server's cost budget, and the largest spec still fits etcd twice (spec and lastValidSpec,
 * see status-budget.test.ts).
 */
export const ROUTE_LIMITS = {
  /** setHeaderRoute steps with matches plus setMirror steps with a percent, in one Rollout. */
  installs: 4,
  matches: 4,
  headersPerMatch: 3,
  headerName: 64,
  headerValue: 128,
  nameLength: 40,
} as const;

/** How a header value is compared. Gateway API has no Prefix: Vireo writes it as the anchored regex `^<value>.*`. */
export const HEADER_MATCH_TYPES = ["Exact", "Prefix", "RegularExpression"] as const;

/** Regex constructs RE2 (Envoy, Go) refuses although JavaScript accepts them: lookaround and backreferences. */
const NOT_RE2 = /\(\?[=!]|\(\?<[=!]|\\[1-9]|\\k</;
/** Whether `re` compiles as JavaScript and uses nothing RE2 lacks, so every data plane compiles it. */
export function isPortableRegex(re: string): boolean {
  if (NOT_RE2.test(re)) return false;
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
}
const REGEX_MESSAGE =
  "must be a regular expression RE2 accepts (Envoy and Go compile it): no lookaround (?= (?! (?<= (?<! and no backreferences";

/** One header condition of a match. */
export const HeaderMatchSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(ROUTE_LIMITS.headerName)
      .regex(new RegExp(HEADER_NAME), "must be a lower-case HTTP header name")
      .describe("Header name, lower case (header names match case-insensitively)."),
    type: z
      .enum(HEADER_MATCH_TYPES)
      .default("Exact")
      .describe(
        "Exact, Prefix or RegularExpression (RE2 syntax; Istio matches the whole value, Gateway API implementations may match a part: anchor it with ^…$).",
      ),
    value: z
      .string()
      .min(1)
      .max(ROUTE_LIMITS.headerValue)
      .regex(new RegExp(HEADER_VALUE), "must be printable ASCII")
      .describe(`The value or pattern; at most ${ROUTE_LIMITS.headerValue} characters.`),
  })
  .describe("A header the request must carry.")
  .meta({
    "x-kubernetes-validations": [
      cel(
        "self.type != 'RegularExpression' || !self.value.matches('[(][?][=!]|[(][?]<[=!]|\\\\\\\\[1-9]')",
        REGEX_MESSAGE,
        ".value",
      ),
    ],
  })
  .superRefine((h, ctx) => {
    if (h.type === "RegularExpression" && !isPortableRegex(h.value))
      ctx.addIssue({ code: "custom", path: ["value"], message: REGEX_MESSAGE });
  });

/** A cookie the request must carry with exactly this value. */
export const CookieMatchSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(ROUTE_LIMITS.headerName)
      .regex(new RegExp(COOKIE_NAME), "must be a cookie name (an RFC 6265 token)")
      .describe("Cookie name."),
    value: z
      .string()
      .min(1)
      .max(ROUTE_LIMITS.headerValue)
      .regex(
        new RegExp(COOKIE_VALUE),
        "must be a cookie value (no space, quote, comma, semicolon or backslash)",
      )
      .describe("Exact cookie value."),
  })
  .describe(
    "A cookie the request must carry. Rendered as a regular expression on the Cookie header, which every provider with header matching supports.",
  );

const lowerNamesUnique =
  "!has(self.headers) || self.headers.all(h, self.headers.filter(x, x.name == h.name).size() == 1)";
const NAMES_UNIQUE = "header names must be unique within a match";

/** The zod side of {@link lowerNamesUnique}: one issue when a match names a header twice. */
function checkHeaderNamesUnique(
  headers: readonly { name: string }[] | undefined,
  ctx: z.RefinementCtx,
): void {
  const names = (headers ?? []).map((h) => h.name);
  if (new Set(names).size !== names.length)
    ctx.addIssue({ code: "custom", path: ["headers"], message: NAMES_UNIQUE });
}

/** One way a request is sent to the canary: every condition in it must hold. */
export const RouteMatchSchema = z
  .object({
    headers: z
      .array(HeaderMatchSchema)
      .min(1)
      .max(ROUTE_LIMITS.headersPerMatch)
      .optional()
      .describe("Headers the request must carry (all of them)."),
    cookie: CookieMatchSchema.optional(),
  })
  .describe("Conditions a request must meet, all of them.")
  .meta({
    "x-kubernetes-validations": [
      cel("has(self.headers) || has(self.cookie)", "a match needs headers, a cookie or both"),
      cel(lowerNamesUnique, NAMES_UNIQUE, ".headers"),
      cel(
        "!has(self.cookie) || !has(self.headers) || !self.headers.exists(h, h.name == 'cookie')",
        "a match with a cookie cannot also match the cookie header (both are conditions on the Cookie header)",
        ".headers",
      ),
    ],
  })
  .superRefine((m, ctx) => {
    if (!m.headers && !m.cookie)
      ctx.addIssue({ code: "custom", message: "a match needs headers, a cookie or both" });
    checkHeaderNamesUnique(m.headers, ctx);
    if (m.cookie && m.headers?.some((h) => h.name === "cookie"))
      ctx.addIssue({
        code: "custom",
        path: ["headers"],
        message:
          "a match with a cookie cannot also match the cookie header (both are conditions on the Cookie header)",
      });
  });

/** A managed route's name: a DNS label, short enough to be part of a Gateway API rule name. */
const routeName = (what: string) =>
  z
    .string()
    .min(1)
    .max(ROUTE_LIMITS.nameLength)
    .regex(new RegExp(DNS_LABEL), "must be a lower-case DNS label")
    .describe(what);

/** The `setHeaderRoute` step: installs (with matches) or removes (name only) a named route to the canary. */
export const SetHeaderRouteSchema = z
  .object({
    name: routeName(
      `Name of the route, unique among the Rollout's setHeaderRoute and setMirror names; at most ${ROUTE_LIMITS.nameLength} characters.`,
    ),
    matches: z
      .array(RouteMatchSchema)
      .min(1)
      .max(ROUTE_LIMITS.matches)
      .optional()
      .describe(
        "Requests meeting any of these go to the canary, whatever the weight (0 included). Without matches the step removes the route of this name.",
      ),
  })
  .describe(
    "Send requests with these headers or cookies to the canary from this step on, beside the weight; a later setHeaderRoute with the same name and no matches removes it. Removed on promotion, abort and rollback.",
  );

/** HTTP methods a mirror can select. */
export const MIRROR_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"] as const;
/** The methods mirrored when setMirror has no matches: safe, idempotent reads. */
export const DEFAULT_MIRROR_METHODS = ["GET", "HEAD"] as const;

/** The requests a setMirror selects: its matches, or GET and HEAD without them. */
export const mirrorMatchesOf = (m: { matches?: MirrorMatch[] | undefined }): MirrorMatch[] =>
  m.matches ?? [{ methods: [...DEFAULT_MIRROR_METHODS] }];

/** One selection of the requests a mirror copies. */
export const MirrorMatchSchema = z
  .object({
    methods: z
      .array(z.enum(MIRROR_METHODS))
      .min(1)
      .max(MIRROR_METHODS.length)
      .optional()
      .describe("Methods to mirror; omitted means every method (writes too: mirrored writes happen twice)."),
    headers: z
      .array(HeaderMatchSchema)
      .min(1)
      .max(ROUTE_LIMITS.headersPerMatch)
      .optional()
      .describe("Headers the request must carry (all of them)."),
  })
  .describe("Requests to mirror: every condition must hold.")
  .meta({
    "x-kubernetes-validations": [
      cel("has(self.methods) || has(self.headers)", "a mirror match needs methods, headers or both"),
      cel(lowerNamesUnique, NAMES_UNIQUE, ".headers"),
      cel(
        "!has(self.methods) || self.methods.all(m, self.methods.filter(x, x == m).size() == 1)",
        "methods must be unique",
        ".methods",
      ),
    ],
  })
  .superRefine((m, ctx) => {
    if (!m.methods && !m.headers)
      ctx.addIssue({ code: "custom", message: "a mirror match needs methods, headers or both" });
    checkHeaderNamesUnique(m.headers, ctx);
    if (m.methods && new Set(m.methods).size !== m.methods.length)
      ctx.addIssue({ code: "custom", path: ["methods"], message: "methods must be unique" });
  });

/** The `setMirror` step: copies a share of the primary's requests to the canary, or (name only) stops. */
export const SetMirrorSchema = z
  .object({
    name: routeName(
      `Name of the mirror, unique among the Rollout's setHeaderRoute and setMirror names; at most ${ROUTE_LIMITS.nameLength} characters.`,
    ),
    percent: percent(
      "Share of the selected requests copied to the canary. Without percent the step removes the mirror of this name.",
    )
      .min(1)
      .optional(),
    matches: z
      .array(MirrorMatchSchema)
      .min(1)
      .max(ROUTE_LIMITS.matches)
      .optional()
      .describe(
        `Requests to mirror (any match). Default: methods ${DEFAULT_MIRROR_METHODS.join(" and ")} only, since a mirrored write is executed twice.`,
      ),
  })
  .describe(
    "Copy a share of the requests the primary serves to the canary, whose answers are discarded; analysis judges the canary meanwhile. Only while the canary weight is 0: remove every mirror before the first setWeight above 0.",
  )
  .meta({
    "x-kubernetes-validations": [
      cel(
        "has(self.percent) || !has(self.matches)",
        "a setMirror without percent removes the mirror: it takes no matches",
      ),
    ],
  })
  .refine((m) => m.percent !== undefined || m.matches === undefined, {
    message: "a setMirror without percent removes the mirror: it takes no matches",
  });

/** Longest cookie lifetime browsers keep (RFC 6265bis caps Max-Age at 400 days). */
export const MAX_COOKIE_AGE_SECONDS = 400 * 86_400;

/** `strategy.canary.sessionAffinity`: a client keeps the version it first saw for the rest of the rollout. */
export const SessionAffinitySchema = z
  .object({
    cookieName: z
      .string()
      .min(1)
      .max(64)
      .regex(new RegExp(COOKIE_NAME), "must be a cookie name (an RFC 6265 token)")
      .describe(
        "Cookie the canary's responses set; requests carrying it (for the current rollout) stay on the canary.",
      ),
    primaryCookieName: z
      .string()
      .min(1)
      .max(64)
      .regex(new RegExp(COOKIE_NAME), "must be a cookie name (an RFC 6265 token)")
      .optional()
      .describe("Cookie the primary's responses set while pinPrimary is on. Default: <cookieName>-primary."),
    pinPrimary: z
      .boolean()
      .default(true)
      .describe(
        "Keep clients on the primary too once they were sent there, so returning clients never re-roll onto the canary and the canary's share of clients does not drift up to 100 %. The weight then governs new clients.",
      ),
    maxAge: duration("Lifetime of the cookies (Max-Age). Default 24h, at most 400 days.").default("24h"),
    path: z
      .string()
      .min(1)
      .max(256)
      .regex(new RegExp(COOKIE_PATH), "must be an absolute path without ; or spaces")
      .default("/")
      .describe("Path attribute of the cookies."),
    domain: z
      .string()
      .min(1)
      .max(253)
      .regex(new RegExp(COOKIE_DOMAIN), "must be a DNS name")
      .optional()
      .describe("Domain attribute; omitted: the host that answered."),
    sameSite: z.enum(["Strict", "Lax", "None"]).optional().describe("SameSite attribute."),
    secure: z.boolean().default(false).describe("Secure attribute (send only over HTTPS)."),
    httpOnly: z.boolean().default(true).describe("HttpOnly attribute (not readable by scripts)."),
  })
  .describe(
    "Sticky canaries: a request without the cookie follows the weight; the version that answers sets its cookie, and later requests with it stay on that version until the rollout ends, when the cookies are expired.",
  )
  .meta({
    "x-kubernetes-validations": [
      cel(
        "!has(self.sameSite) || self.sameSite != 'None' || (has(self.secure) && self.secure)",
        "sameSite None needs secure: true (browsers drop SameSite=None cookies without Secure)",
        ".sameSite",
      ),
      cel(
        "!has(self.primaryCookieName) || self.primaryCookieName != self.cookieName",
        "primaryCookieName must differ from cookieName",
        ".primaryCookieName",
      ),
    ],
  })
  .superRefine((a, ctx) => {
    if (a.sameSite === "None" && !a.secure)
      ctx.addIssue({
        code: "custom",
        path: ["sameSite"],
        message: "sameSite None needs secure: true (browsers drop SameSite=None cookies without Secure)",
      });
    if (a.primaryCookieName !== undefined && a.primaryCookieName === a.cookieName)
      ctx.addIssue({
        code: "custom",
        path: ["primaryCookieName"],
        message: "primaryCookieName must differ from cookieName",
      });
  });

/** A header condition after defaulting. */
export type HeaderMatch = z.output<typeof HeaderMatchSchema>;
/** A canary route match after defaulting. */
export type RouteMatch = z.output<typeof RouteMatchSchema>;
/** A mirror match after defaulting. */
export type MirrorMatch = z.output<typeof MirrorMatchSchema>;
/** A setHeaderRoute step. */
export type SetHeaderRoute = z.output<typeof SetHeaderRouteSchema>;
/** A setMirror step. */
export type SetMirror = z.output<typeof SetMirrorSchema>;
/** A sessionAffinity after defaulting. */
export type SessionAffinity = z.output<typeof SessionAffinitySchema>;

/** The parts of a step the cross-step rules read. */
interface StepLike {
  setWeight?: number | undefined;
  setHeaderRoute?: { name: string; matches?: unknown[] | undefined } | undefined;
  setMirror?: { name: string; percent?: number | undefined } | undefined;
}

/** Messages of the cross-step rules, shared by CEL, zod and the tests. */
export const ROUTE_STEP_MESSAGES = {
  sharedName: "a name belongs to setHeaderRoute or to setMirror, not both",
  unknownRemoval: "removes a route that no earlier step installed",
  mirrorWithWeight:
    "a mirror copies the primary's requests to a canary that serves no one: remove every mirror (setMirror with its name only) before the first setWeight above 0",
  tooManyInstalls: `at most ${ROUTE_LIMITS.installs} steps install a route (setHeaderRoute with matches, setMirror with a percent)`,
} as const;

/**
 * CEL rules of `strategy.canary` for the managed-route steps. They check what a rule over the whole list can say
 * cheaply (names, removals of names never installed, mirrors before the first positive weight); the order-exact
 * versions are {@link routeStepIssues}, which the controller runs too.
 */
export const ROUTE_STEP_CEL = [
  cel(
    "!has(self.steps) || self.steps.all(h, !has(h.setHeaderRoute) || !self.steps.exists(m, has(m.setMirror) && m.setMirror.name == h.setHeaderRoute.name))",
    ROUTE_STEP_MESSAGES.sharedName,
    ".steps",
  ),
  cel(
    "!has(self.steps) || self.steps.all(r, !has(r.setHeaderRoute) || has(r.setHeaderRoute.matches) || self.steps.exists(s, has(s.setHeaderRoute) && has(s.setHeaderRoute.matches) && s.setHeaderRoute.name == r.setHeaderRoute.name && self.steps.indexOf(s) < self.steps.lastIndexOf(r)))",
    `a setHeaderRoute without matches ${ROUTE_STEP_MESSAGES.unknownRemoval}`,
    ".steps",
  ),
  cel(
    "!has(self.steps) || self.steps.all(r, !has(r.setMirror) || has(r.setMirror.percent) || self.steps.exists(s, has(s.setMirror) && has(s.setMirror.percent) && s.setMirror.name == r.setMirror.name && self.steps.indexOf(s) < self.steps.lastIndexOf(r)))",
    `a setMirror without percent ${ROUTE_STEP_MESSAGES.unknownRemoval}`,
    ".steps",
  ),
  cel(
    `!has(self.steps) || self.steps.filter(s, (has(s.setHeaderRoute) && has(s.setHeaderRoute.matches)) || (has(s.setMirror) && has(s.setMirror.percent))).size() <= ${ROUTE_LIMITS.installs}`,
    ROUTE_STEP_MESSAGES.tooManyInstalls,
    ".steps",
  ),
  cel(
    "!has(self.steps) || !self.steps.exists(s, has(s.setWeight) && s.setWeight > 0) || self.steps.all(m, !has(m.setMirror) || self.steps.lastIndexOf(m) < self.steps.indexOf(self.steps.filter(s, has(s.setWeight) && s.setWeight > 0)[0]))",
    ROUTE_STEP_MESSAGES.mirrorWithWeight,
    ".steps",
  ),
];

/**
 * The cross-step rules in step order: a name is one kind's; a removal names a route installed (and not yet
 * removed) by an earlier step; no mirror is installed while the weight in force is above 0, and every mirror is
 * removed before the weight rises above 0; at most {@link ROUTE_LIMITS.installs} installing steps.
 */
export function routeStepIssues(
  steps: readonly StepLike[],
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const kindOf = new Map<string, "setHeaderRoute" | "setMirror">();
  const active = { setHeaderRoute: new Set<string>(), setMirror: new Set<string>() };
  let weight = 0;
  let installs = 0;
  for (const [i, step] of steps.entries()) {
    if (step.setWeight !== undefined) {
      weight = step.setWeight;
      if (weight > 0 && active.setMirror.size > 0)
        issues.push({ path: ["steps", i, "setWeight"], message: ROUTE_STEP_MESSAGES.mirrorWithWeight });
    }
    for (const kind of ["setHeaderRoute", "setMirror"] as const) {
      const r = step[kind];
      if (!r) continue;
      if ((kindOf.get(r.name) ?? kind) !== kind)
        issues.push({ path: ["steps", i, kind, "name"], message: ROUTE_STEP_MESSAGES.sharedName });
      kindOf.set(r.name, kind);
      const installing = kind === "setHeaderRoute" ? step.setHeaderRoute?.matches : step.setMirror?.percent;
      if (installing !== undefined) {
        installs++;
        active[kind].add(r.name);
        if (kind === "setMirror" && weight > 0)
          issues.push({ path: ["steps", i, kind], message: ROUTE_STEP_MESSAGES.mirrorWithWeight });
      } else if (!active[kind].delete(r.name)) {
        issues.push({
          path: ["steps", i, kind, "name"],
          message: `${kind} "${r.name}" ${ROUTE_STEP_MESSAGES.unknownRemoval} (or it was already removed)`,
        });
      }
    }
  }
  if (installs > ROUTE_LIMITS.installs)
    issues.push({ path: ["steps"], message: ROUTE_STEP_MESSAGES.tooManyInstalls });
  return issues;
}
