// `npm run cluster:down`: stops the cluster:up cluster and reaps e2e clusters whose test process died.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EPHEMERAL_PREFIX, persistentClusterDir, stateRoot } from "./paths.ts";
import { readPidRecord, reapPidfiles } from "./process.ts";

const { values } = parseArgs({
  options: {
    /** Also stop e2e clusters whose owning test process is still alive. */
    all: { type: "boolean", default: false },
  },
});

/** Dirs to reap: the persistent cluster, plus orphaned (or, with --all, every) per-test-file cluster. */
function targets(): string[] {
  const dirs = [persistentClusterDir()];
  for (const entry of readdirSync(stateRoot())) {
    if (!entry.startsWith(EPHEMERAL_PREFIX)) continue;
    const dir = join(stateRoot(), entry);
    if (values.all || !ownerAlive(dir)) dirs.push(dir);
  }
  return dirs;
}

/** The owner.pid record is written like a pidfile, so the same start-time check protects against pid reuse. */
function ownerAlive(dir: string): boolean {
  return readPidRecord(join(dir, "owner.pid")) !== undefined;
}

let stopped = 0;
for (const dir of targets()) {
  const reaped = await reapPidfiles(dir, 5000);
  // The watchdog of an ephemeral cluster exits by itself once the dir is gone.
  rmSync(dir, { recursive: true, force: true });
  stopped += reaped.length;
  if (reaped.length > 0)
    console.log(`stopped ${reaped.map((r) => `${r.name}(${r.pid})`).join(", ")} in ${dir}`);
}
console.log(stopped > 0 ? `cluster:down: stopped ${stopped} processes` : "cluster:down: nothing was running");
