import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ARGO_GROUP, type TemplateGroup, type TemplateKind } from "../../api/constants.ts";
import { type RolloutSpec, RolloutSpecSchema } from "../../api/rollout-schema.ts";
import type { AnalysisTemplateObject } from "../../api/template-schema.ts";
import { translateArgoTemplate } from "./argo.ts";
import { resolveTemplates, type TemplateLookup } from "./resolve.ts";

const NS = "shop";
const CTX = { interval: "30s", failureLimit: 2 };

type Obj = Record<string, unknown>;

const rollout = (templates: unknown[]): RolloutSpec =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "smi",
    strategy: { canary: { stepWeight: 10 } },
    analysis: { interval: "30s", failureLimit: 2, templates },
  });

/** An Argo ClusterAnalysisTemplate in the shape Argo's docs use. */
const SUCCESS_RATE = {
  args: [{ name: "service-name" }, { name: "min", value: "0.95" }],
  metrics: [
    {
      name: "success-rate",
      interval: "30s",
      failureLimit: 1,
      successCondition: "result[0] >= 0.95",
      provider: {
        prometheus: {
          address: "http://prometheus.monitoring:9090",
          query:
            'sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m])) / sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]))',
        },
      },
    },
  ],
};

/** A lookup that serves `spec` as the Argo template `kind` `name` (and nothing of Vireo's group). */
const argoLookup =
  (kind: TemplateKind, name: string, spec: unknown): TemplateLookup =>
  (k: TemplateKind, namespace: string | undefined, n: string, group: TemplateGroup) =>
    group === ARGO_GROUP && k === kind && n === name
      ? ({ metadata: { name, ...(namespace ? { namespace } : {}) }, spec } as AnalysisTemplateObject)
      : undefined;

const ref = (args: { name: string; value: string }[] = [{ name: "service-name", value: "checkout" }]) => ({
  apiGroup: ARGO_GROUP,
  kind: "ClusterAnalysisTemplate",
  name: "success-rate",
  args,
});

const resolve = (spec: unknown, args?: { name: string; value: string }[]) =>
  resolveTemplates(rollout([ref(args)]), NS, argoLookup("ClusterAnalysisTemplate", "success-rate", spec));
const messages = (r: ReturnType<typeof resolveTemplates>) => (r.ok ? [] : r.issues.map((i) => i.message));

