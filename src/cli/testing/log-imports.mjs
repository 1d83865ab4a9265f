// Preloaded with --import in tests and benchmarks: appends every module URL the process resolves to
// $VIREO_IMPORT_LOG. Plain JavaScript, so it loads no TypeScript stripper into the process whose memory it measures.
import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";

const out = process.env.VIREO_IMPORT_LOG;
if (out) {
  registerHooks({
    resolve(specifier, context, next) {
      const result = next(specifier, context);
      appendFileSync(out, `${result.url}\n`);
      return result;
    },
  });
}
