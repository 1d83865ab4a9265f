// Free loopback TCP ports for cluster components, so parallel clusters and leftover daemons never collide.
import { createServer, type Server } from "node:net";

/**
 * Reserves `count` distinct free ports on 127.0.0.1. All listeners stay open until every port is known, so one
 * call never returns the same port twice; the tiny window before the child binds is acceptable on loopback.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const addr = server.address();
      if (addr === null || typeof addr === "string") throw new Error("listener has no TCP address");
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
