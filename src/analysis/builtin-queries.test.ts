import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { builtinQuery, effectiveWindowMs } from "./builtin-queries.ts";
import { PromQLTemplateError } from "./promql-template.ts";

const input = { namespace: "shop", workload: "checkout", window: "1m" } as const;

describe("builtinQuery", () => {
  it("istio success rate: server-side (sidecar or waypoint) reports, neither 5xx nor a gRPC server error, in percent", () => {
    const sel =
      'reporter=~"destination|waypoint",destination_workload_namespace="shop",destination_workload="checkout"';
    assert.equal(
      builtinQuery({ ...input, builtin: "request-success-rate", mesh: "istio" }),
      `(sum(rate(istio_requests_total{${sel},response_code!~"5..",grpc_response_status!~"2|4|12|13|14|15"}[1m])) or vector(0))` +
        ` / sum(rate(istio_requests_total{${sel}}[1m])) * 100`,
    );
  });

  it("istio p99 in milliseconds", () => {
    assert.equal(
      builtinQuery({ ...input, builtin: "request-duration", mesh: "istio" }),
      'histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter=~"destination|waypoint",destination_workload_namespace="shop",destination_workload="checkout"}[1m])))',
    );
  });

  it("linkerd success rate and p99 on inbound proxy metrics", () => {
    const sel = 'direction="inbound",namespace="shop",deployment="checkout"';
    assert.equal(
      builtinQuery({ ...input, builtin: "request-success-rate", mesh: "linkerd" }),
      `(sum(rate(response_total{${sel},classification!="failure"}[1m])) or vector(0))` +
        ` / sum(rate(response_total{${sel}}[1m])) * 100`,
    );
    assert.equal(
      builtinQuery({ ...input, builtin: "request-duration", mesh: "linkerd" }),
      `histogram_quantile(0.99, sum by (le) (rate(response_latency_ms_bucket{${sel}}[1m])))`,
    );
  });

  it("traefik: the Gateway's per-backend service series, p99 converted from seconds to milliseconds", () => {
    const t = { ...input, mesh: "traefik", service: "checkout-canary", port: 8080 } as const;
    const sel = 'service="shop-checkout-canary-http-8080@kubernetesgateway"';
    assert.equal(
      builtinQuery({ ...t, builtin: "request-success-rate" }),
      `(sum(rate(traefik_service_requests_total{${sel},code!~"5.."}[1m])) or vector(0))` +
        ` / sum(rate(traefik_service_requests_total{${sel}}[1m])) * 100`,
    );
    assert.equal(
      builtinQuery({ ...t, builtin: "request-duration" }),
      `histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket{${sel}}[1m]))) * 1000`,
    );
    assert.throws(
      () => builtinQuery({ ...input, mesh: "traefik", builtin: "request-duration" }),
      PromQLTemplateError,
    );
    assert.throws(
      () => builtinQuery({ ...t, service: 'x"} or vector(1)', builtin: "request-duration" }),
      PromQLTemplateError,
    );
  });

  it("matches the workload exactly, so the canary never includes <target>-primary", () => {
    for (const mesh of ["istio", "linkerd"] as const) {
      const q = builtinQuery({ ...input, builtin: "request-duration", mesh });
      assert.match(q, /(destination_workload|deployment)="checkout"[,}]/);
      assert.doesNotMatch(q, /(destination_workload|deployment)=~/);
    }
  });

  it("honours label-name overrides and validates them", () => {
    const q = builtinQuery({
      ...input,
      builtin: "request-duration",
      mesh: "linkerd",
      labels: { workload: "app_kubernetes_io_name", namespace: "kubernetes_namespace" },
    });
    assert.match(q, /kubernetes_namespace="shop",app_kubernetes_io_name="checkout"/);
    assert.throws(
      () =>
        builtinQuery({
          ...input,
          builtin: "request-duration",
          mesh: "istio",
          labels: { workload: 'x="y"} or vector(1)' },
        }),
      PromQLTemplateError,
    );
  });

  it("rejects names and windows that could change the query", () => {
    for (const bad of [
      { workload: 'a"} or vector(100) #' },
      { namespace: "Shop" },
      { window: "1m]) or vector(1" },
    ]) {
      assert.throws(
        () => builtinQuery({ ...input, ...bad, builtin: "request-success-rate", mesh: "istio" }),
        PromQLTemplateError,
      );
    }
  });
});

describe("effectiveWindowMs", () => {
  it("never goes below two scrape intervals", () => {
    assert.equal(effectiveWindowMs(10_000), 30_000);
    assert.equal(effectiveWindowMs(60_000), 60_000);
    assert.equal(effectiveWindowMs(1_000, 1_000), 2_000);
  });
});
