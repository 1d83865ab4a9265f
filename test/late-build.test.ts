// Which e2e files wait for the late data-plane build (test/late-build.ts): the import scan on fixture trees, on the
// real e2e files, and the wait for .ci/run's background build, ended by a real child process writing its exit code.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { awaitLateBuild, needsLateBuild } from "./late-build.ts";

const ROOT = join(import.meta.dirname, "..");
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temporary tree holding `files` (path → source). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "vireo-late-"));
  dirs.push(root);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  return root;
}

describe("needsLateBuild", () => {
  const root = tree({
    "e2e/dataplane/traefik.ts": `export const traefik = 1;\n`,
    "e2e/cluster/istiod.ts": `export const istiod = 1;\n`,
    "e2e/cluster/cluster.ts": `import { istiod } from "./istiod.ts";\n`,
    "e2e/plain.test.ts": `import { x } from "node:fs";\nimport { c } from "./cluster/cluster.ts";\n`,
    "e2e/direct.test.ts": `import { c } from "./cluster/cluster.ts";\nimport {\n  istiod,\n} from "./cluster/istiod.ts";\n`,
    "e2e/nested/nested.test.ts": `import { traefik } from "../dataplane/traefik.ts";\n`,
    "e2e/browser.test.ts": `import { chromium } from "playwright-core";\n`,
    "e2e/dynamic.test.ts": `const m = await import("./dataplane/traefik.ts");\n`,
    "e2e/side-effect.test.ts": `import "./dataplane/traefik.ts";\n`,
    "e2e/elsewhere.test.ts": `import { t } from "./support/dataplane/traefik.ts";\n`,
  });

  for (const [file, expected] of [
    ["e2e/plain.test.ts", false],
    ["e2e/direct.test.ts", true],
    ["e2e/nested/nested.test.ts", true],
    ["e2e/browser.test.ts", true],
    ["e2e/dynamic.test.ts", true],
    ["e2e/side-effect.test.ts", true],
    ["e2e/elsewhere.test.ts", false],
  ] as const)
    it(`${file}: ${expected ? "waits" : "runs at once"}`, () => {
      assert.equal(needsLateBuild(file, root), expected);
    });

  it("on this repository's e2e files: the data-plane files wait, the control-plane files do not", () => {
    for (const f of [
      "e2e/traefik-routes.test.ts",
      "e2e/istio-grpc.test.ts",
      "e2e/istio/istio-harness.test.ts",
      "e2e/dashboard-browser.test.ts",
    ])
      assert.ok(needsLateBuild(f, ROOT), f);
    for (const f of ["e2e/smoke.test.ts", "e2e/robustness.test.ts", "e2e/status-budget.test.ts"])
      assert.ok(!needsLateBuild(f, ROOT), f);
  });
});

describe("awaitLateBuild", () => {
  /** Runs .ci/run's way of ending the build: a shell that exits `code`, then writes it to `dir/rc` via a rename. */
  const build = (dir: string, code: number) =>
    spawn("bash", [
      "-c",
      `sleep 0.3; echo built >"$0/log"; (exit ${code}) && rc=0 || rc=$?; echo $rc >"$0/rc.tmp"; mv "$0/rc.tmp" "$0/rc"`,
      dir,
    ]);

  it("returns once the build wrote its exit code, and said it was waiting", async () => {
    const dir = tree({});
    const lines: string[] = [];
    build(dir, 0);
    const result = await awaitLateBuild(dir, (l) => lines.push(l));
    assert.deepEqual(result, { ok: true, code: 0, logTail: "" });
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /waiting for the data-plane build \(0 s so far/);
  });

  it("a failed build: its exit code and the end of its log", async () => {
    const dir = tree({});
    build(dir, 3);
    const result = await awaitLateBuild(dir, () => {});
    assert.equal(result.ok, false);
    assert.equal(result.code, 3);
    assert.match(result.logTail, /built/);
  });
});
