// The plugin's API client against a real loopback server: auth, errors, watches.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { loadKubeconfig } from "../kube/kubeconfig/load.ts";
import { ApiError } from "./errors.ts";
import { createKubeClient } from "./kube-client.ts";
import { getRollout, requestToken, writeRequest } from "./rollout-api.ts";
import { type FakeApi, startFakeApi, status } from "./testing/fake-api.ts";

let api: FakeApi;
const dir = mkdtempSync(join(tmpdir(), "vireo-cli-"));

function kubeconfig(name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(doc));
  return path;
}

const config = (server: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Config",
  clusters: [{ name: "c", cluster: { server } }],
  users: [{ name: "u", user: { token: "secret-token" } }],
  contexts: [
    { name: "main", context: { cluster: "c", user: "u", namespace: "shop" } },
    { name: "other", context: { cluster: "c", user: "u" } },
  ],
  "current-context": "main",
  ...extra,
});

describe("kube client", () => {
  before(async () => {
    api = await startFakeApi((req, res) => {
      if (req.url.includes("/rollouts/missing"))
        return status(404, "NotFound", 'rollouts.vireo.dev "missing" not found');
      if (req.method === "PATCH" && req.url.includes("/rollouts/locked"))
        return status(
          403,
          "Forbidden",
          'rollouts.vireo.dev "locked" is forbidden: User "viewer" cannot patch resource "rollouts" in API group "vireo.dev" in the namespace "shop"',
        );
      if (req.url.includes("watch=true")) {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "a" } } })}\n{"type":"MOD`);
        setTimeout(() => res.end(`IFIED","object":{"metadata":{"name":"b"}}}\n`), 20);
        return undefined;
      }
      return { status: 200, body: { metadata: { name: "podinfo", namespace: "shop" }, spec: {} } };
    });
  });
  after(() => api.close());

  let configs = 0;
  const clientFor = async (server: string) =>
    createKubeClient(await loadKubeconfig({ path: kubeconfig(`${++configs}.yaml`, config(server)) }));
  const client = () => clientFor(api.url);

  it("sends the bearer token and reads JSON", async () => {
    const r = await getRollout(await client(), "shop", "podinfo");
    assert.equal(r.metadata.name, "podinfo");
    const last = api.seen.at(-1);
    assert.equal(last?.url, "/apis/vireo.dev/v1alpha1/namespaces/shop/rollouts/podinfo");
    assert.equal(last?.headers.authorization, "Bearer secret-token");
  });

  it("not found names the Rollout and namespace", async () => {
    await assert.rejects(getRollout(await client(), "shop", "missing"), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.message, 'rollouts.vireo.dev "missing" not found in namespace "shop"');
      return true;
    });
  });

  it("forbidden names the verb and resource, and keeps the API server's words", async () => {
    await assert.rejects(writeRequest(await client(), "shop", "locked", "promote", "t1"), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 403);
      assert.match(
        e.message,
        /^forbidden: you may not patch rollouts\.vireo\.dev "locked" in namespace "shop" \(API server: .*cannot patch resource "rollouts"/,
      );
      return true;
    });
  });

  it("a request is a merge patch of one annotation, as kubectl annotate writes it", async () => {
    await writeRequest(await client(), "shop", "podinfo", "abort", "v1");
    const last = api.seen.at(-1);
    assert.equal(last?.method, "PATCH");
    assert.equal(last?.headers["content-type"], "application/merge-patch+json");
    assert.match(last?.url ?? "", /fieldManager=kubectl-vireo/);
    assert.deepEqual(JSON.parse(last?.body ?? ""), {
      metadata: { annotations: { "vireo.dev/abort": "v1" } },
    });
  });

  it("watch splits the stream into events across chunk boundaries", async () => {
    const names: string[] = [];
    await (await client()).watch<{ metadata: { name: string } }>(
      { path: "/apis/vireo.dev/v1alpha1/rollouts", target: { verb: "watch", resource: "rollouts" } },
      (e) => names.push(`${e.type}:${e.object.metadata.name}`),
    );
    assert.deepEqual(names, ["ADDED:a", "MODIFIED:b"]);
  });

  it("an unreachable server is a one-line error", async () => {
    const c = await clientFor("http://127.0.0.1:1");
    await assert.rejects(getRollout(c, "a", "b"), /cannot reach the API server http:\/\/127\.0\.0\.1:1/);
  });

  it("request tokens are fresh", () => {
    const now = new Date("2026-12-01T12:00:00Z");
    const a = requestToken(now);
    assert.match(a, /^20261201T120000Z-[0-9a-f]{6}$/);
    assert.notEqual(a, requestToken(now));
  });
});
