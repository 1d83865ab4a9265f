// A kwok pod CIDR whose addresses are local to this machine, so a process can listen on every pod IP.
//
// Why not 127.0.0.0/8: the API server refuses loopback addresses in EndpointSlices ("may not be in the loopback
// range"), so the endpoints a proxy needs would never exist. Instead a /24 of 198.18.0.0/15 (RFC 2544, reserved for
// benchmarking, never routed on the Internet) is made local with one `ip route add local <cidr> dev lo`: Linux then
// accepts connections to, and binds on, every address of it. That needs CAP_NET_ADMIN (root in the CI container);
// the route is removed again when the test ends.
import { execFileSync } from "node:child_process";

/** A random /24 in 198.18.0.0/15, so e2e files running in parallel rarely pick the same one. */
export function randomBenchmarkCidr(random: () => number = Math.random): string {
  const n = Math.floor(random() * 512);
  return `198.${18 + (n >> 8)}.${n & 255}.0/24`;
}

const toInt = (ip: string): number => ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);

/** True when the IPv4 address `ip` lies in `cidr`. */
export function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split("/");
  if (!net || bits === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(net) / size);
}

/** A claimed local pod range; release it when done. */
export interface LocalRange {
  cidr: string;
  release(): void;
}

/**
 * Picks a free /24 and adds a local route for it (a range another test already claimed makes `ip` fail, and the
 * next one is tried). Throws with the reason when routes cannot be added (no CAP_NET_ADMIN).
 */
export function claimLocalRange(attempts = 5): LocalRange {
  let lastError = "";
  for (let i = 0; i < attempts; i++) {
    const cidr = randomBenchmarkCidr();
    try {
      execFileSync("ip", ["route", "add", "local", cidr, "dev", "lo"], { stdio: "pipe" });
    } catch (err) {
      lastError = String((err as { stderr?: Buffer }).stderr ?? err).trim();
      continue;
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      try {
        execFileSync("ip", ["route", "del", "local", cidr, "dev", "lo"], { stdio: "pipe" });
      } catch {
        // Already gone.
      }
    };
    process.once("exit", release);
    return { cidr, release };
  }
  throw new Error(`cannot add a local route for pod IPs (needs CAP_NET_ADMIN): ${lastError}`);
}
