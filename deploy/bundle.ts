// Bundles the controller (src/main.ts and everything it imports) into one ES module, dist/controller/main.mjs,
// which the image runs: plain JavaScript needs no type stripper at start-up and one module costs less than ~200.
import { renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
/** Where `npm ci` (`prepare`) and the image's bundle stage put the controller. */
export const CONTROLLER_BUNDLE = join(ROOT, "dist", "controller", "main.mjs");

/**
 * Node's flags for the controller, as the image's ENTRYPOINT passes them (test/bundle.test.ts keeps the two equal).
 * None caps the heap. The first two make V8 collect the controller's short-lived garbage (decoded watch events, API
 * responses) sooner: a young generation of 2 × 8 MiB instead of 2 × 16, and an old generation that grows by 1.5×
 * its live size between full collections instead of V8's up to 4×. `npm run bench`, same code, N = 100 / 1,000:
 * peak RSS 204 MiB with V8's defaults, 135 / 330 MiB with the first flag, 136 / 188 MiB with both, for 7 → 8–9 s
 * of CPU at N = 100 (docs/benchmarks/history.md#2026-12-02-memory-writes-and-the-side-by-side-with-flagger).
 * `--optimize-for-size` is not among them: it saves 17–24 MiB of peak RSS but took N = 1,000 from 55.9 to 85.0 CPU-s
 * (docs/benchmarks/memory.md, 2026-12-07).
 */
export const CONTROLLER_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=8",
  "--heap-growing-percent=50",
];

/**
 * Loaded from node_modules at run time, only on the paths that need them: client-node for a kubeconfig user with an
 * `exec`/`auth-provider` plugin, yaml for a kubeconfig that is not JSON. In-cluster, neither is ever loaded.
 */
const LAZY_PACKAGES = ["@kubernetes/client-node", "yaml"];

/**
 * Writes the bundle to `outfile` (published atomically: a running benchmark or test never reads half a file).
 * Measured on Node 24 with the module graph loaded and nothing running (2026-12-07): 82–90 MiB RSS, 45–47 MiB for an
 * empty `node` (docs/benchmarks/memory.md).
 */
export async function bundleController(outfile = CONTROLLER_BUNDLE): Promise<string> {
  // Loaded here, not at the top: importing CONTROLLER_BUNDLE must not load esbuild.
  const { build } = await import("esbuild");
  const tmp = `${outfile}.tmp-${process.pid}`;
  await build({
    entryPoints: [join(ROOT, "src/main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    outfile: tmp,
    external: LAZY_PACKAGES,
    // CommonJS dependencies (axios's form-data, pino) call require() on Node's built-ins; an ES module has none.
    banner: {
      js: 'import { createRequire as __vireoRequire } from "node:module"; const require = __vireoRequire(import.meta.url);',
    },
    // Whitespace and comments out, names kept (stack traces still name every function). V8 keeps the module's
    // source in memory, as two bytes a character once one non-ASCII character appears (a few comments had one):
    // 3.0 MB of source cost 7.6 MB, 1.6 MB of ASCII cost 3.4 (docs/benchmarks/memory.md).
    minifyWhitespace: true,
    keepNames: true,
    legalComments: "eof",
    logLevel: "warning",
  });
  rmSync(outfile, { force: true });
  renameSync(tmp, outfile);
  return outfile;
}

if (import.meta.main) {
  const out = await bundleController(process.argv[2] ? resolve(process.argv[2]) : CONTROLLER_BUNDLE);
  console.log(`controller bundled into ${dirname(out)}`);
}
