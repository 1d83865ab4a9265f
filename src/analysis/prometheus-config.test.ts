import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type RolloutSpecInput, RolloutSpecSchema } from "../api/rollout-schema.ts";
import { PrometheusConfigError, type ReadSecret, resolvePrometheusConfig } from "./prometheus-config.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

const spec = (prometheus?: NonNullable<RolloutSpecInput["analysis"]>["prometheus"]) =>
  RolloutSpecSchema.parse({
    targetRef: { name: "checkout" },
    service: { port: 80 },
    provider: "linkerd",
    strategy: { canary: { stepWeight: 10 } },
    analysis: { ...(prometheus ? { prometheus } : {}), metrics: [] },
  });

const secrets: Record<string, Record<string, string>> = {
  "shop/bearer": { token: "t0ken\n" },
  "shop/basic": { username: "vireo", password: "p@ss" },
  "shop/empty": { other: "x" },
  "shop/ca": { "ca.crt": PEM, custom: PEM, bad: "not a pem" },
};
const calls: string[] = [];
const readSecret: ReadSecret = async (ns, name) => {
  calls.push(`${ns}/${name}`);
  return secrets[`${ns}/${name}`];
};

describe("resolvePrometheusConfig", () => {
  it("falls back to the controller's address and timeout", async () => {
    const c = await resolvePrometheusConfig(
      spec(),
      "shop",
      { address: "http://prom:9090", timeoutMs: 3000 },
      readSecret,
    );
    assert.deepEqual(c, { address: "http://prom:9090", timeoutMs: 3000, insecureSkipVerify: false });
  });

  it("prefers the Rollout's address and timeout", async () => {
    const c = await resolvePrometheusConfig(
      spec({ address: "https://thanos.example:9091", timeout: "2500ms", insecureSkipVerify: true }),
      "shop",
      { address: "http://prom:9090" },
      readSecret,
    );
    assert.equal(c.address, "https://thanos.example:9091");
    assert.equal(c.timeoutMs, 2500);
    assert.equal(c.insecureSkipVerify, true);
  });

  it("fails clearly without any address", async () => {
    await assert.rejects(resolvePrometheusConfig(spec(), "shop", {}, readSecret), /no Prometheus address/);
  });

  it("reads a bearer token (trimmed) or basic auth from the Rollout's namespace", async () => {
    calls.length = 0;
    const b = await resolvePrometheusConfig(
      spec({ secretRef: { name: "bearer" } }),
      "shop",
      { address: "http://p" },
      readSecret,
    );
    assert.deepEqual(b.auth, { type: "bearer", token: "t0ken" });
    const u = await resolvePrometheusConfig(
      spec({ secretRef: { name: "basic" } }),
      "shop",
      { address: "http://p" },
      readSecret,
    );
    assert.deepEqual(u.auth, { type: "basic", username: "vireo", password: "p@ss" });
    assert.deepEqual(calls, ["shop/bearer", "shop/basic"]);
  });

  it("names a missing Secret or key, never a value", async () => {
    await assert.rejects(
      resolvePrometheusConfig(
        spec({ secretRef: { name: "nope" } }),
        "shop",
        { address: "http://p" },
        readSecret,
      ),
      (e: unknown) => e instanceof PrometheusConfigError && e.message === "Secret shop/nope not found",
    );
    await assert.rejects(
      resolvePrometheusConfig(
        spec({ secretRef: { name: "empty" } }),
        "shop",
        { address: "http://p" },
        readSecret,
      ),
      /Secret shop\/empty needs key token \(bearer\) or keys username and password/,
    );
    await assert.rejects(
      resolvePrometheusConfig(
        spec({ caSecretRef: { name: "ca", key: "missing" } }),
        "shop",
        { address: "http://p" },
        readSecret,
      ),
      /Secret shop\/ca has no key missing/,
    );
    await assert.rejects(
      resolvePrometheusConfig(
        spec({ caSecretRef: { name: "ca", key: "bad" } }),
        "shop",
        { address: "http://p" },
        readSecret,
      ),
      (e: unknown) => e instanceof Error && /not a PEM/.test(e.message) && !e.message.includes("not a pem"),
    );
    const failing: ReadSecret = async () => {
      throw new Error("secrets is forbidden");
    };
    await assert.rejects(
      resolvePrometheusConfig(
        spec({ secretRef: { name: "bearer" } }),
        "shop",
        { address: "http://p" },
        failing,
      ),
      /cannot read Secret shop\/bearer: secrets is forbidden/,
    );
  });

  it("reads the CA bundle from the default key ca.crt or a named key", async () => {
    const a = await resolvePrometheusConfig(
      spec({ caSecretRef: { name: "ca" } }),
      "shop",
      { address: "https://p" },
      readSecret,
    );
    assert.equal(a.caPem, PEM);
    const b = await resolvePrometheusConfig(
      spec({ caSecretRef: { name: "ca", key: "custom" } }),
      "shop",
      { address: "https://p" },
      readSecret,
    );
    assert.equal(b.caPem, PEM);
  });
});
