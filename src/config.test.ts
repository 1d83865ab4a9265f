import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startFakePrometheus, vector } from "./analysis/testing/prom-server.ts";
import { RolloutSpecSchema } from "./api/rollout-schema.ts";
import { LOADGEN_USAGE, loadConfig, loadLoadgenConfig } from "./config.ts";
import { PrometheusAnalysisRunner } from "./controller/analysis-runner.ts";
import { loopbackEgress } from "./net/testing/loopback.ts";
import { workloadNames } from "./workload/names.ts";

describe("loadConfig: --allowed-hosts and --allowed-gateways", () => {
  it("allow nothing beyond a Rollout's own by default", () => {
    assert.deepEqual(loadConfig([], {}).exposure, { hosts: [], gateways: [] });
  });

  it("take repeated and comma-separated [namespace=]entries, else VIREO_ALLOWED_HOSTS / VIREO_ALLOWED_GATEWAYS", () => {
    const c = loadConfig(
      [
        "--allowed-hosts=shop=shop.example.com,*.{namespace}.apps.example.com",
        "--allowed-hosts=pay=*.pay.io",
      ],
      { VIREO_ALLOWED_GATEWAYS: "shop=istio-system/public,infra/*" },
    );
    assert.deepEqual(c.exposure.hosts, [
      { namespace: "shop", pattern: "shop.example.com" },
      { namespace: "*", pattern: "*.{namespace}.apps.example.com" },
      { namespace: "pay", pattern: "*.pay.io" },
    ]);
    assert.deepEqual(c.exposure.gateways, [
      { namespace: "shop", pattern: "istio-system/public" },
      { namespace: "*", pattern: "infra/*" },
    ]);
  });

  it("name the flag for an entry of another shape", () => {
    assert.throws(() => loadConfig(["--allowed-gateways=public"], {}), /allowed-gateways: "public" is not/);
    assert.throws(() => loadConfig(["--allowed-hosts=http://x"], {}), /allowed-hosts: "http:\/\/x" is not/);
  });
});

describe("loadConfig: --prometheus-scrape-interval", () => {
  it("is unset by default (the 15 s default applies downstream)", () => {
    assert.equal(loadConfig([], {}).prometheusScrapeIntervalMs, undefined);
  });

  it("parses a duration from the flag, or from VIREO_PROMETHEUS_SCRAPE_INTERVAL", () => {
    assert.equal(loadConfig(["--prometheus-scrape-interval=1s"], {}).prometheusScrapeIntervalMs, 1000);
    assert.equal(
      loadConfig([], { VIREO_PROMETHEUS_SCRAPE_INTERVAL: "30s" }).prometheusScrapeIntervalMs,
      30_000,
    );
    assert.equal(
      loadConfig(["--prometheus-scrape-interval=500ms"], { VIREO_PROMETHEUS_SCRAPE_INTERVAL: "30s" })
        .prometheusScrapeIntervalMs,
      500,
      "the flag wins over the environment",
    );
  });

  it("names the flag when the value is not a duration", () => {
    assert.throws(
      () => loadConfig(["--prometheus-scrape-interval=15"], {}),
      /prometheus-scrape-interval: "15" is not a duration/,
    );
  });
});

describe("loadConfig: --allowed-prometheus-urls", () => {
  it("is empty by default (only --prometheus-url is allowed downstream)", () => {
    assert.deepEqual(loadConfig(["--prometheus-url=http://prom:9090"], {}).allowedPrometheusUrls, []);
  });

  it("takes comma-separated and repeated flags, else VIREO_ALLOWED_PROMETHEUS_URLS, normalized", () => {
    assert.deepEqual(
      loadConfig(
        [
          "--allowed-prometheus-urls=http://a:9090, https://B.example/t",
          "--allowed-prometheus-urls=http://c",
        ],
        { VIREO_ALLOWED_PROMETHEUS_URLS: "http://ignored" },
      ).allowedPrometheusUrls,
      ["http://a:9090/", "https://b.example/t", "http://c/"],
    );
    assert.deepEqual(
      loadConfig([], { VIREO_ALLOWED_PROMETHEUS_URLS: "http://x,http://y" }).allowedPrometheusUrls,
      ["http://x/", "http://y/"],
    );
  });

  it("names the flag for an entry that cannot be a prefix", () => {
    assert.throws(
      () => loadConfig(["--allowed-prometheus-urls=http://u:p@prom"], {}),
      /invalid configuration: allowed-prometheus-urls: a prefix must not carry credentials/,
    );
    assert.throws(
      () => loadConfig(["--allowed-prometheus-urls=prom:9090"], {}),
      /allowed-prometheus-urls: prom: is not http\(s\)/,
    );
  });
});