describe("Argo AnalysisTemplates", () => {
  it("a prometheus metric with args becomes a query with the args substituted and a thresholdRange", () => {
    const r = resolve(SUCCESS_RATE);
    assert.ok(r.ok, JSON.stringify(messages(r)));
    const m = r.spec.analysis.metrics.find((x) => x.name === "success-rate");
    assert.ok(m?.query?.includes('destination_service=~"checkout"'), m?.query);
    assert.deepEqual(m?.thresholdRange, { min: 0.95 });
    assert.equal(r.spec.analysis.prometheus?.address, "http://prometheus.monitoring:9090");
  });

  it("a web metric: url, method, headers, jsonBody, timeoutSeconds and a braced jsonPath", () => {
    const r = resolve({
      args: [{ name: "service-name" }],
      metrics: [
        {
          name: "score",
          failureCondition: "result < 7",
          provider: {
            web: {
              url: "http://scores.shop/api/{{args.service-name}}",
              method: "POST",
              headers: [{ key: "X-Team", value: "shop" }],
              jsonBody: { service: "x" },
              timeoutSeconds: 3,
              jsonPath: "{$.data.score}",
            },
          },
        },
      ],
    });
    assert.ok(r.ok, JSON.stringify(messages(r)));
    const m = r.spec.analysis.metrics.find((x) => x.name === "score");
    assert.deepEqual(m?.web, {
      url: "http://scores.shop/api/checkout",
      method: "POST",
      headers: [{ name: "X-Team", value: "shop" }],
      body: '{"service":"x"}',
      timeout: "3s",
      jsonPath: "$.data.score",
    });
    assert.deepEqual(m?.thresholdRange, { min: 7 });
  });

  it("refuses, naming the template and the field, what Vireo cannot honour", () => {
    const metric = (
      extra: Record<string, unknown>,
      provider: unknown = SUCCESS_RATE.metrics[0]?.provider,
    ) => ({
      args: [{ name: "service-name" }],
      metrics: [{ name: "m", successCondition: "result >= 1", provider, ...extra }],
    });
    const cases: [unknown, RegExp][] = [
      [
        metric({}, { job: { spec: {} } }),
        /spec\.metrics\[0\] \(metric m\)\.provider\.job is not supported: .*job check/,
      ],
      [metric({}, { datadog: { query: "x" } }), /provider\.datadog is not supported/],
      [
        metric({}, { prometheus: { query: "up", authentication: {} } }),
        /provider\.prometheus\.authentication/,
      ],
      [metric({ count: 5 }), /\.count is not supported/],
      [metric({ consecutiveErrorLimit: 2 }), /\.consecutiveErrorLimit is not supported per metric/],
      [metric({ inconclusiveLimit: 2 }), /\.inconclusiveLimit is not supported per metric/],
      [metric({ interval: "1m" }), /\.interval "1m" differs from the Rollout's analysis\.interval \(30s\)/],
      [metric({ failureLimit: 3 }), /\.failureLimit 3 differs .* set it to 1/],
      [metric({ successCondition: "all(result, {# > 1})" }), /successCondition .* is not one of/],
      [{ ...metric({}), dryRun: [{ metricName: "m" }] }, /spec\.dryRun dry-run metrics are not supported/],
      [{ ...metric({}), measurementRetention: [] }, /spec\.measurementRetention is not supported/],
      [
        {
          ...metric({}),
          args: [{ name: "service-name", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
        },
        /spec\.args\[0\]\.valueFrom \(argument service-name\) is not supported/,
      ],
    ];
    for (const [spec, why] of cases) {
      const got = messages(resolve(spec));
      assert.ok(
        got.some(
          (m) => m.startsWith("Argo ClusterAnalysisTemplate success-rate cannot be used") && why.test(m),
        ),
        `${why}: ${JSON.stringify(got)}`,
      );
    }
  });

  it("an unsupported provider is the one reason given, without its conditions", () => {
    const got = messages(resolve({ metrics: [{ name: "smoke", provider: { job: { spec: {} } } }] }));
    assert.equal(got.length, 1);
    assert.doesNotMatch(got[0] ?? "", /successCondition/);
  });

  it("missing template or argument: refused with the Argo template named", () => {
    assert.match(
      messages(resolveTemplates(rollout([ref()]), NS, () => undefined)).join(),
      /Argo ClusterAnalysisTemplate success-rate not found/,
    );
    assert.match(messages(resolve(SUCCESS_RATE, [])).join(), /needs argument service-name/);
  });

  it("a Vireo template of the same name is not read for an argoproj.io reference, nor the other way round", () => {
    const vireoOnly: TemplateLookup = (_k, _n, _name, group) =>
      group === ARGO_GROUP
        ? undefined
        : ({ metadata: { name: "success-rate" }, spec: {} } as AnalysisTemplateObject);
    assert.match(messages(resolveTemplates(rollout([ref()]), NS, vireoOnly)).join(), /not found/);
    const { apiGroup: _, ...vireoRef } = ref();
    const r = resolveTemplates(
      rollout([vireoRef]),
      NS,
      argoLookup("ClusterAnalysisTemplate", "success-rate", SUCCESS_RATE),
    );
    assert.match(messages(r).join(), /^ClusterAnalysisTemplate success-rate not found/);
  });

  it("an AnalysisTemplate of another namespace is refused before it is read", () => {
    const r = resolveTemplates(
      rollout([{ apiGroup: ARGO_GROUP, name: "t", namespace: "other", args: [] }]),
      NS,
      () => assert.fail("not read"),
    );
    assert.match(messages(r).join(), /is in another namespace/);
  });

  it("property: no field is dropped silently — any unknown field at any level is refused by its path", () => {
    const key = fc.stringMatching(/^[a-z][a-zA-Z]{0,12}$/);
    fc.assert(
      fc.property(key, fc.constantFrom("spec", "metric", "prometheus", "web", "arg"), (k, where) => {
        const arg: Obj = { name: "a", value: "1" };
        const prometheus: Obj = { query: "up" };
        const web: Obj = { url: "http://x", jsonPath: "$.a" };
        const metric: Obj = { name: "p", successCondition: "result >= 1", provider: { prometheus } };
        const spec: Obj = {
          args: [arg],
          metrics: [metric, { name: "w", successCondition: "result >= 1", provider: { web } }],
        };
        const target = { spec, metric, prometheus, web, arg }[where];
        const before = Object.keys(target);
        if (before.includes(k)) return;
        target[k] = 1;
        const r = translateArgoTemplate(spec, CTX);
        const known: Record<string, string[]> = {
          spec: ["args", "metrics"],
          metric: ["name", "provider", "successCondition", "failureCondition", "interval", "failureLimit"],
          prometheus: ["query", "address", "timeout", "insecure"],
          web: ["url", "method", "headers", "body", "jsonBody", "timeoutSeconds", "jsonPath"],
          arg: ["name", "value"],
        };
        if ((known[where] ?? []).includes(k)) return;
        assert.equal(r.ok, false, `${where}.${k} accepted`);
        assert.ok(
          !r.ok && r.messages.some((m) => m.includes(`.${k} `) || m.includes(`.${k}`)),
          JSON.stringify(r),
        );
      }),
    );
  });
});
