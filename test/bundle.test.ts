// deploy/bundle.ts: the controller bundle the image runs starts from plain JavaScript, evaluates every module it
// holds, and leaves client-node and yaml to be loaded lazily from node_modules.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleController, CONTROLLER_NODE_FLAGS } from "../deploy/bundle.ts";
import { USAGE } from "../src/config.ts";

describe("controller bundle", () => {
  let file: string;
  let text: string;
  before(async () => {
    // Next to the repository's node_modules is where the image puts it too: the lazy packages resolve from there.
    file = await bundleController(
      join(import.meta.dirname, "..", "dist", "controller", `test-${process.pid}.mjs`),
    );
    text = readFileSync(file, "utf8");
  });
  after(() => {
    rmSync(file, { force: true });
  });

  it("runs as plain JavaScript: --help prints the usage, a bad flag exits 2", () => {
    // Type stripping off: the bundle must not need it (that is what it saves).
    const help = spawnSync(process.execPath, ["--no-experimental-strip-types", file, "--help"], {
      encoding: "utf8",
    });
    assert.equal(help.status, 0, help.stderr);
    assert.equal(help.stderr.trim(), USAGE.trim());
    const bad = spawnSync(process.execPath, [file, "--workers=zero"], { encoding: "utf8" });
    assert.equal(bad.status, 2, bad.stderr);
  });

  it("is what the image's ENTRYPOINT runs, with CONTROLLER_NODE_FLAGS", () => {
    const dockerfile = readFileSync(join(import.meta.dirname, "..", "deploy", "Dockerfile"), "utf8");
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint, "no ENTRYPOINT");
    assert.deepEqual(JSON.parse(entrypoint), [
      "/nodejs/bin/node",
      ...CONTROLLER_NODE_FLAGS,
      "/app/dist/controller/main.mjs",
    ]);
    // The flags must be ones Node accepts (a typo would stop the image from starting).
    const run = spawnSync(process.execPath, [...CONTROLLER_NODE_FLAGS, "-e", "0"], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
  });

  it("imports client-node and yaml only dynamically, and holds no test code", () => {
    for (const pkg of ["@kubernetes/client-node", "yaml"]) {
      assert.doesNotMatch(text, new RegExp(`from "${pkg}"`), `${pkg} imported statically`);
      assert.match(text, new RegExp(`import\\("${pkg}"\\)`), `${pkg} not imported lazily`);
    }
    assert.doesNotMatch(text, /node:test|fast-check/);
    assert.doesNotMatch(text, /^\/\/ src\/.*\.test\.ts$/m);
  });

  it("is all ASCII and carries none of zod's locales: V8 keeps its source at one byte a character", () => {
    // One non-ASCII character anywhere made V8 hold the whole 3 MB source as UTF-16 (docs/benchmarks/memory.md).
    const wide = [...text.matchAll(/[^\p{ASCII}]/gu)]
      .slice(0, 3)
      .map((m) => text.slice(m.index - 40, m.index + 5));
    assert.deepEqual(wide, [], "non-ASCII characters in the bundle");
    // zod's Catalan locale, one of the 63 that `import { z } from "zod"` pulled in.
    assert.doesNotMatch(text, /Entrada inv/);
  });
});
