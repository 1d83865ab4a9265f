// Test helpers: an HTTP CONNECT proxy on loopback that tunnels only to the targets it is given and counts its
// tunnels, and a trap port that counts (and drops) every direct dial, so a test can tell the proxy was used.
import { once } from "node:events";
import { createServer } from "node:http";
import { connect, createServer as createTcpServer, type Socket } from "node:net";

/** A running CONNECT proxy. */
export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`, for a kubeconfig's `proxy-url`. */
  readonly url: string;
  /** Tunnels opened so far. */
  tunnels(): number;
  /** CONNECT targets refused (not in the routes). */
  refused(): string[];
  close(): Promise<void>;
}

/**
 * Starts a proxy that answers `CONNECT host:port` for the targets in `routes` by tunnelling to the mapped
 * loopback address; any other target gets 403 and is never dialled.
 */
export async function startConnectProxy(routes: Record<string, string>): Promise<ConnectProxy> {
  let tunnels = 0;
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on("connect", (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    const target = routes[req.url ?? ""];
    if (!target) {
      refused.push(req.url ?? "");
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    const [host, port] = [
      target.slice(0, target.lastIndexOf(":")),
      Number(target.slice(target.lastIndexOf(":") + 1)),
    ];
    const upstream = connect(port, host, () => {
      tunnels++;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.once("error", drop);
    client.once("error", drop);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels: () => tunnels,
    refused: () => [...refused],
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A loopback port where every connection is counted and dropped: the address a kubeconfig names but must not dial. */
export async function startTrap(): Promise<{ port: number; dials(): number; close(): Promise<void> }> {
  let dials = 0;
  const server = createTcpServer((s) => {
    dials++;
    s.destroy();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port,
    dials: () => dials,
    close: async () => {
      server.close();
      await once(server, "close");
    },
  };
}
