// Tests of the kubeconfig loader: certificates, tokens, token files, basic auth and in-cluster config.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { fromKubeconfigText, loadConnection, NeedsPluginAuth } from "./connection.ts";

const doc = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "other", cluster: { server: "https://wrong:1" } },
      { name: "c", cluster: { server: "https://k.example:6443/", ...cluster } },
    ],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    "current-context": "ctx",
  });

async function optionsOf(text: string): Promise<RequestOptions & { headers?: Record<string, string> }> {
  const o: RequestOptions = {};
  await (await fromKubeconfigText(text)).authenticate(o);
  return o as RequestOptions & { headers?: Record<string, string> };
}

describe("kubeconfig connection", () => {
  it("uses the current context's cluster, inline CA and client certificate", async () => {
    const ca = Buffer.from("CA PEM").toString("base64");
    const text = doc(
      {
        "client-certificate-data": Buffer.from("CERT").toString("base64"),
        "client-key-data": Buffer.from("KEY").toString("base64"),
      },
      { "certificate-authority-data": ca },
    );
    assert.equal((await fromKubeconfigText(text)).server, "https://k.example:6443");
    const o = await optionsOf(text);
    assert.equal(String(o.ca), "CA PEM");
    assert.equal(String(o.cert), "CERT");
    assert.equal(String(o.key), "KEY");
    assert.equal(o.headers?.Authorization, undefined);
  });

  it("sends a static token, a token file's content, or basic auth; honours insecure-skip-tls-verify", async () => {
    const o = await optionsOf(doc({ token: "abc" }, { "insecure-skip-tls-verify": true }));
    assert.equal(o.headers?.Authorization, "Bearer abc");
    assert.equal(o.rejectUnauthorized, false);
    const dir = mkdtempSync(join(tmpdir(), "vireo-kc-"));
    writeFileSync(join(dir, "token"), "from-file\n");
    const f = await optionsOf(doc({ tokenFile: join(dir, "token") }));
    assert.equal(f.headers?.Authorization, "Bearer from-file");
    const b = await optionsOf(doc({ username: "me", password: "pw" }));
    assert.equal(b.headers?.Authorization, `Basic ${Buffer.from("me:pw").toString("base64")}`);
  });

  it("refuses plugin users with NeedsPluginAuth so the caller can fall back", async () => {
    await assert.rejects(
      fromKubeconfigText(doc({ exec: { command: "aws" } })),
      (e: unknown) => e instanceof NeedsPluginAuth,
    );
  });

  it("loads the file named by $KUBECONFIG (YAML or JSON), and reports a missing current context", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vireo-kc-"));
    writeFileSync(join(dir, "config"), doc({ token: "t" }));
    const yaml = await loadConnection(undefined, { KUBECONFIG: join(dir, "config") });
    assert.equal(yaml.server, "https://k.example:6443");
    const json = await optionsOf(JSON.stringify(parse(doc({ token: "j" }))));
    assert.equal(json.headers?.Authorization, "Bearer j");
    await assert.rejects(fromKubeconfigText("apiVersion: v1\nkind: Config\n"), /current context/);
  });
});
