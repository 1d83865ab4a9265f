// IP addresses and CIDR ranges as bytes: parsing, containment, and the IPv4 address an IPv6 one may carry.
import { isIPv4, isIPv6 } from "node:net";

/** An address as 4 (IPv4) or 16 (IPv6) bytes. */
export interface Ip {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** A range of addresses: the first `bits` bits of `ip`. */
export interface Cidr {
  ip: Ip;
  bits: number;
  /** As written (normalized), for messages. */
  text: string;
}

/**
 * Parses an IPv4 or IPv6 address (a zone such as `%eth0` is ignored, brackets are stripped). Returns undefined for
 * anything else, hostnames included.
 */
export function parseIp(text: string): Ip | undefined {
  const s = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (isIPv4(s)) return { family: 4, bytes: Uint8Array.from(s.split(".").map(Number)) };
  if (!isIPv6(s)) return undefined;
  let head = s;
  let tail4: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    tail4 = (dotted[1] as string).split(".").map(Number);
    head = `${s.slice(0, dotted.index)}:0:0`;
  }
  const [left = "", right] = head.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const words = [...l, ...new Array(8 - l.length - r.length).fill(0), ...r];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  if (tail4.length === 4) bytes.set(tail4, 12);
  return { family: 6, bytes };
}

/** Text form: dotted quad, or IPv6 as eight hex groups (uncompressed, good enough for messages and keys). */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) return [...ip.bytes].join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2)
    words.push((((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0)).toString(16));
  return words.join(":");
}

/**
 * Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a single-address range).
 * @throws Error naming the problem
 */
export function parseCidr(text: string): Cidr {
  const t = text.trim();
  const slash = t.lastIndexOf("/");
  const ipText = slash < 0 ? t : t.slice(0, slash);
  const ip = parseIp(ipText);
  if (!ip) throw new Error(`${JSON.stringify(t.slice(0, 100))} is not an IP address or CIDR range`);
  const max = ip.family === 4 ? 32 : 128;
  const bitsText = slash < 0 ? String(max) : t.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) {
    throw new Error(`${JSON.stringify(t)}: prefix length must be 0..${max}`);
  }
  const bits = Number(bitsText);
  const base: Ip = { family: ip.family, bytes: masked(ip.bytes, bits) };
  return { ip: base, bits, text: `${formatIp(base)}/${bits}` };
}

/** True when `ip` lies in `range` (same family only; see {@link embeddedIpv4} for IPv6 carrying IPv4). */
export function cidrContains(range: Cidr, ip: Ip): boolean {
  if (range.ip.family !== ip.family) return false;
  const m = masked(ip.bytes, range.bits);
  return m.every((b, i) => b === range.ip.bytes[i]);
}

/**
 * The IPv4 address an IPv6 address stands for, where the network would deliver it to that IPv4 host: IPv4-mapped
 * (`::ffff:a.b.c.d`, which Node connects to as IPv4), IPv4-compatible (`::a.b.c.d`, deprecated) and the NAT64
 * well-known prefix (`64:ff9b::/96`). Checking the embedded address too keeps `::ffff:127.0.0.1` and
 * `64:ff9b::a9fe:a9fe` from slipping past IPv4 rules.
 */
export function embeddedIpv4(ip: Ip): Ip | undefined {
  if (ip.family !== 6) return undefined;
  const b = ip.bytes;
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const last4 = () => ({ family: 4 as const, bytes: b.slice(12, 16) });
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return last4();
  if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] === 1)) return last4();
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return last4();
  return undefined;
}

function masked(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}
