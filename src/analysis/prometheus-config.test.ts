import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALLOW_REFERENCE_LABEL } from "../api/constants.ts";
import { type RolloutSpecInput, RolloutSpecSchema } from "../api/rollout-schema.ts";
import type { ReadSecret } from "../api/secret-ref.ts";
import { PrometheusConfigError, resolvePrometheusConfig } from "./prometheus-config.ts";

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
/** Secrets that never opted in to being referenced: a token the controller must not use. */
const unlabelled: Record<string, Record<string, string>> = {
  "shop/team-token": { token: "not-for-rollouts" },
};
/** Same data, but the label's value is not exactly "true". */
const wrongValue: Record<string, Record<string, string>> = { "shop/half": { token: "t" } };
const calls: string[] = [];
const readSecret: ReadSecret = async (ns, name) => {
  const key = `${ns}/${name}`;
  calls.push(key);
  const labels: Record<string, string> = { app: "x" };
  if (secrets[key]) return { data: secrets[key], labels: { ...labels, [ALLOW_REFERENCE_LABEL]: "true" } };
  if (unlabelled[key]) return { data: unlabelled[key], labels };
  if (wrongValue[key]) return { data: wrongValue[key], labels: { [ALLOW_REFERENCE_LABEL]: "True" } };
  return undefined;
};

describe("resolvePrometheusConfig", () => {
  it("falls back to the controller's address and timeout", async () => {
    const c = await resolvePrometheusConfig(
      spec(),
      "shop",
      { address: "http://prom:9090", timeoutMs: 3000 },
      readSecret,
    );
    assert.deepEqual(c, {
      address: "http://prom:9090",
      trust: "operator",
      timeoutMs: 3000,
      insecureSkipVerify: false,
    });
  });

  it("prefers the Rollout's address and timeout", async () => {
    const c = await resolvePrometheusConfig(
      spec({ address: "https://thanos.example:9091", timeout: "2500ms", insecureSkipVerify: true }),
      "shop",
      { address: "http://prom:9090", allowedUrls: ["https://thanos.example:9091"] },
      readSecret,
    );
    assert.equal(c.address, "https://thanos.example:9091");
    assert.equal(c.trust, "tenant", "an address the Rollout names passes the egress policy");
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

  it("refuses a Secret without vireo.dev/allow-reference=true, before any credential is used", async () => {
    for (const [field, name] of [
      ["secretRef", "team-token"],
      ["caSecretRef", "team-token"],
      ["secretRef", "half"],
    ] as const) {
      await assert.rejects(
        resolvePrometheusConfig(spec({ [field]: { name } }), "shop", { address: "http://p" }, readSecret),
        (e: unknown) =>
          e instanceof PrometheusConfigError &&
          e.message.startsWith(`Secret shop/${name} lacks label vireo.dev/allow-reference=true`) &&
          !e.message.includes("not-for-rollouts"),
        `${field} ${name}`,
      );
    }
  });
});

describe("resolvePrometheusConfig: address allow-list", () => {
  const resolve = (address: string | undefined, allowedUrls?: string[]) =>
    resolvePrometheusConfig(
      spec({ ...(address ? { address } : {}), secretRef: { name: "bearer" } }),
      "shop",
      { address: "http://prom.monitoring:9090", ...(allowedUrls ? { allowedUrls } : {}) },
      readSecret,
    );

  it("allows the controller's own address, named or implied, by default", async () => {
    assert.equal((await resolve(undefined)).address, "http://prom.monitoring:9090");
    assert.equal((await resolve("http://prom.monitoring:9090")).address, "http://prom.monitoring:9090");
    assert.equal((await resolve("http://prom.monitoring:9090/")).address, "http://prom.monitoring:9090/");
  });

  it("refuses any other address by default, naming the flag, without reading a Secret", async () => {
    calls.length = 0;
    await assert.rejects(
      resolve("http://attacker.example:8080/collect"),
      (e: unknown) =>
        e instanceof PrometheusConfigError &&
        /^Prometheus address not allowed by the controller's --allowed-prometheus-urls/.test(e.message) &&
        e.message.endsWith("no query sent to http://attacker.example:8080/collect"),
    );
    assert.deepEqual(calls, [], "no Secret is read for a refused address");
  });

  it("allows what --allowed-prometheus-urls lists, and still the default", async () => {
    const allowed = ["https://thanos.example/tenants/shop"];
    assert.equal(
      (await resolve("https://thanos.example/tenants/shop/api", allowed)).address,
      "https://thanos.example/tenants/shop/api",
    );
    assert.equal(
      (await resolve("http://prom.monitoring:9090", allowed)).address,
      "http://prom.monitoring:9090",
    );
    await assert.rejects(resolve("https://thanos.example/tenants/shopfront", allowed), PrometheusConfigError);
  });

  it("never puts credentials of the address into the message", async () => {
    await assert.rejects(resolve("http://user:hunter2@evil.example"), (e: unknown) => {
      const m = (e as Error).message;
      return !m.includes("hunter2") && m.includes("evil.example");
    });
  });
});
