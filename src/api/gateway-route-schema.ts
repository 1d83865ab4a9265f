// The `spec.gatewayApi` part of a Rollout: Gateway parents (north-south canaries) or a user-owned HTTPRoute.
// Limits and CEL rules follow the upstream Gateway API v1.4.0 standard-channel HTTPRoute CRD, so a Rollout the API
// server accepts never renders a route the HTTPRoute CRD refuses.
import * as z from "zod";

/** Gateway API hostname: RFC 1123, optionally one leading `*.` label; no IPs (upstream pattern, ≤ 253). */
const HOSTNAME = "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** Gateway API SectionName / route rule name (upstream pattern, ≤ 253). */
const SECTION_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/** Upstream limits (HTTPRoute v1.4.0 CRD): parentRefs ≤ 32, hostnames ≤ 16, path values ≤ 1024, rules ≤ 16. */
export const GATEWAY_LIMITS = {
  parentRefs: 32,
  hostnames: 16,
  matches: 64,
  /** Matches across all rules of a route. */
  routeMatches: 128,
  pathValue: 1024,
  rules: 16,
} as const;

const cel = (rule: string, message: string, fieldPath?: string) => ({
  rule,
  message,
  ...(fieldPath ? { fieldPath } : {}),
});

const sectionName = (what: string) =>
  z.string().min(1).max(253).regex(new RegExp(SECTION_NAME), "must be a lowercase DNS name").describe(what);

/** One Gateway the generated HTTPRoute attaches to. */
export const GatewayParentRefSchema = z
  .object({
    name: sectionName("Name of the Gateway."),
    namespace: z
      .string()
      .min(1)
      .max(63)
      .regex(new RegExp(DNS_LABEL), "must be a lowercase DNS label")
      .optional()
      .describe("Namespace of the Gateway. Defaults to the Rollout's namespace."),
    sectionName: sectionName(
      "Listener of the Gateway to attach to. Without it, every listener that allows the route.",
    ).optional(),
    port: z.number().int().min(1).max(65535).optional().describe("Attach only to listeners on this port."),
  })
  .describe("A Gateway parent of the generated HTTPRoute (group gateway.networking.k8s.io, kind Gateway).");

/** Path that selects the traffic the canary rule splits. */
export const GatewayPathMatchSchema = z
  .object({
    type: z.enum(["PathPrefix", "Exact"]).default("PathPrefix").describe("How the path is matched."),
    value: z
      .string()
      .min(1)
      .max(GATEWAY_LIMITS.pathValue)
      .describe(`Absolute path starting with /; at most ${GATEWAY_LIMITS.pathValue} characters.`)
      .meta({
        "x-kubernetes-validations": [
          cel("self.startsWith('/')", "must be an absolute path starting with /"),
          cel(
            "!self.contains('//') && !self.contains('/./') && !self.contains('/../') && !self.contains('%2f') && !self.contains('%2F') && !self.contains('#') && !self.endsWith('/..') && !self.endsWith('/.')",
            "must not contain //, /./, /../, %2f, %2F or #, nor end in /. or /.. (as the HTTPRoute CRD requires)",
          ),
        ],
      })
      .refine((v) => v.startsWith("/"), { message: "must be an absolute path starting with /" })
      .refine((v) => !/\/\/|\/\.\/|\/\.\.\/|%2f|#|\/\.\.?$/i.test(v), {
        message:
          "must not contain //, /./, /../, %2f, %2F or #, nor end in /. or /.. (as the HTTPRoute CRD requires)",
      }),
  })
  .describe("A path match of the canary rule.");

