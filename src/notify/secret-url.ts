// A URL a Rollout keeps in a Secret of its namespace (a notification's, a webhook check's): the Secret must exist and
// carry the opt-in label, the key must hold an http(s) URL. Messages name the Secret and key, never the value.
import { type ReadSecret, referenceRefusal } from "../api/secret-ref.ts";

/** The key read when a reference names none. */
export const DEFAULT_URL_KEY = "url";

/** A Secret-held URL cannot be used; the message names the Secret and key, never a value. */
export class SecretUrlError extends Error {
  override name = "SecretUrlError";
}

/**
 * The URL in key `ref.key` (default `url`) of Secret `ref.name` in `namespace`, trimmed.
 * @throws SecretUrlError when the Secret cannot be read or is missing, lacks `vireo.dev/allow-reference=true`, has
 *   no such key, or the value is not an http(s) URL
 */
export async function readSecretUrl(
  namespace: string,
  ref: { name: string; key?: string | undefined },
  readSecret: ReadSecret,
): Promise<string> {
  const key = ref.key ?? DEFAULT_URL_KEY;
  const where = `Secret ${namespace}/${ref.name}`;
  let secret: Awaited<ReturnType<ReadSecret>>;
  try {
    secret = await readSecret(namespace, ref.name);
  } catch (err) {
    throw new SecretUrlError(
      `cannot read ${where}: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}`,
    );
  }
  if (!secret) throw new SecretUrlError(`${where} not found`);
  const refused = referenceRefusal(namespace, ref.name, secret.labels);
  if (refused) throw new SecretUrlError(refused);
  const url = secret.data[key]?.trim();
  if (!url) throw new SecretUrlError(`${where} has no key ${key}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SecretUrlError(`key ${key} of ${where} is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new SecretUrlError(`key ${key} of ${where} must be an http(s) URL`);
  }
  return url;
}
