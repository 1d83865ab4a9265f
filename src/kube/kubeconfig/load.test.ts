// The shared kubeconfig loader: kubectl's merge and paths, the built-in path's credentials, in-cluster, and the
// allow-list boundary (what goes to client-node, what is refused by name).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { KubeconfigError } from "./document.ts";
import { type KubeconfigSource, loadKubeconfig } from "./load.ts";

const dir = mkdtempSync(join(tmpdir(), "vireo-kubeconfig-"));
let files = 0;

/** Writes a kubeconfig (YAML unless `json`) into its own folder and returns its path. */
function write(doc: unknown, opts: { json?: boolean; folder?: string } = {}): string {
  const folder = join(dir, opts.folder ?? `f${++files}`);
  mkdirSync(folder, { recursive: true });
  const path = join(folder, opts.json ? "config.json" : "config");
  writeFileSync(path, opts.json ? JSON.stringify(doc) : stringify(doc));
  return path;
}

const config = (
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
  context: Record<string, unknown> = {},
) => ({
  apiVersion: "v1",
  kind: "Config",
  clusters: [
    { name: "other", cluster: { server: "https://wrong:1" } },
    { name: "c", cluster: { server: "https://k.example:6443/", ...cluster } },
  ],
  users: [{ name: "u", user }],
  contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...context } }],
  "current-context": "ctx",
});

async function requestOf(source: KubeconfigSource) {
  const loaded = await loadKubeconfig(source);
  const o: RequestOptions = {};
  await loaded.connection.authenticate(o);
  return { loaded, o, auth: (o.headers as Record<string, string> | undefined)?.Authorization };
}

describe("kubeconfig loader: built-in path", () => {
  it("serves the current context's cluster, inline CA and client certificate without client-node", async () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const path = write(
      config(
        { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
        { "certificate-authority-data": b64("CA PEM"), "tls-server-name": "kubernetes" },
      ),
    );
    const { loaded, o, auth } = await requestOf({ path });
    assert.equal(loaded.via, "built-in");
    assert.equal(loaded.connection.server, "https://k.example:6443");
    assert.equal(loaded.contextName, "ctx");
    assert.equal(loaded.namespace, "default");
    assert.equal(String(o.ca), "CA PEM");
    assert.equal(String(o.cert), "CERT");
    assert.equal(String(o.key), "KEY");
    assert.equal(o.servername, "kubernetes");
    assert.equal(auth, undefined);
  });

  it("sends a static token or basic auth, honours insecure-skip-tls-verify, reads JSON too", async () => {
    const t = await requestOf({
      path: write(config({ token: "abc" }, { "insecure-skip-tls-verify": true })),
    });
    assert.equal(t.auth, "Bearer abc");
    assert.equal(t.o.rejectUnauthorized, false);
    const b = await requestOf({ path: write(config({ username: "me", password: "pw" }), { json: true }) });
    assert.equal(b.auth, `Basic ${Buffer.from("me:pw").toString("base64")}`);
  });

  it("reads tokenFile trimmed, relative to the kubeconfig's folder; after a 401 re-reads it at once", async () => {
    const path = write(config({ tokenFile: "token", token: "static-loses" }), { folder: "tf" });
    writeFileSync(join(dir, "tf", "token"), "first\n");
    const { loaded, o, auth } = await requestOf({ path });
    assert.equal(auth, "Bearer first");
    writeFileSync(join(dir, "tf", "token"), "second\n");
    // Within the minute the cached token is sent; a 401 re-reads the file and says a retry may help.
    const again: RequestOptions = {};
    await loaded.connection.authenticate(again);
    assert.equal((again.headers as Record<string, string>).Authorization, "Bearer first");
    assert.equal(await loaded.connection.rejected?.(o), true);
    const fresh: RequestOptions = {};
    await loaded.connection.authenticate(fresh);
    assert.equal((fresh.headers as Record<string, string>).Authorization, "Bearer second");
    assert.equal(await loaded.connection.rejected?.(fresh), false, "an unchanged file cannot help");
  });

  it("ignores keys that carry nothing for a connection (extensions, disable-compression)", async () => {
    const path = write(
      config(
        { token: "t", extensions: [{ name: "x", extension: {} }] },
        { "disable-compression": true, extensions: [{ name: "minikube", extension: { version: "1" } }] },
        { extensions: [] },
      ),
    );
    assert.equal((await loadKubeconfig({ path })).via, "built-in");
  });
});

