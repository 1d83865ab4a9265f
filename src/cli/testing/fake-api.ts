// A loopback HTTP server standing in for kube-apiserver in unit tests: scripted answers, recorded requests.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

/** A request the fake API server received. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A running fake API server. */
export interface FakeApi {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** Starts a server answering each request with `answer` (status and JSON body, or a raw writer). */
export async function startFakeApi(
  answer: (req: Seen, res: ServerResponse) => { status: number; body: unknown } | undefined,
): Promise<FakeApi> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(s);
      const a = answer(s, res);
      if (!a) return;
      res.writeHead(a.status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A Kubernetes Status body. */
export function status(code: number, reason: string, message: string): { status: number; body: unknown } {
  return {
    status: code,
    body: { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message },
  };
}
