// node:test reporter that prints the plain closing line "N passed, N failed, N skipped" and writes per-file counts
// to $VIREO_TEST_COUNTS so run-tests.ts can prove every discovered file really ran tests.
import { writeFileSync } from "node:fs";
import type { TestEvent } from "node:test/reporters";

/** Counts leaf tests (suites excluded) and yields one summary line at the end of the run. */
export default async function* summaryReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const perFile: Record<string, number> = {};
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const data = event.data as { details?: { type?: string }; skip?: unknown; todo?: unknown; file?: string };
    if (data.details?.type === "suite") continue;
    if (data.file) perFile[data.file] = (perFile[data.file] ?? 0) + 1;
    if (data.skip || data.todo) skipped++;
    else if (event.type === "test:pass") passed++;
    else failed++;
  }
  const countsFile = process.env.VIREO_TEST_COUNTS;
  if (countsFile) writeFileSync(countsFile, JSON.stringify({ passed, failed, skipped, perFile }));
  yield `${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
