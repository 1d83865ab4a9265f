// The largest Rollout specs the schema admits, for the status-budget tests (unit and e2e). Test support only.

import { CHECK_LIMITS, HOOK_POINTS } from "../check-schema.ts";
import { GATEWAY_LIMITS } from "../gateway-route-schema.ts";
import { NOTIFY_EVENTS, type RolloutSpecInput } from "../rollout-schema.ts";
import { ROUTE_LIMITS } from "../traffic-route-schema.ts";

/** `n` characters of `[a-z0-9]`, starting and ending with a letter: a valid DNS label/subdomain part when ≤ 63. */
const text = (n: number, seed: string) => {
  const base = `${seed}${"x".repeat(Math.max(0, n))}`.slice(0, n);
  return base.replace(/[^a-z0-9]/g, "x").replace(/x$/, "z");
};
/** A DNS subdomain of exactly `n` characters (labels of 63 joined by dots). */
const subdomain = (n: number, seed: string) => {
  const labels: string[] = [];
  let left = n;
  while (left > 0) {
    const len = Math.min(63, left);
    labels.push(text(len, `${seed}${labels.length}`));
    left -= len + 1;
  }
  const s = labels.join(".");
  return s.length > n ? s.slice(0, n).replace(/\.$/, "z") : s;
};
const label = (n: number, seed: string) => text(Math.min(n, 63), seed);
/** One second, written in the 32 characters a duration may take. */
const LONGEST_SECOND = `1.${"0".repeat(29)}s`;

/** What the largest spec is for. */
export type LargestSpecOptions = {
  /**
   * `gateway-api`: every field at its maximum (gatewayApi and accessPolicy together, which the controller refuses
   * at run time: Gateway API has no authorization API); `istio`: the largest spec the controller can carry through
   * a rollout (no gatewayApi, which only gateway-api takes).
   */
  provider: "gateway-api" | "istio";
  /** The Prometheus address (padded with a path to the schema's 2,048 characters, which it answers with 404). */
  prometheusAddress: string;
  /**
   * Names the cluster must be able to create objects from (the target Deployment and root Service, and no Service
   * port name, which the API server limits to 15 characters); without them, every name is at its schema maximum.
   */
  runnable?: { target: string; service: string };
  /** Analysis interval; default 1s. */
  interval?: string;
};