describe("PrometheusAnalysisRunner address allow-list", () => {
  it("sends no request for a Rollout address outside the allow-list and reports the flag", async () => {
    const allowed = await startFakePrometheus(() => ({ body: vector("100") }));
    const other = await startFakePrometheus(() => ({ body: vector("100") }));
    try {
      const specFor = (address: string) =>
        RolloutSpecSchema.parse({
          targetRef: { name: "app" },
          service: { port: 80 },
          provider: "istio",
          strategy: { canary: { stepWeight: 10 } },
          analysis: {
            prometheus: { address },
            metrics: [
              { name: "ok", builtin: "request-success-rate", thresholdRange: { min: 99 } },
              { name: "ok2", builtin: "request-success-rate", thresholdRange: { min: 99 } },
            ],
          },
        });
      const runner = new PrometheusAnalysisRunner({
        defaults: { address: "http://prom.invalid:9090", allowedUrls: [allowed.url] },
        readSecret: async () => undefined,
        metricsMesh: "istio",
        egress: loopbackEgress(),
      });
      const names = workloadNames("ns", "app", specFor(other.url));
      const refused = await runner.measure(specFor(other.url), names, AbortSignal.timeout(5000));
      assert.equal(refused.length, 2);
      for (const m of refused) {
        assert.equal(m.value, null);
        assert.match(m.error ?? "", /not allowed by the controller's --allowed-prometheus-urls/);
      }
      assert.equal(other.requests.length, 0, "no request reached the disallowed server");
      const ok = await runner.measure(specFor(allowed.url), names, AbortSignal.timeout(5000));
      assert.deepEqual(
        ok.map((m) => [m.value, m.error]),
        [
          [100, undefined],
          [100, undefined],
        ],
      );
      assert.ok(allowed.requests.length >= 2, "the allowed server was queried");
    } finally {
      await allowed.close();
      await other.close();
    }
  });
});

describe("PrometheusAnalysisRunner scrape interval", () => {
  it("widens short windows to twice the configured scrape interval, else twice 15 s", async () => {
    const prom = await startFakePrometheus(() => ({ body: vector("100") }));
    try {
      const spec = RolloutSpecSchema.parse({
        targetRef: { name: "app" },
        service: { port: 80 },
        provider: "istio",
        strategy: { canary: { stepWeight: 10 } },
        analysis: {
          interval: "1s",
          metrics: [{ name: "ok", builtin: "request-success-rate", thresholdRange: { min: 99 } }],
        },
      });
      const names = workloadNames("ns", "app", spec);
      const noSecrets = async () => undefined;
      const windows: string[] = [];
      for (const runner of [
        new PrometheusAnalysisRunner({
          defaults: { address: prom.url },
          readSecret: noSecrets,
          metricsMesh: "istio",
          egress: loopbackEgress(),
          scrapeIntervalMs: 1000,
        }),
        new PrometheusAnalysisRunner({
          defaults: { address: prom.url },
          readSecret: noSecrets,
          metricsMesh: "istio",
          egress: loopbackEgress(),
        }),
      ]) {
        const before = prom.requests.length;
        const [m] = await runner.measure(spec, names, AbortSignal.timeout(5000));
        assert.equal(m?.value, 100, m?.error);
        const query = prom.requests.slice(before).at(-1)?.params.query ?? "";
        windows.push(/\[(\w+)\]/.exec(query)?.[1] ?? query);
      }
      assert.deepEqual(windows, ["2s", "30s"]);
    } finally {
      await prom.close();
    }
  });
});

describe("loadLoadgenConfig", () => {
  it("its namespace from $POD_NAMESPACE, the caps' defaults, flags over them", () => {
    const c = loadLoadgenConfig([], { POD_NAMESPACE: "shop" });
    assert.equal(c.namespace, "shop");
    assert.equal(c.targetHost, "{service}.{namespace}.svc.cluster.local");
    assert.deepEqual([c.maxRps, c.maxDurationMs, c.maxRuns, c.maxInFlight], [100, 600_000, 4, 64]);
    const f = loadLoadgenConfig(["--namespace=pay", "--max-duration=90s", "--via=http://gw.infra:8000"], {});
    assert.deepEqual([f.namespace, f.maxDurationMs, f.via], ["pay", 90_000, "http://gw.infra:8000"]);
  });

  it("its egress: --egress-allow/--egress-deny ranges and the API server from KUBERNETES_SERVICE_HOST/PORT", () => {
    const c = loadLoadgenConfig(
      ["--egress-allow=127.0.0.2,10.1.0.0/16", "--egress-allow=::1", "--egress-deny=10.2.0.0/16"],
      { POD_NAMESPACE: "shop", KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
    );
    assert.deepEqual(c.egressAllow, ["127.0.0.2/32", "10.1.0.0/16", "0:0:0:0:0:0:0:1/128"]);
    assert.deepEqual(c.egressDeny, ["10.2.0.0/16"]);
    assert.deepEqual([c.serviceHost, c.servicePort], ["10.96.0.1", "443"]);
    const outside = loadLoadgenConfig([], { POD_NAMESPACE: "shop" });
    assert.deepEqual([outside.egressAllow, outside.serviceHost], [[], undefined]);
    assert.throws(
      () => loadLoadgenConfig(["--egress-deny=10.0.0.0/99"], { POD_NAMESPACE: "a" }),
      /egress-deny: .*prefix length/,
    );
  });

  it("refuses no namespace, a --via with a path, a template without {service}, and says --help", () => {
    assert.throws(() => loadLoadgenConfig([], {}), /namespace: must be a namespace name/);
    assert.throws(
      () => loadLoadgenConfig(["--via=http://gw/x"], { POD_NAMESPACE: "a" }),
      /via: must be an http/,
    );
    assert.throws(
      () => loadLoadgenConfig(["--target-host=x.example"], { POD_NAMESPACE: "a" }),
      /\{service\}/,
    );
    assert.throws(() => loadLoadgenConfig(["--max-duration=soon"], { POD_NAMESPACE: "a" }), /max-duration/);
    assert.throws(
      () => loadLoadgenConfig(["--help"], {}),
      (e: Error) => e.message === LOADGEN_USAGE,
    );
  });
});
