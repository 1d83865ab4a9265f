// Test entry point: discovers test files, runs them with node:test, and fails the run when files or tests go
// missing (a suite that silently runs nothing must never look green).
import { spawnSync } from "node:child_process";
import { globSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

type Suite = "unit" | "e2e";

/** Where each suite's tests live and the least it must run; raise the floors as tests are added. */
const SUITES: Record<Suite, { patterns: string[]; minFiles: number; minTests: number; extraArgs: string[] }> =
  {
    unit: {
      patterns: ["src/**/*.test.ts", "test/**/*.test.ts"],
      minFiles: 124,
      minTests: 945,
      extraArgs: ["--import=./test/property-seed.ts"],
    },
    e2e: {
      patterns: ["e2e/**/*.test.ts"],
      minFiles: 45,
      minTests: 345,
      // Each e2e file starts its own cluster on free loopback ports, so files are independent. Two at a time fits
      // 2 cores: most of a file's time is waiting on intervals and timers, not CPU. VIREO_E2E_CONCURRENCY=1 runs
      // them one after another (for timing-sensitive debugging).
      extraArgs: [`--test-concurrency=${process.env.VIREO_E2E_CONCURRENCY ?? "2"}`, "--test-timeout=900000"],
    },
  };

const suiteName = (process.argv[2] ?? "unit") as Suite;
const suite = SUITES[suiteName];
if (!suite) {
  console.error(`unknown suite "${suiteName}"; use one of ${Object.keys(SUITES).join(", ")}`);
  process.exit(2);
}
const filter = process.argv.slice(3);
const root = resolve(import.meta.dirname, "..");
let files = suite.patterns.flatMap((p) =>
  globSync(p, { cwd: root, exclude: (f) => f.includes("node_modules") }),
);
files = [...new Set(files)].sort();
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));

/**
 * The property tests' seed: VIREO_PROPERTY_SEED when given (to replay a failure), else one derived from the source
 * tree's git hash — the same tree gives the same lives on every machine (CI's run replays here), a changed tree new
 * ones. Outside a git checkout, a random one. Printed so any failure can be replayed.
 */
function propertySeed(): number {
  if (process.env.VIREO_PROPERTY_SEED) return Number(process.env.VIREO_PROPERTY_SEED);
  const tree = spawnSync("git", ["rev-parse", "HEAD^{tree}"], { cwd: root, encoding: "utf8" });
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], {
    cwd: root,
    encoding: "utf8",
  });
  if (tree.status !== 0 || dirty.stdout.trim() !== "") return Math.floor(Math.random() * 2 ** 31);
  return Number.parseInt(tree.stdout.trim().slice(0, 8), 16) % 2 ** 31;
}
const seed = propertySeed();
if (suiteName === "unit") console.log(`property seed ${seed} (replay: VIREO_PROPERTY_SEED=${seed} npm test)`);

const countsFile = join(mkdtempSync(join(tmpdir(), "vireo-tests-")), "counts.json");
const result = spawnSync(
  process.execPath,
  [
    "--test",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=./test/summary-reporter.ts",
    "--test-reporter-destination=stdout",
    ...suite.extraArgs,
    ...files,
  ],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, VIREO_TEST_COUNTS: countsFile, VIREO_PROPERTY_SEED: String(seed) },
  },
);

let counts: { passed: number; failed: number; skipped: number; perFile: Record<string, number> };
try {
  counts = JSON.parse(readFileSync(countsFile, "utf8"));
} catch {
  console.error("test run produced no counts: the runner crashed before the summary");
  process.exit(result.status || 1);
}
const problems: string[] = [];
if (filter.length === 0) {
  if (files.length < suite.minFiles)
    problems.push(`found ${files.length} test files, expected at least ${suite.minFiles}`);
  if (counts.passed + counts.failed < suite.minTests)
    problems.push(`ran ${counts.passed + counts.failed} tests, expected at least ${suite.minTests}`);
}
const ranFiles = new Set(Object.keys(counts.perFile).map((f) => resolve(root, f)));
for (const f of files) if (!ranFiles.has(resolve(root, f))) problems.push(`${f} ran no test`);
for (const p of problems) console.error(`test-guard: ${p}`);
console.log(
  `test-guard: ${files.length} files, ${counts.passed + counts.failed} tests (${suiteName}), property seed ${seed}`,
);
// Repeat the closing line last so CI reads it; guard problems count as failures.
console.log(`${counts.passed} passed, ${counts.failed + problems.length} failed, ${counts.skipped} skipped`);
process.exit(problems.length > 0 ? 1 : (result.status ?? 1));
