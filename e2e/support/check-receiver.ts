// A loopback webhook-check receiver for e2e tests: answers each POST with the status the test chooses (optionally
// after a delay) and records every request's Idempotency-Key, parsed body and answer.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the receiver got. */
export interface ReceiverHit {
  key: string;
  body: Record<string, unknown>;
  status: number;
}

/** What to answer a request with: a status, and how long to hold the answer first. */
export type Answer = (body: Record<string, unknown>) => { status: number; delayMs?: number };

/** A receiver on 127.0.0.1 (a free port); the body it answers is fixed text that must never reach status. */
export class CheckReceiver {
  readonly hits: ReceiverHit[] = [];
  #server: Server | undefined;
  #answer: Answer;
  constructor(answer: number | Answer) {
    this.#answer = typeof answer === "number" ? () => ({ status: answer }) : answer;
  }
  /** The receiver's URL with `path`. */
  url(path = "/hook"): string {
    if (!this.#server) throw new Error("receiver not up");
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}${path}`;
  }
  async up(): Promise<void> {
    this.#server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {}
      const { status, delayMs } = this.#answer(body);
      this.hits.push({ key: String(req.headers["idempotency-key"] ?? ""), body, status });
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      res.writeHead(status).end("secret-body-text");
    });
    await new Promise<void>((r) => this.#server!.listen(0, "127.0.0.1", () => r()));
  }
  async down(): Promise<void> {
    const server = this.#server;
    // Never started (a failed before hook): nothing to close, and a close callback that never comes would hang.
    if (!server) return;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  }
}
