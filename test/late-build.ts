// The e2e files that need a data plane built late (Traefik, istiod, Chromium), and the wait for that build. .ci/run
// builds those tools at low priority while the other files run (`e2e/cluster/build.sh late`), so on a fresh machine
// the build overlaps the tests' waiting instead of coming before it; test/run-tests.ts starts these files last.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { tailFile } from "../e2e/cluster/process.ts";

/**
 * What only the late build provides, as the modules that reach for it: the Traefik and istiod launchers (which find
 * their binaries in the build cache, and throw naming the build script when they are missing) and playwright-core
 * (which drives Debian's Chromium).
 */
const LATE_MODULES = ["e2e/dataplane/traefik.ts", "e2e/cluster/istiod.ts"];
const LATE_PACKAGES = ["playwright-core"];

/** Static, side-effect and dynamic import specifiers of a TypeScript source. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"([^"]+)"/g;

/**
 * Whether the test file `file` (absolute, or relative to `root`) imports one of LATE_MODULES or LATE_PACKAGES itself.
 * Its own imports only, on purpose: the cluster module imports the istiod launcher too, but starts istiod only for a
 * file that asks for it, and such a file imports the launcher for its options. A file this misses fails its first
 * run with the launcher's "missing … run: build-…" error and passes its retry, which runs after the build: a flake
 * the run prints, not a silent skip.
 */
export function needsLateBuild(file: string, root: string): boolean {
  const path = resolve(root, file);
  const late = new Set(LATE_MODULES.map((m) => resolve(root, m)));
  for (const [, spec] of readFileSync(path, "utf8").matchAll(IMPORT)) {
    if (spec === undefined) continue;
    if (LATE_PACKAGES.includes(spec) || (spec.startsWith(".") && late.has(resolve(dirname(path), spec))))
      return true;
  }
  return false;
}

/** How the late build ended: its exit code, and the end of its log when it failed. */
export interface LateBuildResult {
  ok: boolean;
  code: number;
  logTail: string;
}

/** How the background build writing into `dir` ended, or undefined while it runs (.ci/run writes `dir/rc` last). */
export function lateBuildResult(dir: string): LateBuildResult | undefined {
  const rcFile = resolve(dir, "rc");
  if (!existsSync(rcFile)) return undefined;
  const code = Number(readFileSync(rcFile, "utf8").trim());
  return { ok: code === 0, code, logTail: code === 0 ? "" : tailFile(resolve(dir, "log")) };
}

/**
 * Waits until the background build writing into `dir` is done, saying every minute that it still waits. No deadline
 * of its own: CI's limit on the whole run bounds it, and a build that is slow is not a failure.
 */
export async function awaitLateBuild(dir: string, say: (line: string) => void): Promise<LateBuildResult> {
  const started = Date.now();
  let next = 0;
  for (;;) {
    const result = lateBuildResult(dir);
    if (result) return result;
    const waited = Math.round((Date.now() - started) / 1000);
    if (waited >= next) {
      say(`waiting for the data-plane build (${waited} s so far; its log: ${resolve(dir, "log")})`);
      next += 60;
    }
    await sleep(2000);
  }
}
