import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { AddressPolicy } from "./address-policy.ts";
import { Egress } from "./egress.ts";
import type { Resolver } from "./guarded-agents.ts";

/** A loopback server that records each request's method and path. */
async function server(
  host: string,
  handle: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end("ok"),
  port = 0,
): Promise<{ url: string; port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const srv: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handle(req, res);
  });
  await new Promise<void>((r) => srv.listen(port, host, () => r()));
  const p = (srv.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${p}`,
    port: p,
    hits,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers) await c();
});
const signal = () => new AbortController().signal;

function egress(
  config: ConstructorParameters<typeof AddressPolicy>[0] = {},
  resolver?: Resolver,
  proxy?: string,
) {
  const e = new Egress({
    policy: new AddressPolicy(config),
    ...(resolver ? { resolver } : {}),
    ...(proxy ? { proxy } : {}),
  });
  closers.push(() => e.close());
  return e;
}

describe("Egress", () => {
  it("refuses loopback by default, for IP literals, mapped IPv6 and names, before any byte is sent", async () => {
    const admin = await server("127.0.0.1");
    closers.push(admin.close);
    const e = egress({}, async () => [{ address: "127.0.0.1", family: 4 }]);
    for (const url of [
      `${admin.url}/admin/shutdown`,
      `http://[::ffff:127.0.0.1]:${admin.port}/x`,
      `http://admin.internal.test:${admin.port}/x`,
    ]) {
      const a = await e.send({ url, method: "POST", body: "{}", signal: signal(), trust: "tenant" });
      assert.equal(a.outcome, "refused-by-policy", url);
      assert.equal(a.status, undefined);
      assert.equal(a.body, undefined);
    }
    assert.deepEqual(admin.hits, []);
    // The operator's own destinations are not checked.
    const op = await e.send({ url: `${admin.url}/ok`, signal: signal(), trust: "operator" });
    assert.equal(op.outcome, "2xx");
    assert.deepEqual(admin.hits, ["GET /ok"]);
  });

  it("checks the address the connection really uses: a name that rebinds to a refused address is refused", async () => {
    const allowed = await server("127.0.0.2");
    closers.push(allowed.close);
    // The same port on 127.0.0.1, which the policy refuses: where a rebinding name would point next.
    const internal = await server("127.0.0.1", undefined, allowed.port);
    closers.push(internal.close);
    const answers = ["127.0.0.2", "127.0.0.1"];
    let calls = 0;
    const e = egress({ allow: ["127.0.0.2/32"] }, async () => [
      { address: answers[Math.min(calls++, 1)] as string, family: 4 },
    ]);
    const url = `http://rebind.test:${allowed.port}/hook`;
    const first = await e.send({ url, signal: signal(), trust: "tenant", headers: { Connection: "close" } });
    assert.equal(first.outcome, "2xx");
    const second = await e.send({ url, signal: signal(), trust: "tenant" });
    assert.equal(second.outcome, "refused-by-policy");
    assert.match(second.detail ?? "", /127\.0\.0\.1 is loopback/);
    assert.deepEqual(allowed.hits, ["GET /hook"]);
    assert.deepEqual(internal.hits, []);
  });

  it("never opens the controller's own port, even on an allowed network", async () => {
    const self = await server("127.0.0.1");
    closers.push(self.close);
    const e = egress({
      allow: ["127.0.0.0/8"],
      protectedEndpoints: [{ cidr: "127.0.0.0/8", port: self.port, what: "the controller's own port" }],
    });
    const a = await e.send({ url: `${self.url}/metrics`, method: "POST", signal: signal(), trust: "tenant" });
    assert.equal(a.outcome, "refused-by-policy");
    assert.deepEqual(self.hits, []);
  });

  it("reduces answers to a class, follows no redirect and bounds time and size", async () => {
    const redirectTarget = await server("127.0.0.1");
    closers.push(redirectTarget.close);
    const dest = await server("127.0.0.1", (req, res) => {
      if (req.url === "/404") res.writeHead(404).end("secret-internal-text");
      else if (req.url === "/500") res.writeHead(500).end();
      else if (req.url === "/302") res.writeHead(302, { location: `${redirectTarget.url}/stolen` }).end();
      else if (req.url === "/slow") setTimeout(() => res.end("late"), 2000);
      else if (req.url === "/big") res.end("x".repeat(200_000));
      else res.writeHead(204).end();
    });
    closers.push(dest.close);
    const e = egress({ allow: ["127.0.0.0/8"] });
    const send = (path: string, extra: { timeoutMs?: number } = {}) =>
      e.send({ url: `${dest.url}${path}`, signal: signal(), trust: "tenant", ...extra });
    assert.equal((await send("/")).outcome, "2xx");
    const notFound = await send("/404");
    assert.equal(notFound.outcome, "4xx");
    assert.equal(notFound.status, 404, "the caller sees the status; the tenant only the class");
    assert.equal((await send("/500")).outcome, "5xx");
    assert.equal((await send("/302")).outcome, "3xx");
    assert.deepEqual(redirectTarget.hits, [], "redirects are not followed");
    assert.equal((await send("/slow", { timeoutMs: 200 })).outcome, "timeout");
    assert.equal((await send("/big")).outcome, "network");
    assert.equal(
      (await e.send({ url: "file:///etc/passwd", signal: signal(), trust: "tenant" })).outcome,
      "invalid-url",
    );
    assert.equal(
      (await e.send({ url: "not a url", signal: signal(), trust: "tenant" })).outcome,
      "invalid-url",
    );
  });

  it("rejects with the caller's reason when the caller aborts", async () => {
    const dest = await server("127.0.0.1", (_q, res) => setTimeout(() => res.end(), 2000));
    closers.push(dest.close);
    const e = egress({ allow: ["127.0.0.0/8"] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("shutting down")), 50);
    await assert.rejects(e.send({ url: dest.url, signal: ac.signal, trust: "tenant" }), /shutting down/);
  });

  it("ignores HTTP_PROXY, and uses --egress-proxy only when set, checking the destination first", async () => {
    const dest = await server("127.0.0.1");
    closers.push(dest.close);
    // A forward proxy that answers itself, recording the absolute URLs it was asked for.
    const proxy = await server("127.0.0.1", (_q, res) => res.end("via proxy"));
    closers.push(proxy.close);
    const saved = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = proxy.url;
    try {
      const direct = egress({ allow: ["127.0.0.2/32"], deny: [] });
      const allowedDest = await server("127.0.0.2");
      closers.push(allowedDest.close);
      const a = await direct.send({
        url: `${allowedDest.url}/x`,
        signal: signal(),
        trust: "tenant",
        viaProxy: true,
      });
      assert.equal(a.outcome, "2xx");
      assert.deepEqual(allowedDest.hits, ["GET /x"]);
      assert.deepEqual(proxy.hits, [], "the environment's proxy is never used");
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
    }
    const proxied = egress({ allow: ["127.0.0.2/32"] }, undefined, proxy.url);
    const refused = await proxied.send({
      url: `${dest.url}/admin`,
      signal: signal(),
      trust: "tenant",
      viaProxy: true,
    });
    assert.equal(refused.outcome, "refused-by-policy");
    assert.deepEqual(proxy.hits, [], "a refused destination is not handed to the proxy");
    const ok = await proxied.send({
      url: "http://127.0.0.2:9/hook",
      signal: signal(),
      trust: "tenant",
      viaProxy: true,
    });
    assert.equal(ok.outcome, "2xx");
    assert.deepEqual(proxy.hits, ["GET http://127.0.0.2:9/hook"]);
    assert.deepEqual(dest.hits, []);
  });
});
