// Bundles the dashboard UI (preact) with esbuild into dist/dashboard/, which the plugin serves; no CDN at runtime.
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const here = import.meta.dirname;
const out = resolve(here, "../dist/dashboard");
const tmp = `${out}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, "assets"), { recursive: true });
await build({
  entryPoints: [join(here, "src/main.ts")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2022",
  outfile: join(tmp, "assets/app.js"),
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(here, "src/index.html"), join(tmp, "index.html"));
copyFileSync(join(here, "src/style.css"), join(tmp, "assets/app.css"));
// Publish atomically so a running dashboard never serves half a build.
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`dashboard built into ${out}`);
