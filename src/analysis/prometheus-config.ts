// Builds a Prometheus client configuration from a Rollout's spec, controller defaults and referenced Secrets.
import { parseDuration } from "../api/duration.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { PrometheusAuth, PrometheusClientConfig } from "./prometheus-client.ts";

/** Reads a Secret's decoded `data` (base64 already undone); undefined when the Secret does not exist. */
export type ReadSecret = (namespace: string, name: string) => Promise<Record<string, string> | undefined>;

/** Controller-wide Prometheus settings (flags), used where the Rollout says nothing. */
export interface ControllerPrometheusDefaults {
  /** `--prometheus-url`. */
  address?: string;
  /** Query timeout when the Rollout has no `prometheus` block, ms (default 5000). */
  timeoutMs?: number;
  /** Network retries per query (default 2). */
  retries?: number;
}

/** A Rollout's Prometheus settings cannot be used; the message is safe for status and events. */
export class PrometheusConfigError extends Error {
  override name = "PrometheusConfigError";
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_CA_KEY = "ca.crt";

/**
 * Resolves where and how to query Prometheus for a Rollout in `namespace`: the address from the spec or the
 * controller default, the timeout, credentials from `prometheus.secretRef` (key `token` for a bearer token,
 * or keys `username` and `password` for basic auth) and a CA bundle from `prometheus.caSecretRef`
 * (default key `ca.crt`). Secrets are read from the Rollout's namespace.
 *
 * @throws PrometheusConfigError when there is no address, or a referenced Secret or key is missing or unusable.
 *   Messages name the Secret and key, never a value.
 */
export async function resolvePrometheusConfig(
  spec: RolloutSpec,
  namespace: string,
  defaults: ControllerPrometheusDefaults,
  readSecret: ReadSecret,
): Promise<PrometheusClientConfig> {
  const p = spec.analysis.prometheus;
  const address = p?.address ?? defaults.address;
  if (!address) {
    throw new PrometheusConfigError(
      "no Prometheus address: set spec.analysis.prometheus.address or the controller's --prometheus-url",
    );
  }
  const config: PrometheusClientConfig = {
    address,
    timeoutMs: p?.timeout ? parseDuration(p.timeout) : (defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    insecureSkipVerify: p?.insecureSkipVerify ?? false,
    ...(defaults.retries !== undefined ? { retries: defaults.retries } : {}),
  };
  if (p?.secretRef) {
    config.auth = await readAuth(namespace, p.secretRef.name, readSecret);
  }
  if (p?.caSecretRef) {
    const key = p.caSecretRef.key ?? DEFAULT_CA_KEY;
    const data = await mustRead(namespace, p.caSecretRef.name, readSecret);
    const pem = data[key];
    if (pem === undefined) throw missingKey(namespace, p.caSecretRef.name, key);
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new PrometheusConfigError(
        `key ${key} of Secret ${namespace}/${p.caSecretRef.name} is not a PEM certificate bundle`,
      );
    }
    config.caPem = pem;
  }
  return config;
}

async function readAuth(namespace: string, name: string, readSecret: ReadSecret): Promise<PrometheusAuth> {
  const data = await mustRead(namespace, name, readSecret);
  // `kubectl create secret --from-file` keeps the file's trailing newline, which would break the header.
  const token = data.token?.trim();
  if (token) return { type: "bearer", token };
  const username = data.username?.trim();
  const password = data.password?.replace(/\r?\n$/, "");
  if (username && password !== undefined) return { type: "basic", username, password };
  throw new PrometheusConfigError(
    `Secret ${namespace}/${name} needs key token (bearer) or keys username and password (basic auth)`,
  );
}

async function mustRead(
  namespace: string,
  name: string,
  readSecret: ReadSecret,
): Promise<Record<string, string>> {
  let data: Record<string, string> | undefined;
  try {
    data = await readSecret(namespace, name);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PrometheusConfigError(`cannot read Secret ${namespace}/${name}: ${why.slice(0, 200)}`);
  }
  if (!data) throw new PrometheusConfigError(`Secret ${namespace}/${name} not found`);
  return data;
}

function missingKey(namespace: string, name: string, key: string): PrometheusConfigError {
  return new PrometheusConfigError(`Secret ${namespace}/${name} has no key ${key}`);
}
