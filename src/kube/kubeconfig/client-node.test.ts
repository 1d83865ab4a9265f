// The client-node path through the request pipeline, against loopback servers: a real exec plugin process
// (refreshed at expirationTimestamp and after a 401, one run for concurrent requests, the event loop free while
// it runs) and a real CONNECT proxy (its agent kept, so the server's own address is never dialled).
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { createKubeClients } from "../clients.ts";
import { startConnectProxy, startTrap } from "../testing/connect-proxy.ts";
import { loadKubeconfig } from "./load.ts";

const dir = mkdtempSync(join(tmpdir(), "vireo-client-node-"));
const revoked = new Set<string>();
const seen: string[] = [];
let api: Server;
let apiUrl: string;

/** An exec credential plugin: counts its runs, waits SLEEP_MS, mints tok-N valid for TTL_MS. */
const PLUGIN = join(dir, "plugin.mjs");
writeFileSync(
  PLUGIN,
  `import { appendFileSync, readFileSync } from "node:fs";
const log = process.env.RUNS_FILE;
appendFileSync(log, process.env.KUBERNETES_EXEC_INFO + "\\n");
const n = readFileSync(log, "utf8").split("\\n").filter(Boolean).length;
await new Promise((r) => setTimeout(r, Number(process.env.SLEEP_MS)));
const expirationTimestamp = new Date(Date.now() + Number(process.env.TTL_MS)).toISOString();
process.stdout.write(JSON.stringify({
  apiVersion: "client.authentication.k8s.io/v1",
  kind: "ExecCredential",
  status: { token: process.env.PREFIX + n, expirationTimestamp },
}));
`,
);

let configs = 0;
function execKubeconfig(prefix: string, ttlMs: number, sleepMs = 0): { path: string; runs: () => string[] } {
  const runsFile = join(dir, `${prefix}runs`);
  writeFileSync(runsFile, "");
  const env = { RUNS_FILE: runsFile, TTL_MS: String(ttlMs), SLEEP_MS: String(sleepMs), PREFIX: prefix };
  const path = join(dir, `exec-${++configs}.yaml`);
  writeFileSync(
    path,
    stringify({
      clusters: [{ name: "c", cluster: { server: apiUrl, "insecure-skip-tls-verify": true } }],
      users: [
        {
          name: "u",
          user: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: process.execPath,
              args: [PLUGIN],
              env: Object.entries(env).map(([name, value]) => ({ name, value })),
              interactiveMode: "Never",
            },
          },
        },
      ],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  return { path, runs: () => readFileSync(runsFile, "utf8").split("\n").filter(Boolean) };
}

async function clientsFor(path: string) {
  const loaded = await loadKubeconfig({ path });
  assert.equal(loaded.via, "client-node");
  return createKubeClients(loaded.connection, { qps: Number.POSITIVE_INFINITY });
}

const lastToken = () => seen.at(-1);

before(async () => {
  api = createServer((req, res) => {
    const token = req.headers.authorization?.replace(/^Bearer /, "") ?? "";
    seen.push(token);
    const ok = token !== "" && !revoked.has(token);
    res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
    res.end(JSON.stringify(ok ? { kind: "NamespaceList", items: [] } : { kind: "Status", code: 401 }));
  });
  api.listen(0, "127.0.0.1");
  await once(api, "listening");
  apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
});
after(() => api.close());

describe("client-node path: exec credentials", () => {
  it("one plugin run serves concurrent requests, and the event loop keeps turning while it runs", async () => {
    const kc = execKubeconfig("conc-", 3_600_000, 400);
    const clients = await clientsFor(kc.path);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      await Promise.all([1, 2, 3, 4, 5].map(() => clients.request({ path: "/api/v1/namespaces" })));
    } finally {
      clearInterval(ticker);
    }
    assert.equal(kc.runs().length, 1, "one run for five concurrent requests");
    assert.ok(ticks >= 20, `timers ran ${ticks} times during a 400 ms plugin run`);
    assert.deepEqual(seen.slice(-5), ["conc-1", "conc-1", "conc-1", "conc-1", "conc-1"]);
    const info = JSON.parse(kc.runs()[0] ?? "{}");
    assert.deepEqual(info, {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      spec: { interactive: false },
    });
  });

  it("runs the plugin again once the credential's expirationTimestamp has passed", async () => {
    const kc = execKubeconfig("ttl-", 1000);
    const clients = await clientsFor(kc.path);
    await clients.request({ path: "/api/v1/namespaces" });
    await clients.request({ path: "/api/v1/namespaces" });
    assert.equal(lastToken(), "ttl-1");
    assert.equal(kc.runs().length, 1, "cached until it expires");
    await new Promise((r) => setTimeout(r, 1200));
    await clients.request({ path: "/api/v1/namespaces" });
    assert.equal(lastToken(), "ttl-2");
    assert.equal(kc.runs().length, 2);
  });

  it("after a 401 gets a fresh credential and retries once; concurrent 401s cost one plugin run", async () => {
    const kc = execKubeconfig("rev-", 3_600_000);
    const clients = await clientsFor(kc.path);
    await clients.request({ path: "/api/v1/namespaces" });
    revoked.add("rev-1");
    await clients.request({ path: "/api/v1/namespaces" });
    assert.deepEqual(seen.slice(-2), ["rev-1", "rev-2"]);
    revoked.add("rev-2");
    await Promise.all([1, 2, 3].map(() => clients.request({ path: "/api/v1/namespaces" })));
    assert.equal(kc.runs().length, 3, "one run per revocation");
    assert.equal(lastToken(), "rev-3");
    // A watch is retried the same way.
    revoked.add("rev-3");
    const body = await clients.stream({ path: "/api/v1/namespaces", query: { watch: true } });
    await body.cancel();
    assert.equal(lastToken(), "rev-4");
  });
});

describe("client-node path: proxy-url", () => {
  it("requests and watches go through the proxy; the server's own address is never dialled", async () => {
    const trap = await startTrap();
    const proxy = await startConnectProxy({ [`127.0.0.1:${trap.port}`]: apiUrl.replace("http://", "") });
    try {
      const path = join(dir, "proxied.yaml");
      writeFileSync(
        path,
        stringify({
          clusters: [
            {
              name: "c",
              cluster: {
                server: `http://127.0.0.1:${trap.port}`,
                "proxy-url": proxy.url,
                "insecure-skip-tls-verify": true,
              },
            },
          ],
          users: [{ name: "u", user: { token: "via-proxy" } }],
          contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
          "current-context": "x",
        }),
      );
      const clients = await clientsFor(path);
      await clients.request({ path: "/api/v1/namespaces" });
      const body = await clients.stream({ path: "/api/v1/namespaces", query: { watch: true } });
      await body.cancel();
      assert.equal(lastToken(), "via-proxy");
      assert.equal(trap.dials(), 0, "no direct dial");
      assert.ok(proxy.tunnels() >= 2, `tunnels: ${proxy.tunnels()}`);
      assert.deepEqual(proxy.refused(), []);
    } finally {
      await proxy.close();
      await trap.close();
    }
  });
});