describe("kubeconfig loader: kubectl's merge", () => {
  it("merges a $KUBECONFIG list (path.delimiter): the first current-context and the first of each name win", async () => {
    const a = write({ ...config({ token: "from-a" }), clusters: [], "current-context": "ctx" });
    const b = write({
      ...config({ token: "from-b" }, { server: "https://b:6443" }),
      "current-context": "elsewhere",
      contexts: [
        { name: "ctx", context: { cluster: "c", user: "u", namespace: "loses" } },
        { name: "shop", context: { cluster: "c", user: "u", namespace: "shop" } },
      ],
    });
    const list = [join(dir, "missing-is-skipped"), a, b].join(delimiter);
    const { loaded, auth } = await requestOf({ list });
    assert.equal(loaded.contextName, "ctx");
    assert.equal(loaded.connection.server, "https://b:6443", "cluster c is defined only in b");
    assert.equal(auth, "Bearer from-a", "user u: a's definition wins");
    assert.equal(loaded.namespace, "default");
    const shop = await loadKubeconfig({ list, context: "shop" });
    assert.equal(shop.namespace, "shop");
    // --kubeconfig is used alone, not merged with $KUBECONFIG.
    await assert.rejects(loadKubeconfig({ path: b, list: a }), /context "elsewhere" not found/);
  });

  it("resolves relative certificate paths against the folder of the file that names them", async () => {
    const a = write(
      {
        users: [{ name: "u", user: { "client-certificate": "certs/c.crt", "client-key": "certs/c.key" } }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
        "current-context": "ctx",
      },
      { folder: "rel-a" },
    );
    const b = write(
      { clusters: [{ name: "c", cluster: { server: "https://k:1", "certificate-authority": "ca.crt" } }] },
      {
        folder: "rel-b",
      },
    );
    mkdirSync(join(dir, "rel-a", "certs"));
    writeFileSync(join(dir, "rel-a", "certs", "c.crt"), "CERT-A");
    writeFileSync(join(dir, "rel-a", "certs", "c.key"), "KEY-A");
    writeFileSync(join(dir, "rel-b", "ca.crt"), "CA-B");
    const { o } = await requestOf({ list: `${a}${delimiter}${b}` });
    assert.deepEqual([String(o.cert), String(o.key), String(o.ca)], ["CERT-A", "KEY-A", "CA-B"]);
  });

  it("clear errors: no file, no current-context, an unknown context, cluster or user", async () => {
    await assert.rejects(loadKubeconfig({ path: join(dir, "none") }), /cannot read kubeconfig .*none/);
    await assert.rejects(loadKubeconfig({ list: join(dir, "none") }), /no kubeconfig found/);
    const noCurrent = write({ ...config({}), "current-context": "" });
    await assert.rejects(loadKubeconfig({ path: noCurrent }), /no current-context .*pass --context/);
    await assert.rejects(
      loadKubeconfig({ path: noCurrent, context: "nope" }),
      /context "nope" not found in kubeconfig/,
    );
    const orphan = write({ ...config({}), users: [], clusters: [] });
    await assert.rejects(loadKubeconfig({ path: orphan }), /cluster "c" of context "ctx" not found/);
    const noUser = write({ ...config({}), users: [] });
    await assert.rejects(loadKubeconfig({ path: noUser }), /user "u" of context "ctx" not found/);
  });
});

describe("kubeconfig loader: in-cluster", () => {
  const sa = join(dir, "sa");
  mkdirSync(sa);
  writeFileSync(join(sa, "ca.crt"), "SA CA");
  writeFileSync(join(sa, "token"), "sa-token\n");
  writeFileSync(join(sa, "namespace"), "vireo-system\n");

  it("uses the ServiceAccount mount, brackets an IPv6 host, takes the mount's namespace", async () => {
    const { loaded, o, auth } = await requestOf({
      inCluster: { host: "fd00::1", port: "6443" },
      serviceAccountDir: sa,
      home: join(dir, "no-home"),
    });
    assert.equal(loaded.via, "in-cluster");
    assert.equal(loaded.connection.server, "https://[fd00::1]:6443");
    assert.equal(loaded.namespace, "vireo-system");
    assert.equal(String(o.ca), "SA CA");
    assert.equal(auth, "Bearer sa-token");
  });

  it("order: kubectl's (~/.kube/config first) unless preferInCluster (the controller); $KUBECONFIG beats both", async () => {
    const home = join(dir, "home");
    mkdirSync(join(home, ".kube"), { recursive: true });
    writeFileSync(join(home, ".kube", "config"), stringify(config({ token: "home" })));
    const inCluster = { host: "10.0.0.1", port: "443" };
    const base = { inCluster, serviceAccountDir: sa, home };
    assert.equal((await loadKubeconfig(base)).via, "built-in");
    assert.equal((await loadKubeconfig({ ...base, preferInCluster: true })).via, "in-cluster");
    const list = write(config({ token: "env" }));
    assert.equal((await loadKubeconfig({ ...base, list, preferInCluster: true })).via, "built-in");
  });
});

describe("kubeconfig loader: the allow-list boundary", () => {
  it("hands exec, auth-provider, proxy-url and impersonation (as) to client-node", async () => {
    for (const [user, cluster] of [
      [
        {
          exec: { apiVersion: "client.authentication.k8s.io/v1", command: "true", interactiveMode: "Never" },
        },
        {},
      ],
      [{ "auth-provider": { name: "oidc", config: {} } }, {}],
      [{ token: "t" }, { "proxy-url": "http://127.0.0.1:3128" }],
      [{ token: "t", as: "admin" }, {}],
    ] as const) {
      const loaded = await loadKubeconfig({ path: write(config(user, cluster)) });
      assert.equal(loaded.via, "client-node", JSON.stringify({ user, cluster }));
    }
    const { loaded, o } = await requestOf({ path: write(config({ token: "t", as: "admin" })) });
    assert.equal(loaded.connection.server, "https://k.example:6443");
    assert.equal((o.headers as Record<string, string>)["Impersonate-User"], "admin");
  });

  it("refuses, by name, a key neither path honours", async () => {
    const refused = async (user: Record<string, unknown>, cluster: Record<string, unknown>, re: RegExp) => {
      const path = write(config(user, cluster));
      await assert.rejects(loadKubeconfig({ path }), (e: unknown) => {
        assert.ok(e instanceof KubeconfigError, String(e));
        assert.match(e.message, re);
        assert.ok(e.message.includes(path), "names the file");
        return true;
      });
    };
    await refused({ token: "t", as: "a", "as-groups": ["g"] }, {}, /user "u" .*"as-groups" is not supported/);
    await refused({ token: "t", "as-uid": "1" }, {}, /"as-uid" is not supported/);
    await refused({ token: "t", "as-user-extra": { a: ["b"] } }, {}, /"as-user-extra" is not supported/);
    await refused({ tokne: "typo" }, {}, /user "u" .*"tokne" is not supported/);
    await refused({ token: "t" }, { proxy_url: "x" }, /cluster "c" .*"proxy_url" is not supported/);
    await refused(
      { tokenFile: "/t" },
      { "proxy-url": "http://127.0.0.1:3128" },
      /"tokenFile" cannot be combined with proxy-url: those are read by @kubernetes\/client-node, which ignores "tokenFile"/,
    );
    await refused({ exec: { command: "x", interactiveMode: "Always" } }, {}, /interactiveMode "Always"/);
    await refused({ exec: { command: "x", cmdArgs: [] } }, {}, /"exec\.cmdArgs" is not supported/);
  });
});
