// A loopback webhook-check receiver for e2e tests: answers each POST with the status the test chooses (optionally
// after a delay) and records every request's Idempotency-Key, parsed body and answer.
import { bodyText, LoopbackServer } from "./loopback-server.ts";

/** One request the receiver got. */
export interface ReceiverHit {
  key: string;
  body: Record<string, unknown>;
  status: number;
}

/** What to answer a request with: a status, and how long to hold the answer first. */
export type Answer = (body: Record<string, unknown>) => { status: number; delayMs?: number };

/** A receiver on 127.0.0.1 (a free port); the body it answers is fixed text that must never reach status. */
export class CheckReceiver extends LoopbackServer {
  readonly hits: ReceiverHit[] = [];
  constructor(answer: number | Answer) {
    const answerOf: Answer = typeof answer === "number" ? () => ({ status: answer }) : answer;
    super(async (req, res) => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(await bodyText(req));
      } catch {}
      const { status, delayMs } = answerOf(body);
      this.hits.push({ key: String(req.headers["idempotency-key"] ?? ""), body, status });
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      res.writeHead(status).end("secret-body-text");
    });
  }
  /** The receiver's URL with `path` (default /hook). */
  override url(path = "/hook"): string {
    return super.url(path);
  }
}
