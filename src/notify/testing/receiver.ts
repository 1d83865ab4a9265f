// Test helper: a real loopback webhook receiver whose answers are scripted per request.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the receiver got. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** performance.now() at arrival. */
  at: number;
}

/** How to answer; `hang` never answers (until the receiver closes). */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  hang?: boolean;
}

/** A running receiver. */
export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 (`port` 0 = any free one) answering with `reply(request, index)`. */
export async function startReceiver(
  reply: (r: Received, index: number) => Reply = () => ({}),
  port = 0,
): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    const r: Received = { path: req.url ?? "", headers: req.headers, body, at: performance.now() };
    received.push(r);
    const a = reply(r, received.length - 1);
    if (a.hang) return;
    res.writeHead(a.status ?? 200, { "content-type": "text/plain", ...a.headers });
    res.end(a.body ?? "ok");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls `cond` every 10 ms until true; fails after `timeoutMs`. */
export async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
