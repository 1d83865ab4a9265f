// Test helper: a real loopback HTTP server speaking Prometheus's /api/v1/query wire format, scripted per test.
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

/** One request the fake received, with form/query parameters merged. */
export interface RecordedQuery {
  method: string;
  path: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
}

/** What to answer; `delayMs` holds the response back (to provoke timeouts). */
export interface FakeAnswer {
  status?: number;
  body?: unknown;
  /** Raw text instead of JSON. */
  text?: string;
  delayMs?: number;
}

/** A running fake Prometheus. */
export interface FakePrometheus {
  url: string;
  requests: RecordedQuery[];
  close(): Promise<void>;
}

/** Starts a fake on 127.0.0.1:0 answering each request with `answer(request)`. */
export async function startFakePrometheus(
  answer: (q: RecordedQuery) => FakeAnswer | Promise<FakeAnswer>,
  tls?: { key: string; cert: string },
): Promise<FakePrometheus> {
  const requests: RecordedQuery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const handler: RequestListener = async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", "http://x");
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (req.method === "POST")
      Object.assign(params, Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString())));
    const q: RecordedQuery = { method: req.method ?? "", path: url.pathname, params, headers: req.headers };
    requests.push(q);
    const a = await answer(q);
    const send = () => {
      if (res.destroyed) return;
      const text = a.text ?? JSON.stringify(a.body ?? {});
      res.writeHead(a.status ?? 200, { "content-type": a.text ? "text/plain" : "application/json" });
      res.end(text);
    };
    if (a.delayMs) {
      const t = setTimeout(() => {
        timers.delete(t);
        send();
      }, a.delayMs);
      timers.add(t);
    } else send();
  };
  const server: Server = tls ? createTlsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A success envelope with an instant vector of the given values (labels `i`). */
export function vector(...values: string[]): unknown {
  return {
    status: "success",
    data: {
      resultType: "vector",
      result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1_700_000_000.123, v] })),
    },
  };
}

/** A success envelope with a scalar. */
export function scalar(value: string): unknown {
  return { status: "success", data: { resultType: "scalar", result: [1_700_000_000.123, value] } };
}

/** An error envelope. */
export function promError(errorType: string, error: string): unknown {
  return { status: "error", errorType, error };
}