/** The existing HTTPRoute whose rule Vireo re-weights (user-owned route mode). */
export const UserHttpRouteSchema = z
  .object({
    name: sectionName("Name of the HTTPRoute, in the Rollout's namespace."),
    ruleName: sectionName(
      "Name (spec.rules[].name) of the rule whose backendRefs Vireo weights. Defaults to the first rule.",
    ).optional(),
    ruleIndex: z
      .number()
      .int()
      .min(0)
      .max(GATEWAY_LIMITS.rules - 1)
      .optional()
      .describe("Index of that rule, for routes whose rules have no names. Defaults to 0."),
  })
  .describe(
    "An HTTPRoute someone else owns (GitOps). Its rule must reference <service>-primary and <service>-canary; Vireo changes only those two backendRefs' weights, by server-side apply as field manager vireo.",
  )
  .meta({
    "x-kubernetes-validations": [
      cel("!(has(self.ruleName) && has(self.ruleIndex))", "set ruleName or ruleIndex, not both"),
    ],
  })
  .refine((r) => !(r.ruleName !== undefined && r.ruleIndex !== undefined), {
    message: "set ruleName or ruleIndex, not both",
  });

const EXCLUSIVE =
  "!has(self.httpRoute) || (!has(self.parentRefs) && !has(self.hostnames) && !has(self.matches))";
const EXCLUSIVE_MESSAGE =
  "httpRoute (a route you own) excludes parentRefs, hostnames and matches (a route Vireo generates)";

/** `spec.gatewayApi`: how provider gateway-api attaches the split. */
export const GatewayApiSchema = z
  .object({
    parentRefs: z
      .array(GatewayParentRefSchema)
      .min(1)
      .max(GATEWAY_LIMITS.parentRefs)
      .optional()
      .describe(
        "Gateways the generated HTTPRoute <rollout> attaches to (ingress canaries). Without them the route's parent is the root Service (GAMMA, east-west).",
      ),
    hostnames: z
      .array(
        z
          .string()
          .min(1)
          .max(253)
          .regex(new RegExp(HOSTNAME), "must be a hostname (optionally *.), not an IP"),
      )
      .max(GATEWAY_LIMITS.hostnames)
      .optional()
      .describe("Hostnames of the generated HTTPRoute."),
    matches: z
      .array(z.object({ path: GatewayPathMatchSchema }))
      .min(1)
      .max(GATEWAY_LIMITS.matches)
      .optional()
      .describe("Path matches of the split rule. Defaults to PathPrefix /."),
    httpRoute: UserHttpRouteSchema.optional(),
  })
  .describe("Gateway API attachment (provider gateway-api only).")
  .meta({
    "x-kubernetes-validations": [
      cel(EXCLUSIVE, EXCLUSIVE_MESSAGE),
      cel(
        "!has(self.hostnames) || has(self.parentRefs)",
        "hostnames need Gateway parentRefs (a Service parent matches no hostname)",
        ".hostnames",
      ),
    ],
  })
  .superRefine((g, ctx) => {
    if (g.httpRoute && (g.parentRefs || g.hostnames || g.matches))
      ctx.addIssue({ code: "custom", path: ["httpRoute"], message: EXCLUSIVE_MESSAGE });
    if (g.hostnames && !g.parentRefs)
      ctx.addIssue({
        code: "custom",
        path: ["hostnames"],
        message: "hostnames need Gateway parentRefs (a Service parent matches no hostname)",
      });
    // Checked by the controller only (phase Invalid): as CEL, a pairwise rule over 32 parentRefs costs more than
    // the API server's budget for the whole CRD.
    const seen = new Set<string>();
    for (const [i, p] of (g.parentRefs ?? []).entries()) {
      const key = JSON.stringify([p.name, p.namespace ?? "", p.sectionName ?? "", p.port ?? 0]);
      if (seen.has(key))
        ctx.addIssue({
          code: "custom",
          path: ["parentRefs", i],
          message: "parentRefs must be unique (name, namespace, sectionName, port)",
        });
      seen.add(key);
    }
  });

/** A Rollout's `spec.gatewayApi`. */
export type GatewayApiSpec = z.infer<typeof GatewayApiSchema>;
