// Which Prometheus addresses a Rollout may name: URL prefixes matched on scheme, host, port and a path prefix.

/** A parsed allow-list entry. */
interface Prefix {
  protocol: string;
  hostname: string;
  port: string;
  /** Path without trailing slashes; "" allows every path. */
  path: string;
}

/** Percent-encoded `/`, `\` and `.`: a server that decodes them before routing could climb out of a path prefix. */
const ENCODED_PATH_TRICK = /%(2f|5c|2e)/i;

/**
 * Checks one allow-list entry and returns it normalized.
 * @throws Error naming the problem when it is not an http(s) URL, or carries credentials, a query or a fragment.
 */
export function parseAllowedPrefix(entry: string): string {
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    throw new Error(`${JSON.stringify(entry.slice(0, 100))} is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`${u.protocol} is not http(s)`);
  if (u.username || u.password) throw new Error("a prefix must not carry credentials");
  if (u.search || u.hash || entry.includes("?") || entry.includes("#")) {
    throw new Error("a prefix must not have a query or fragment");
  }
  if (ENCODED_PATH_TRICK.test(u.pathname)) throw new Error("a prefix must not percent-encode / \\ or .");
  return u.href;
}

/**
 * True when `address` lies under one of `prefixes` (entries checked by {@link parseAllowedPrefix}): same scheme,
 * host and port (after URL normalization: case, default port, IDNA), and a path equal to the prefix's path or
 * below it at a `/` boundary. Userinfo in `address` is ignored for matching, so `http://prom:9090@evil` is
 * judged as host `evil`. An address that does not parse, or percent-encodes `/`, `\` or `.` in its path, is
 * never allowed.
 */
export function isAllowedAddress(address: string, prefixes: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(address);
  } catch {
    return false;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return false;
  if (ENCODED_PATH_TRICK.test(u.pathname)) return false;
  return prefixes.some((entry) => {
    const p = toPrefix(entry);
    if (!p || p.protocol !== u.protocol || p.hostname !== u.hostname || p.port !== u.port) return false;
    return p.path === "" || u.pathname === p.path || u.pathname.startsWith(`${p.path}/`);
  });
}

function toPrefix(entry: string): Prefix | undefined {
  try {
    const u = new URL(parseAllowedPrefix(entry));
    return { protocol: u.protocol, hostname: u.hostname, port: u.port, path: u.pathname.replace(/\/+$/, "") };
  } catch {
    return undefined;
  }
}
