// `get` starts fast: it loads none of the controller's code paths, client-node or zod (checked by logging every
// module the real plugin process resolves while it prints a Rollout from a loopback API server). Of src/kube it
// loads only the request pipeline and the kubeconfig loader, which the plugin shares with the controller.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { type FakeApi, startFakeApi } from "./testing/fake-api.ts";
import { progressingRollout } from "./testing/fixtures.ts";

const MAIN = resolve(import.meta.dirname, "main.ts");
const HOOK = resolve(import.meta.dirname, "testing/log-imports.mjs");
let api: FakeApi;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), "vireo-startup-"));

describe("plugin start-up", () => {
  before(async () => {
    api = await startFakeApi((req) => {
      if (req.url.includes("/events")) return { status: 200, body: { items: [] } };
      if (req.url.includes("/deployments/")) return { status: 404, body: {} };
      return { status: 200, body: progressingRollout() };
    });
    kubeconfig = join(dir, "config");
    writeFileSync(
      kubeconfig,
      stringify({
        clusters: [{ name: "c", cluster: { server: api.url } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "shop" } }],
        "current-context": "x",
      }),
    );
  });
  after(() => api.close());

  it("get loads no controller, mesh or kube runtime modules (informers, elector…), nor client-node or zod", async () => {
    const log = join(dir, "imports.log");
    writeFileSync(log, "");
    // Asynchronously: the fake API server answers from this process's event loop.
    const r = await promisify(execFile)(
      process.execPath,
      ["--import", HOOK, MAIN, "get", "podinfo", `--kubeconfig=${kubeconfig}`],
      { encoding: "utf8", env: { ...process.env, VIREO_IMPORT_LOG: log } },
    );
    assert.match(r.stdout, /^Phase:\s+Progressing$/m);
    const loaded = readFileSync(log, "utf8").split("\n").filter(Boolean);
    assert.ok(
      loaded.some((u) => u.includes("/src/cli/commands/get.ts")),
      "the log works",
    );
    const heavy = loaded.filter((u) =>
      /\/src\/(controller|kube\/(?!(clients|errors|request-verb|token-bucket|backoff-gate|retry-after|clock|watch-events)\.ts|kubeconfig\/)|mesh|analysis|notify|workload\/(?!names)|telemetry)\/?|@kubernetes\/client-node|\/zod\/|\/src\/api\/(rollout-schema|validate)\.ts/.test(
        u,
      ),
    );
    assert.deepEqual(heavy, []);
  });
});