/** The largest spec the Rollout schema admits (every list full, every string at its maximum length). */
export function largestSpec(o: LargestSpecOptions): RolloutSpecInput {
  const address = `${o.prometheusAddress.replace(/\/$/, "")}/`;
  // A generated HTTPRoute holds 64 matches a rule and 128 in all (gateway-route-budget.ts): the split rule's 64 path
  // matches leave room for one header route of one match and no sticky cookie rules, more bytes than the other ways.
  const gateway = o.provider === "gateway-api";
  const routeMatches = gateway ? 1 : ROUTE_LIMITS.matches;
  const headerRoutes = Array.from({ length: gateway ? 1 : ROUTE_LIMITS.installs }, (_, r) => ({
    name: text(ROUTE_LIMITS.nameLength, `route${r}`),
    matches: Array.from({ length: routeMatches }, (_, m) => ({
      headers: Array.from({ length: ROUTE_LIMITS.headersPerMatch }, (_, h) => ({
        name: text(ROUTE_LIMITS.headerName, `x-h${r}${m}${h}`),
        type: "RegularExpression" as const,
        value: `^${text(ROUTE_LIMITS.headerValue - 2, "v")}$`,
      })),
      cookie: {
        name: text(ROUTE_LIMITS.headerName, `c${r}${m}`),
        value: text(ROUTE_LIMITS.headerValue, "v"),
      },
    })),
  }));
  const metrics = Array.from({ length: 20 }, (_, i) => {
    const name = label(63, `metric${String(i).padStart(2, "0")}`);
    // A PromQL comment pads the query to the schema's 4,096 characters.
    const body = `sum(rate(http_requests_total{namespace="{{ namespace }}",pod=~"{{ target }}-.*"}[{{ interval }}])) #`;
    return {
      name,
      query: `${body}${"q".repeat(4096 - body.length)}`,
      window: "1m",
      thresholdRange: { min: -1e308, max: 1e308 },
      reduce: "sum" as const,
    };
  });
  return {
    targetRef: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: o.runnable?.target ?? subdomain(245, "target"),
    },
    service: {
      name: o.runnable?.service ?? `s${text(54, "service")}`,
      port: 80,
      targetPort: 9898,
      ...(o.runnable ? {} : { portName: label(63, "http") }),
      // namespace/name: a 63-character namespace, a name filling the rest of the 253.
      gateways: Array.from({ length: 16 }, (_, i) => `${label(63, `ns${i}`)}/${subdomain(189, `gw${i}`)}`),
      hosts: Array.from({ length: 16 }, (_, i) => subdomain(253, `host${i}`)),
    },
    provider: o.provider,
    ...(o.provider === "gateway-api"
      ? {
          gatewayApi: {
            parentRefs: Array.from({ length: GATEWAY_LIMITS.parentRefs }, (_, i) => ({
              name: subdomain(253, `gateway${i}`),
              namespace: label(63, `gatewayns${i}`),
              sectionName: subdomain(253, `section${i}`),
              port: 443,
            })),
            hostnames: Array.from({ length: GATEWAY_LIMITS.hostnames }, (_, i) => subdomain(253, `name${i}`)),
            matches: Array.from({ length: GATEWAY_LIMITS.matches }, (_, i) => ({
              path: { type: "PathPrefix" as const, value: `/${text(GATEWAY_LIMITS.pathValue - 1, `p${i}`)}` },
            })),
          },
        }
      : {}),
    strategy: {
      canary: {
        steps: [
          // Every route a Rollout may install, each at its largest, then removed: the largest steps there are.
          ...headerRoutes.map((r) => ({ setHeaderRoute: r })),
          ...headerRoutes.map((r) => ({ setHeaderRoute: { name: r.name } })),
          ...Array.from({ length: 50 - 2 * headerRoutes.length }, (_, i) =>
            i % 2 === 0 ? { setWeight: Math.min(99, 2 * i + 1) } : { pause: { duration: LONGEST_SECOND } },
          ),
        ],
        ...(gateway
          ? {}
          : {
              sessionAffinity: {
                cookieName: text(64, "cookie"),
                primaryCookieName: text(64, "primary"),
                pinPrimary: true,
                maxAge: LONGEST_SECOND,
                path: `/${text(255, "path")}`,
                domain: subdomain(253, "domain"),
                sameSite: "None",
                secure: true,
                httpOnly: true,
              },
            }),
      },
    },
    analysis: {
      interval: o.interval ?? "1s",
      failureLimit: 100,
      consecutiveErrorLimit: 100,
      inconclusiveLimit: 1000,
      noData: "inconclusive",
      // The longest duration string, and far out of any rollout's reach (a budget never runs out in these tests).
      maxStepDuration: `${"9".repeat(31)}h`,
      noEvidence: "rollback",
      historyLimit: 50,
      labels: { workload: `w${"_".repeat(127)}`, namespace: `n${"_".repeat(127)}` },
      prometheus: {
        // Short lowercase path segments, which log and status sanitizing keep (long ones read as tokens).
        address: `${address}${"prometheus/path/".repeat(128)}`.slice(0, 2048),
        timeout: LONGEST_SECOND,
        insecureSkipVerify: false,
      },
      metrics,
      checks: Array.from({ length: CHECK_LIMITS.perPoint }, (_, i) =>
        label(63, `check${i % CHECK_LIMITS.checks}`),
      ),
    },
    progressDeadlineSeconds: 86_400,
    windows: Array.from({ length: 20 }, () => ({
      kind: "deny" as const,
      schedule: `0 0 1 1 ${" ".repeat(128 - 11)}*`,
      duration: LONGEST_SECOND,
      timeZone: "America/Argentina/ComodRivadavia",
    })),
    accessPolicy: {
      sources: Array.from({ length: 100 }, (_, i) => ({
        serviceAccount: label(63, `sa${i}`),
        namespace: label(63, `ns${i}`),
      })),
      routes: Array.from({ length: 50 }, (_, i) => ({
        pathRegex: `/${text(1023, `r${i}`)}`,
        methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"] as const,
      })),
    },
    notifications: {
      slack: { secretRef: { name: subdomain(253, "slack"), key: text(253, "key") } },
      webhook: { secretRef: { name: subdomain(253, "webhook"), key: text(253, "key") } },
      events: [...NOTIFY_EVENTS],
      minSeverity: "info",
    },
    checks: Array.from({ length: CHECK_LIMITS.checks }, (_, i) => {
      const name = label(63, `check${i}`);
      if (i % 2 === 0)
        return {
          name,
          webhook: {
            url: `http://hooks.example/${"h".repeat(2048 - 21)}`,
            timeout: LONGEST_SECOND,
            retries: 10,
            metadata: Object.fromEntries(
              Array.from({ length: CHECK_LIMITS.metadataEntries }, (_, k) => [
                label(63, `key${k}`),
                "v".repeat(CHECK_LIMITS.metadataValue),
              ]),
            ),
          },
          onFailure: "continue" as const,
        };
      // A command padded to the Job spec's byte limit.
      const pad = CHECK_LIMITS.jobSpecBytes - 120;
      return {
        name,
        job: {
          serviceAccountName: subdomain(253, `sa${i}`),
          timeout: LONGEST_SECOND,
          spec: {
            template: { spec: { containers: [{ name: "t", image: "tests:1", args: ["a".repeat(pad)] }] } },
          },
        },
        onFailure: "continue" as const,
      };
    }),
    hooks: Object.fromEntries(
      HOOK_POINTS.map((p) => [
        p,
        Array.from({ length: CHECK_LIMITS.perPoint }, (_, i) => label(63, `check${i % CHECK_LIMITS.checks}`)),
      ]),
    ),
    suspend: false,
    skipAnalysis: false,
  };
}
