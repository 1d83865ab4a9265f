// Free loopback TCP ports for cluster components, so parallel clusters and leftover daemons never collide.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

/** The lowest port handed out; below it live well-known and registered services. */
const LOWEST = 10_000;

/**
 * The ports the kernel never picks for a connection's local end: below `ip_local_port_range`. A port from
 * `listen(0)` comes from that ephemeral range, so between the probe and a daemon's bind (seconds for kwok, which
 * starts after the API server is ready) any outgoing loopback connection could take it — CI once lost a cluster to
 * `bind: address already in use` that way. `undefined` where the range is unknown or leaves no room below.
 */
function nonEphemeralRange(): { low: number; high: number } | undefined {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low === undefined || !Number.isInteger(low) || low - 1 - LOWEST < 1000) return undefined;
    return { low: LOWEST, high: low - 1 };
  } catch {
    return undefined;
  }
}

const listen = (server: Server, port: number): Promise<boolean> =>
  new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      err.code === "EADDRINUSE" || err.code === "EACCES" ? resolve(false) : reject(err),
    );
    server.listen(port, "127.0.0.1", () => resolve(true));
  });

/**
 * Reserves `count` distinct free ports on 127.0.0.1, outside the ephemeral range where there is one (random
 * probes, so parallel test files rarely try the same port). All listeners stay open until every port is known, so
 * one call never returns the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const range = nonEphemeralRange();
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > 200 * count) throw new Error(`no ${count} free loopback ports after ${tries} probes`);
      const server = createServer();
      const port = range ? range.low + Math.floor(Math.random() * (range.high - range.low + 1)) : 0;
      if (!(await listen(server, port))) continue;
      servers.push(server);
      const addr = server.address();
      if (addr === null || typeof addr === "string") throw new Error("listener has no TCP address");
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** One free loopback port, by the same rules as {@link freePorts}. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no free loopback port");
  return port;
}
