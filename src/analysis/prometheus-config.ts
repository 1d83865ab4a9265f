// Builds a Prometheus client configuration from a Rollout's spec, controller defaults and referenced Secrets.
import { parseDuration } from "../api/duration.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import { type ReadSecret, referenceRefusal } from "../api/secret-ref.ts";
import { sanitizeUrl } from "../telemetry/sanitize.ts";
import { isAllowedAddress } from "./allowed-urls.ts";
import type { PrometheusAuth, PrometheusClientConfig } from "./prometheus-client.ts";

/** Controller-wide Prometheus settings (flags), used where the Rollout says nothing. */
export interface ControllerPrometheusDefaults {
  /** `--prometheus-url`. */
  address?: string;
  /**
   * `--allowed-prometheus-urls`: prefixes a Rollout's own `prometheus.address` must lie under (see
   * {@link isAllowedAddress}). `address` is always allowed; without this list it is the only one.
   */
  allowedUrls?: readonly string[];
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
 * (default key `ca.crt`). Secrets are read from the Rollout's namespace and must carry the label
 * `vireo.dev/allow-reference: "true"`. A spec address outside the allow-list is refused before any Secret is read.
 *
 * @throws PrometheusConfigError when there is no address, the address is not allowed, or a referenced Secret or
 *   key is missing, unlabelled or unusable. Messages name the Secret and key, never a value.
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
  if (p?.address !== undefined && p.address !== defaults.address) {
    const allowed = [...(defaults.address ? [defaults.address] : []), ...(defaults.allowedUrls ?? [])];
    if (!isAllowedAddress(p.address, allowed)) {
      throw new PrometheusConfigError(
        // Flag first and address last (clipped): measurements keep 300 characters, the advice must survive.
        `Prometheus address not allowed by the controller's --allowed-prometheus-urls (default: only its --prometheus-url); no query sent to ${clip(sanitizeUrl(p.address), 100)}`,
      );
    }
  }
  const config: PrometheusClientConfig = {
    address,
    // The operator's --prometheus-url is theirs to point anywhere; an address the Rollout names passes the egress
    // address policy on every connection, after the prefix check above.
    trust: p?.address !== undefined && p.address !== defaults.address ? "tenant" : "operator",
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
  let secret: Awaited<ReturnType<ReadSecret>>;
  try {
    secret = await readSecret(namespace, name);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PrometheusConfigError(`cannot read Secret ${namespace}/${name}: ${why.slice(0, 200)}`);
  }
  if (!secret) throw new PrometheusConfigError(`Secret ${namespace}/${name} not found`);
  const refused = referenceRefusal(namespace, name, secret.labels);
  if (refused) throw new PrometheusConfigError(refused);
  return secret.data;
}

function missingKey(namespace: string, name: string, key: string): PrometheusConfigError {
  return new PrometheusConfigError(`Secret ${namespace}/${name} has no key ${key}`);
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
