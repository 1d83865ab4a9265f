// A kwok pod CIDR inside 127.0.0.0/8: Linux routes the whole block to loopback, so a process can listen on any pod IP.

/**
 * A random /16 in 127.16.0.0–127.239.0.0, so clusters of e2e files running in parallel rarely share pod IPs
 * (127.0.x.x, where everything else listens, is never chosen).
 */
export function loopbackPodCidr(random: () => number = Math.random): string {
  const second = 16 + Math.floor(random() * 224);
  return `127.${second}.0.0/16`;
}

/** True when `ip` lies in the /16 `cidr` returned by {@link loopbackPodCidr}. */
export function inPodCidr(ip: string, cidr: string): boolean {
  const [net] = cidr.split("/");
  const prefix = net?.split(".").slice(0, 2).join(".");
  return prefix !== undefined && ip.startsWith(`${prefix}.`);
}
