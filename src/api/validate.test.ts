// A corpus of invalid Rollout specs: each must be rejected with a message that names the field and the rule.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateRolloutSpec } from "./validate.ts";

const valid = {
  targetRef: { name: "podinfo" },
  service: { port: 80 },
  provider: "istio",
  strategy: { canary: { steps: [{ setWeight: 10 }, { pause: { duration: "1m" } }, { setWeight: 50 }] } },
  analysis: { metrics: [{ name: "success", builtin: "request-success-rate", thresholdRange: { min: 99 } }] },
};

/** Applies a change to a deep copy of the valid spec. */
// biome-ignore lint/suspicious/noExplicitAny: the corpus deliberately writes ill-typed specs.
type Loose = any;

function variant(change: (spec: Loose) => void): unknown {
  const copy: Loose = structuredClone(valid);
  change(copy);
  return copy;
}

const corpus: { name: string; spec: unknown; path: string; message: RegExp }[] = [
  {
    name: "an analysis check that spec.checks does not define",
    spec: variant((s) => (s.analysis.checks = ["load"])),
    path: "spec.analysis.checks[0]",
    message: /"load" names a check that spec\.checks does not define/,
  },
  {
    name: "analysis checks without metrics (no ticks to run them)",
    spec: variant((s) => {
      s.checks = [{ name: "load", webhook: { url: "http://load.test/run" } }];
      s.analysis = { checks: ["load"] };
    }),
    path: "spec.analysis.checks",
    message: /analysis\.checks run at analysis ticks, which need at least one metric/,
  },
  {
    name: "negative weight",
    spec: variant((s) => (s.strategy.canary.steps[0].setWeight = -5)),
    path: "spec.strategy.canary.steps[0].setWeight",
    message: />=0|too small/i,
  },
  {
    name: "weight over 100",
    spec: variant((s) => (s.strategy.canary.steps[2].setWeight = 150)),
    path: "spec.strategy.canary.steps[2].setWeight",
    message: /<=100|too big/i,
  },
  {
    name: "fractional weight",
    spec: variant((s) => (s.strategy.canary.steps[0].setWeight = 12.5)),
    path: "spec.strategy.canary.steps[0].setWeight",
    message: /integer|int/i,
  },
  {
    name: "decreasing weights",
    spec: variant((s) => (s.strategy.canary.steps = [{ setWeight: 50 }, { setWeight: 20 }])),
    path: "spec.strategy.canary.steps[1].setWeight",
    message: /must not decrease/,
  },
  {
    name: "step with both",
    spec: variant((s) => (s.strategy.canary.steps[0].pause = {})),
    path: "spec.strategy.canary.steps[0]",
    message: /exactly one of setWeight, pause, check, setUpdated/,
  },
  {
    name: "steps and shorthand",
    spec: variant((s) => (s.strategy.canary.stepWeight = 10)),
    path: "spec.strategy.canary",
    message: /either steps or stepWeight/,
  },
  {
    name: "stepWeight above maxWeight",
    spec: variant((s) => (s.strategy.canary = { stepWeight: 60, maxWeight: 50 })),
    path: "spec.strategy.canary.stepWeight",
    message: /must not exceed maxWeight/,
  },
  {
    name: "bad cron",
    spec: variant((s) => (s.windows = [{ kind: "allow", schedule: "61 * * * *", duration: "1h" }])),
    path: "spec.windows[0].schedule",
    message: /invalid cron/,
  },
  {
    name: "cron with wrong field count",
    spec: variant((s) => (s.windows = [{ kind: "deny", schedule: "* * *", duration: "1h" }])),
    path: "spec.windows[0].schedule",
    message: /five-field cron/,
  },
  {
    name: "unknown time zone",
    spec: variant(
      (s) =>
        (s.windows = [{ kind: "deny", schedule: "0 18 * * 5", duration: "62h", timeZone: "Mars/Olympus" }]),
    ),
    path: "spec.windows[0].timeZone",
    message: /unknown time zone "Mars\/Olympus"/,
  },
  {
    name: "unknown provider",
    spec: variant((s) => (s.provider = "consul")),
    path: "spec.provider",
    message: /istio.*linkerd.*smi.*gateway-api/,
  },
  {
    name: "missing targetRef",
    spec: variant((s) => delete s.targetRef),
    path: "spec.targetRef",
    message: /object|required/i,
  },
  {
    name: "hostile target name",
    spec: variant((s) => (s.targetRef.name = 'x"} or vector(1) #')),
    path: "spec.targetRef.name",
    message: /lowercase DNS name/,
  },
  {
    name: "bad duration",
    spec: variant((s) => (s.analysis.interval = "5 minutes")),
    path: "spec.analysis.interval",
    message: /duration/,
  },
  {
    name: "webhook check with both url and urlFrom",
    spec: variant((s) => {
      s.checks = [
        {
          name: "smoke",
          webhook: { url: "http://hooks.shop/x", urlFrom: { secretKeyRef: { name: "hook" } } },
        },
      ];
    }),
    path: "spec.checks[0].webhook",
    message: /exactly one of url and urlFrom/,
  },
  {
    name: "webhook check with neither url nor urlFrom",
    spec: variant((s) => {
      s.checks = [{ name: "smoke", webhook: { timeout: "5s" } }];
    }),
    path: "spec.checks[0].webhook",
    message: /exactly one of url and urlFrom/,
  },
  {
    name: "metric with neither builtin nor query",
    spec: variant((s) => delete s.analysis.metrics[0].builtin),
    path: "spec.analysis.metrics[0]",
    message: /exactly one of builtin, query or web/,
  },
  {
    name: "metric with both query and web",
    spec: variant((s) => (s.analysis.metrics[0].web = { url: "http://m/x", jsonPath: "$.v" })),
    path: "spec.analysis.metrics[0]",
    message: /exactly one of builtin, query or web/,
  },
  {
    name: "web metric with a body on GET",
    spec: variant((s) => {
      delete s.analysis.metrics[0].builtin;
      s.analysis.metrics[0].web = { url: "http://m/x", jsonPath: "$.v", body: "{}" };
    }),
    path: "spec.analysis.metrics[0].web.body",
    message: /body needs method POST/,
  },
  {
    name: "web metric setting Host",
    spec: variant((s) => {
      delete s.analysis.metrics[0].builtin;
      s.analysis.metrics[0].web = {
        url: "http://m/x",
        jsonPath: "$.v",
        headers: [{ name: "HOST", value: "x" }],
      };
    }),
    path: "spec.analysis.metrics[0].web.headers[0].name",
    message: /set by the controller/,
  },
  {
    name: "web metric with a filter in its jsonPath",
    spec: variant((s) => {
      delete s.analysis.metrics[0].builtin;
      s.analysis.metrics[0].web = { url: "http://m/x", jsonPath: "$.a[?(@.b)]" };
    }),
    path: "spec.analysis.metrics[0].web.jsonPath",
    message: /filter selectors/,
  },
  {
    name: "web metric with a stray brace in its URL",
    spec: variant((s) => {
      delete s.analysis.metrics[0].builtin;
      s.analysis.metrics[0].web = { url: "http://m/{x}", jsonPath: "$.v" };
    }),
    path: "spec.analysis.metrics[0].web.url",
    message: /braces only as/,
  },
  {
    name: "metric without any bound",
    spec: variant((s) => delete s.analysis.metrics[0].thresholdRange),
    path: "spec.analysis.metrics[0]",
    message: /thresholdRange, compareToPrimary or both/,
  },
  {
    name: "inverted threshold",
    spec: variant((s) => (s.analysis.metrics[0].thresholdRange = { min: 10, max: 5 })),
    path: "spec.analysis.metrics[0].thresholdRange",
    message: /min must not exceed max/,
  },
  {
    name: "duplicate metric names",
    spec: variant((s) => s.analysis.metrics.push(structuredClone(s.analysis.metrics[0]))),
    path: "spec.analysis.metrics[1].name",
    message: /duplicate/,
  },
  {
    name: "port out of range",
    spec: variant((s) => (s.service.port = 70000)),
    path: "spec.service.port",
    message: /65535/,
  },
  {
    name: "service name too long for -primary",
    spec: variant((s) => (s.service.name = `s${"e".repeat(55)}`)),
    path: "spec.service.name",
    message: /at most 55 characters: Vireo creates <name>-primary/,
  },
  {
    name: "service name starting with a digit",
    spec: variant((s) => (s.service.name = "1checkout")),
    path: "spec.service.name",
    message: /DNS-1035/,
  },
  {
    name: "target name too long for -primary",
    spec: variant((s) => {
      s.targetRef.name = "t".repeat(246);
      s.service.name = "podinfo";
    }),
    path: "spec.targetRef.name",
    message: /at most 245 characters: Vireo creates the Deployment <name>-primary/,
  },
  {
    name: "target name that cannot name the default Service",
    spec: variant((s) => (s.targetRef.name = "podinfo.v2")),
    path: "spec.targetRef.name",
    message: /without service.name the Services are named after targetRef.name/,
  },
  {
    name: "target name too long to name the default Service",
    spec: variant((s) => (s.targetRef.name = "t".repeat(56))),
    path: "spec.targetRef.name",
    message: /at most 55 characters; set service.name/,
  },
  {
    name: "Linkerd pathRegex over 1024 once rendered",
    spec: variant((s) => {
      s.provider = "linkerd";
      s.accessPolicy = {
        sources: [{ serviceAccount: "frontend" }],
        routes: [{ pathRegex: "/ok" }, { pathRegex: `/${"a".repeat(1017)}` }],
      };
    }),
    path: "spec.accessPolicy.routes[1].pathRegex",
    message: /at most 1017 characters: it is written as \^\(\?:<pathRegex>\)\.\* into a Linkerd HTTPRoute/,
  },
  {
    name: "empty compareToPrimary",
    spec: variant((s) => (s.analysis.metrics[0].compareToPrimary = {})),
    path: "spec.analysis.metrics[0].compareToPrimary",
    message: /at least one of/,
  },
  {
    name: "a Deployment without service",
    spec: variant((s) => delete s.service),
    path: "spec.service",
    message: /a Deployment target needs service/,
  },
  {
    name: "a traffic split for a DaemonSet",
    spec: inPlace("DaemonSet", (s) => (s.service = { port: 80 })),
    path: "spec.service",
    message: /a DaemonSet gets no traffic split/,
  },
  {
    name: "a DaemonSet with setWeight",
    spec: inPlace("DaemonSet", (s) => s.strategy.canary.steps.push({ setWeight: 10 })),
    path: "spec.service",
    message: /a DaemonSet gets no traffic split/,
  },
  {
    name: "a StatefulSet with setWeight and no service",
    spec: inPlace("StatefulSet", (s) => s.strategy.canary.steps.unshift({ setWeight: 10 })),
    path: "spec.service",
    message:
      /setWeight, setHeaderRoute, setMirror, sessionAffinity, accessPolicy and gatewayApi need service/,
  },
  {
    name: "a StatefulSet with sessionAffinity and no service",
    spec: inPlace("StatefulSet", (s) => (s.strategy.canary.sessionAffinity = { cookieName: "canary" })),
    path: "spec.service",
    message: /sessionAffinity, accessPolicy and gatewayApi need service/,
  },
  {
    name: "a DaemonSet with a header route",
    spec: inPlace("DaemonSet", (s) =>
      s.strategy.canary.steps.unshift({
        setHeaderRoute: { name: "qa", matches: [{ headers: [{ name: "x-qa", value: "1" }] }] },
      }),
    ),
    path: "spec.service",
    message: /a DaemonSet gets no traffic split/,
  },
  {
    name: "a StatefulSet without setUpdated",
    spec: inPlace("StatefulSet", (s) => (s.strategy.canary.steps = [{ pause: {} }])),
    path: "spec.strategy.canary.steps",
    message: /at least one setUpdated/,
  },
  {
    name: "a StatefulSet with the weight shorthand",
    spec: inPlace("StatefulSet", (s) => (s.strategy.canary = { stepWeight: 20 })),
    path: "spec.strategy.canary.steps",
    message: /at least one setUpdated/,
  },
  {
    name: "setUpdated for a Deployment",
    spec: variant((s) => s.strategy.canary.steps.push({ setUpdated: { replicas: 1 } })),
    path: "spec.strategy.canary.steps",
    message: /setUpdated is for StatefulSet and DaemonSet targets/,
  },
  {
    name: "a nodeSelector batch for a StatefulSet",
    spec: inPlace("StatefulSet", (s) =>
      s.strategy.canary.steps.push({ setUpdated: { nodeSelector: { zone: "a" } } }),
    ),
    path: "spec.strategy.canary",
    message: /for DaemonSet targets/,
  },
  {
    name: "blue/green for a StatefulSet",
    spec: inPlace("StatefulSet", (s) => {
      s.service = { port: 80 };
      s.strategy = { blueGreen: {} };
    }),
    path: "spec.strategy.blueGreen",
    message: /strategy.blueGreen is for Deployment targets/,
  },
  {
    name: "blue/green for a DaemonSet",
    spec: inPlace("DaemonSet", (s) => (s.strategy = { blueGreen: {} })),
    path: "spec.strategy.blueGreen",
    message: /strategy.blueGreen is for Deployment targets/,
  },
  {
    name: "setUpdated with both replicas and percent",
    spec: inPlace("DaemonSet", (s) => (s.strategy.canary.steps[0].setUpdated.percent = 10)),
    path: "spec.strategy.canary.steps[0].setUpdated",
    message: /exactly one of replicas, percent or nodeSelector/,
  },
  {
    name: "setUpdated over 100 percent",
    spec: inPlace("StatefulSet", (s) => (s.strategy.canary.steps = [{ setUpdated: { percent: 150 } }])),
    path: "spec.strategy.canary.steps[0].setUpdated.percent",
    message: /<=100|too big/i,
  },
  {
    name: "setUpdated counts that decrease",
    spec: inPlace("StatefulSet", (s) => s.strategy.canary.steps.push({ setUpdated: { replicas: 1 } })),
    path: "spec.strategy.canary.steps[2].setUpdated.replicas",
    message: /cumulative/,
  },
];

