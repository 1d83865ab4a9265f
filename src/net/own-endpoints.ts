// The endpoints a tenant's URL must never reach whatever the allow-list says: the Kubernetes API server as the
// controller reaches it, and the controller's own listening ports on every address of its host.
import { networkInterfaces } from "node:os";
import type { ProtectedEndpoint } from "./address-policy.ts";
import { type Resolver, systemResolver } from "./guarded-agents.ts";
import { parseIp } from "./ip.ts";

/** What {@link controllerEndpoints} found. */
export interface ControllerEndpoints {
  /** Never reachable, whatever `--egress-allow` says. */
  protectedEndpoints: ProtectedEndpoint[];
  /** The API server's addresses: refused at every port unless allowed. */
  apiServerHosts: { address: string; what: string }[];
}

/** Every address the controller's host answers on for its own listeners (loopback and unspecified included). */
export function ownAddresses(): string[] {
  const own = ["127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) own.push(i.address);
  }
  return [...new Set(own)];
}

/**
 * The API server's addresses (its URL's host, resolved now: an address the controller reaches it at, e.g. the
 * `kubernetes` Service's cluster IP in a pod) and the process's own ports on each of its addresses. `self` names the
 * process in refusals (the load generator uses this too); without `apiServer` (outside a pod) only the own ports.
 */
export async function controllerEndpoints(
  apiServer: string | undefined,
  ownPorts: readonly number[],
  resolver: Resolver = systemResolver,
  self = "the controller",
): Promise<ControllerEndpoints> {
  const own = ownAddresses().flatMap((cidr) =>
    ownPorts.map((p) => ({ cidr, port: p, what: `${self}'s own port` })),
  );
  if (apiServer === undefined) return { protectedEndpoints: own, apiServerHosts: [] };
  const url = new URL(apiServer);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || (url.protocol === "http:" ? 80 : 443));
  const addresses = parseIp(host)
    ? [host]
    : await resolver(host, {}).then(
        (list) => list.map((a) => a.address),
        () => [],
      );
  const what = "the Kubernetes API server";
  return {
    protectedEndpoints: [...addresses.map((a) => ({ cidr: a, port, what })), ...own],
    apiServerHosts: addresses.map((address) => ({ address, what: `${what}'s address` })),
  };
}
