// An HTTP server on a loopback address for e2e tests (webhook receivers, JSON endpoints): listen, URL, close.
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP server on a loopback address that the tests' receivers wrap: `up()` listens (a free port unless one is
 * given), `url()` names it, `down()` closes it with every open connection, so an after hook never waits on a
 * keep-alive socket, and does nothing when `up()` never ran (a failed before hook).
 */
export class LoopbackServer {
  #server: Server | undefined;
  #host = "127.0.0.1";
  readonly #handler: RequestListener;

  constructor(handler: RequestListener) {
    this.#handler = handler;
  }

  /** The port listened on; 0 before `up()`. */
  get port(): number {
    return this.#server ? (this.#server.address() as AddressInfo).port : 0;
  }

  /** The server's URL with `path`. */
  url(path = "/"): string {
    if (!this.#server) throw new Error("loopback server not up");
    return `http://${this.#host}:${this.port}${path}`;
  }

  /** Listens on `host` and `port` (0: a free one); fails when the port is taken. */
  async up(host = "127.0.0.1", port = 0): Promise<void> {
    const server = createServer(this.#handler);
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.#host = host;
    this.#server = server;
  }

  /** Closes the server and every connection to it. */
  async down(): Promise<void> {
    const server = this.#server;
    if (!server) return; // never started: a close callback that never comes would hang the after hook
    this.#server = undefined;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }
}

/** A request's body as text. */
export async function bodyText(req: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
