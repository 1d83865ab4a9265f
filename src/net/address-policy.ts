// Which IP addresses and ports the controller may connect to on a tenant's behalf: the operator's allow and deny
// ranges over built-in defaults, and endpoints no allow-list can open (the API server, the controller's own ports).
import { type Cidr, cidrContains, embeddedIpv4, formatIp, type Ip, parseCidr, parseIp } from "./ip.ts";

/** A named range, so a refusal can say why. */
interface Rule {
  cidr: Cidr;
  what: string;
}

/** An address and port that stay closed whatever the allow-list says. */
export interface ProtectedEndpoint {
  /** An address or range (`127.0.0.0/8`, `10.96.0.1`). */
  cidr: string;
  port: number;
  /** What listens there, for messages ("the Kubernetes API server"). */
  what: string;
}

/** Configuration of an {@link AddressPolicy}. */
export interface AddressPolicyConfig {
  /** Ranges reachable although a default rule or `deny` refuses them (`--egress-allow`). */
  allow?: readonly string[];
  /** Ranges refused in addition to the defaults (`--egress-deny`), e.g. the cluster's node and pod networks. */
  deny?: readonly string[];
  /** Addresses refused at every port unless allowed, e.g. the API server's (its own port stays protected). */
  denyHosts?: readonly { address: string; what: string }[];
  /** Never reachable: the API server's address and port, the controller's own listeners. */
  protectedEndpoints?: readonly ProtectedEndpoint[];
}

/**
 * Refused unless the operator allows them: addresses that reach the controller's own host or the cloud provider's
 * instance metadata (credentials), and addresses no HTTP destination has. Private ranges (10/8, 172.16/12,
 * 192.168/16, fc00::/7) are reachable by default: in-cluster webhooks and Prometheus live there; an operator who
 * wants them closed lists them in `--egress-deny`.
 */
export const DEFAULT_DENIED: readonly { cidr: string; what: string }[] = [
  { cidr: "127.0.0.0/8", what: "loopback" },
  { cidr: "::1/128", what: "loopback" },
  { cidr: "0.0.0.0/8", what: "unspecified (this host)" },
  { cidr: "::/128", what: "unspecified (this host)" },
  { cidr: "169.254.0.0/16", what: "link-local (cloud instance metadata)" },
  { cidr: "fe80::/10", what: "link-local" },
  { cidr: "fd00:ec2::254/128", what: "cloud instance metadata (AWS IPv6)" },
  { cidr: "100.100.100.200/32", what: "cloud instance metadata (Alibaba)" },
  { cidr: "168.63.129.16/32", what: "cloud host endpoint (Azure WireServer)" },
  { cidr: "192.0.0.192/32", what: "cloud instance metadata (Oracle)" },
  { cidr: "224.0.0.0/4", what: "multicast" },
  { cidr: "ff00::/8", what: "multicast" },
  { cidr: "240.0.0.0/4", what: "reserved or broadcast" },
];

/**
 * Decides whether an address may be connected to. Precedence: protected endpoints are always refused; then an
 * allow range admits; then the defaults, deny ranges and denied hosts refuse; everything else is allowed. An IPv6
 * address carrying an IPv4 one (mapped, compatible, NAT64) is judged on both.
 */
export class AddressPolicy {
  readonly #allow: Rule[];
  readonly #deny: Rule[];
  readonly #protected: { rule: Rule; port: number }[];

  /** @throws Error naming an entry that is not an address or CIDR range */
  constructor(config: AddressPolicyConfig = {}) {
    const rules = (entries: readonly { cidr: string; what: string }[]) =>
      entries.map((e) => ({ cidr: parseCidr(e.cidr), what: e.what }));
    this.#allow = rules((config.allow ?? []).map((cidr) => ({ cidr, what: "allowed" })));
    this.#deny = [
      ...rules(DEFAULT_DENIED),
      ...rules((config.denyHosts ?? []).map((h) => ({ cidr: h.address, what: h.what }))),
      ...rules((config.deny ?? []).map((cidr) => ({ cidr, what: "denied by --egress-deny" }))),
    ];
    this.#protected = (config.protectedEndpoints ?? []).map((p) => ({
      rule: { cidr: parseCidr(p.cidr), what: p.what },
      port: p.port,
    }));
  }

  /**
   * Why `address` (an IP literal) may not be reached at `port`, or undefined when it may. Text that is not an IP
   * address is refused: every caller resolves names first.
   */
  refusal(address: string, port: number): string | undefined {
    const ip = parseIp(address);
    if (!ip) return `${JSON.stringify(address.slice(0, 64))} is not an IP address`;
    const forms: Ip[] = [ip, ...(embeddedIpv4(ip) ? [embeddedIpv4(ip) as Ip] : [])];
    const shown = formatIp(ip);
    for (const p of this.#protected) {
      if (p.port === port && forms.some((f) => cidrContains(p.rule.cidr, f)))
        return `${shown}:${port} is ${p.rule.what}`;
    }
    if (this.#allow.some((r) => forms.some((f) => cidrContains(r.cidr, f)))) return undefined;
    const denied = this.#deny.find((r) => forms.some((f) => cidrContains(r.cidr, f)));
    return denied ? `${shown} is ${denied.what}` : undefined;
  }
}

/** Checks `--egress-allow`/`--egress-deny` entries; returns them normalized. @throws Error for a bad entry */
export function parseRanges(entries: readonly string[]): string[] {
  return entries.map((e) => parseCidr(e).text);
}
