// HTTP(S) agents that check every address at connect time, after DNS resolution, so a name that resolves to a
// refused address (DNS rebinding included) is never connected to.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import { isIP, type LookupFunction, type Socket } from "node:net";

/** The error code of a connection the policy refused; clients map it to the `refused-by-policy` outcome. */
export const EGRESS_REFUSED_CODE = "EVIREO_EGRESS_REFUSED";

/** A connection the egress policy refused. The message is for the operator's log only. */
export class EgressRefusedError extends Error {
  override name = "EgressRefusedError";
  readonly code = EGRESS_REFUSED_CODE;
}

/** Why an address and port may not be reached, or undefined. */
export type AddressCheck = (address: string, port: number) => string | undefined;

/** How names are resolved (dns.lookup; tests replace it to play a rebinding DNS server). */
export type Resolver = (
  hostname: string,
  options: { family?: number; hints?: number },
) => Promise<LookupAddress[]>;

/** dns.lookup with every address. */
export const systemResolver: Resolver = (hostname, options) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/**
 * A `lookup` for net.connect that resolves `hostname` and refuses the connection when any of its addresses is
 * refused for `port` (a name pointing at both a public and an internal address is suspect, not half-usable).
 */
function guardedLookup(check: AddressCheck, port: number, resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options.family === "number" ? options.family : undefined;
    resolver(hostname, {
      ...(family ? { family } : {}),
      ...(options.hints ? { hints: options.hints } : {}),
    }).then(
      (addresses) => {
        for (const a of addresses) {
          const why = check(a.address, port);
          if (why) return callback(new EgressRefusedError(`${hostname}: ${why}`), "", 0);
        }
        const first = addresses[0];
        if (!first)
          return callback(Object.assign(new Error(`${hostname}: no address`), { code: "ENOTFOUND" }), "", 0);
        // Node's connect asks for every address (Happy Eyeballs) or for one; answer in the form it asked for.
        if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 0),
    );
  };
}

type CreateConnection = (
  options: Record<string, unknown>,
  oncreate: (err: Error | null, s?: Socket) => void,
) => Socket | undefined;

/**
 * Wraps an agent's createConnection: an IP-literal host (which Node connects to without any lookup) is checked
 * here, a name gets the guarded lookup.
 */
function guard(original: CreateConnection, check: AddressCheck, resolver: Resolver): CreateConnection {
  return function (this: unknown, options, oncreate) {
    const host = String(options.host ?? options.hostname ?? "localhost").replace(/^\[(.*)\]$/, "$1");
    const port = Number(options.port);
    if (isIP(host)) {
      const why = check(host, port);
      if (why) {
        process.nextTick(() => oncreate(new EgressRefusedError(why)));
        return undefined;
      }
      return original.call(this, options, oncreate);
    }
    return original.call(this, { ...options, lookup: guardedLookup(check, port, resolver) }, oncreate);
  };
}

/**
 * Makes every connection of `agent` pass `check` (after DNS for names, before the socket for IP literals). TLS still
 * verifies the name the request asked for. Returns the same agent.
 */
export function guardAgent<A extends HttpAgent | HttpsAgent>(
  agent: A,
  check: AddressCheck,
  resolver = systemResolver,
): A {
  const original = agent.createConnection as unknown as CreateConnection;
  agent.createConnection = guard(original, check, resolver) as unknown as A["createConnection"];
  return agent;
}
