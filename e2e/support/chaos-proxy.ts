// A TCP proxy in front of the API server for chaos tests: cut connections abruptly or freeze them without closing.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/**
 * A TCP proxy in front of the API server, so tests can cut connections abruptly (RST) or freeze them (the
 * "watch silently stops delivering" failure) without touching the control plane. TLS passes through untouched.
 */
export class ChaosProxy {
  readonly #server: Server;
  readonly #pairs = new Set<{ client: Socket; upstream: Socket }>();
  #refuse = false;
  port = 0;

  constructor(target: URL) {
    this.#server = createServer((client) => {
      if (this.#refuse) {
        client.resetAndDestroy();
        return;
      }
      const upstream = tcpConnect(Number(target.port), target.hostname);
      const pair = { client, upstream };
      this.#pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = (): void => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  /** Abruptly resets every open connection (TCP RST), as a crashed LB or API server would. */
  resetAll(): number {
    const n = this.#pairs.size;
    for (const { client, upstream } of this.#pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    return n;
  }

  /** Stops forwarding on existing connections while keeping them open (new connections still work). */
  freezeExisting(): number {
    for (const { client, upstream } of this.#pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
    return this.#pairs.size;
  }

  /** Refuses (resets) new connections and resets existing ones: the API server is unreachable. */
  setRefusing(refuse: boolean): void {
    this.#refuse = refuse;
    if (refuse) this.resetAll();
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

/**
 * Writes a copy of the kubeconfig at `from` whose server is the proxy (the serving certificate covers 127.0.0.1, so
 * TLS still verifies), for a controller process whose connections a test wants to cut.
 */
export function kubeconfigVia(proxy: ChaosProxy, from: string, to: string): string {
  const text = readFileSync(from, "utf8").replace(
    /server: https:\/\/127\.0\.0\.1:\d+/,
    `server: https://127.0.0.1:${proxy.port}`,
  );
  if (!text.includes(`127.0.0.1:${proxy.port}`)) throw new Error(`no server line to redirect in ${from}`);
  writeFileSync(to, text, { mode: 0o600 });
  return to;
}