/** A valid StatefulSet or DaemonSet spec (no traffic split), changed by `change`. */
function inPlace(kind: string, change: (spec: Loose) => void): unknown {
  return variant((s) => {
    s.targetRef.kind = kind;
    delete s.service;
    s.strategy.canary.steps = [{ setUpdated: { replicas: 2 } }, { pause: { duration: "1m" } }];
    change(s);
  });
}

describe("Rollout spec validation", () => {
  it("accepts the reference spec and fills defaults", () => {
    const r = validateRolloutSpec(valid);
    assert.ok(r.ok);
    assert.equal(r.spec.analysis.noData, "inconclusive");
    assert.equal(r.spec.analysis.failureLimit, 2);
    assert.equal(r.spec.progressDeadlineSeconds, 600);
    assert.equal(r.spec.targetRef.kind, "Deployment");
  });

  it("accepts StatefulSets with and without a traffic split, and DaemonSets in node batches", () => {
    for (const spec of [
      inPlace("StatefulSet", () => {}),
      inPlace("StatefulSet", (s) => {
        s.service = { port: 80 };
        s.strategy.canary.steps.unshift({ setWeight: 10 });
      }),
      inPlace("DaemonSet", (s) => {
        s.strategy.canary.nodeOrder = { label: "topology.kubernetes.io/zone", values: ["a", "b"] };
        s.strategy.canary.steps.push({
          setUpdated: { nodeSelector: { "topology.kubernetes.io/zone": "a" } },
        });
        s.strategy.canary.steps.push({ setUpdated: { percent: 50 } });
      }),
    ]) {
      const r = validateRolloutSpec(spec);
      assert.ok(r.ok, JSON.stringify(r.ok ? "" : r.issues));
    }
  });

  it("accepts names exactly at each limit, and long paths where the provider adds nothing", () => {
    const atLimits = variant((s) => {
      s.targetRef.name = "t".repeat(245);
      s.service.name = `s${"e".repeat(54)}`;
      s.accessPolicy = {
        sources: [{ serviceAccount: "a" }],
        routes: [{ pathRegex: `/${"a".repeat(1023)}` }],
      };
    });
    assert.ok(validateRolloutSpec(atLimits).ok);
    const linkerd = variant((s) => {
      s.provider = "linkerd";
      s.accessPolicy = {
        sources: [{ serviceAccount: "a" }],
        routes: [{ pathRegex: `/${"a".repeat(1016)}` }],
      };
    });
    assert.ok(validateRolloutSpec(linkerd).ok);
  });

  for (const c of corpus) {
    it(`rejects ${c.name} naming ${c.path}`, () => {
      const r = validateRolloutSpec(c.spec);
      assert.equal(r.ok, false, "must be rejected");
      if (r.ok) return;
      const hit = r.issues.find((i) => i.path === c.path);
      assert.ok(hit, `no issue at ${c.path}; got ${JSON.stringify(r.issues)}`);
      assert.match(hit.message, c.message);
    });
  }
});
