// The informer and the real request pipeline over half-open connections (a NAT or load balancer that dropped them
// without a reset): the silence watchdog relists a frozen watch, the request timeout ends a frozen list.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { createKubeClients } from "./clients.ts";
import { Informer } from "./informer.ts";

/**
 * A loopback API server for one ConfigMap whose connections can be made half-open: after {@link freeze} a
 * connection open at that moment still accepts requests but never answers or streams anything again (a NAT or
 * load balancer that dropped it without a reset), while new connections are served as usual. Watches replay
 * what happened after their resourceVersion, as the API server's watch cache does.
 */
function halfOpenApi() {
  let rv = 10;
  let value = "a";
  const events: Array<{ rv: number; line: string }> = [];
  const sockets = new Set<Socket>();
  const frozen = new WeakSet<Socket>();
  const watchers = new Set<{ socket: Socket; send(line: string): void }>();
  const state = { freezeOnNextList: false, lists: 0 };
  const object = () => ({
    metadata: { name: "c", namespace: "ns", resourceVersion: String(rv) },
    data: { v: value },
  });
  const freeze = () => {
    for (const s of sockets) frozen.add(s);
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.searchParams.get("watch") === "true") {
      if (frozen.has(req.socket)) return;
      res.writeHead(200, { "content-type": "application/json" });
      const w = {
        socket: req.socket,
        send: (line: string) => {
          if (!frozen.has(req.socket)) res.write(`${line}\n`);
        },
      };
      watchers.add(w);
      const from = Number(url.searchParams.get("resourceVersion") ?? 0);
      for (const e of events) if (e.rv > from) w.send(e.line);
      const end = setTimeout(
        () => {
          if (!frozen.has(req.socket)) res.end();
        },
        Number(url.searchParams.get("timeoutSeconds")) * 1000,
      );
      res.on("close", () => {
        watchers.delete(w);
        clearTimeout(end);
      });
      return;
    }
    state.lists++;
    if (state.freezeOnNextList) {
      // The freeze lands while this list is in flight: its answer, like every other on an old connection, never comes.
      state.freezeOnNextList = false;
      freeze();
    }
    if (frozen.has(req.socket)) return;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ kind: "ConfigMapList", metadata: { resourceVersion: String(rv) }, items: [object()] }),
    );
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    server,
    state,
    freeze,
    /** Changes the ConfigMap and streams the change to every watch that still delivers. */
    change(v: string): void {
      value = v;
      rv++;
      const line = JSON.stringify({ type: "MODIFIED", object: object() });
      events.push({ rv, line });
      for (const w of watchers) w.send(line);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Polls until `f` holds or `ms` pass; returns how long it took, or -1. */
async function within(ms: number, f: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (f()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return -1;
}

describe("Informer over half-open connections (real loopback server and pipeline)", () => {
  let api: ReturnType<typeof halfOpenApi>;
  let server: Server;
  before(async () => {
    api = halfOpenApi();
    server = api.server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  after(() => api.close());

  /** Real time, scaled down: 400 ms of silence, 300 ms per request, watches the server ends every second. */
  function informer() {
    const clients = createKubeClients(
      { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, authenticate() {} },
      { qps: Number.POSITIVE_INFINITY, requestTimeoutMs: 300 },
    );
    return new Informer<V1ConfigMap>({
      clients,
      resource: { group: "", version: "v1", plural: "configmaps" },
      namespace: "ns",
      silenceLimitMs: 400,
      watchTimeoutSeconds: 1,
      backoffBaseMs: 50,
      backoffMaxMs: 200,
      resyncPeriodMs: 0,
    });
  }

  it("every connection frozen mid-watch: the change made after the cut arrives through a relist on a new one", async () => {
    const inf = informer();
    inf.start();
    await inf.waitForSync();
    await new Promise((r) => setTimeout(r, 200)); // the watch is open
    api.freeze();
    api.change("after-cut");
    const ms = await within(5000, () => inf.get("ns", "c")?.data?.v === "after-cut");
    await inf.stop();
    assert.ok(ms >= 0, `never saw the change (${JSON.stringify(inf.stats())})`);
    assert.ok(inf.stats().watchdogRestarts >= 1, "the watchdog, not a server close, ended the frozen watch");
  });

  it("frozen while a list is in flight: the request timeout ends it and a retry on a new connection syncs", async () => {
    api.state.freezeOnNextList = true;
    const lists = api.state.lists;
    const inf = informer();
    inf.start();
    const ms = await within(5000, () => inf.hasSynced());
    await inf.stop();
    assert.ok(ms >= 0, `never synced (${JSON.stringify(inf.stats())})`);
    assert.ok(api.state.lists >= lists + 2, "the frozen list was retried");
  });
});
