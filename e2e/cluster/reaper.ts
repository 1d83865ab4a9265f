// Watchdog process: `node reaper.ts <ownerPid> <clusterDir> [--keep]` reaps the cluster once its owner died.
import { existsSync, rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { processStartTime, reapPidfiles } from "./process.ts";

const ownerPid = Number(process.argv[2]);
const dir = process.argv[3];
/** Keep the dir (logs) after reaping, mirroring VIREO_E2E_KEEP=1 in the owner. */
const keep = process.argv[4] === "--keep";
if (!Number.isInteger(ownerPid) || !dir) {
  console.error("usage: reaper.ts <ownerPid> <clusterDir> [--keep]");
  process.exit(2);
}

// Identify the owner by pid *and* start time, so a recycled pid never keeps a dead owner's cluster alive.
const ownerStart = processStartTime(ownerPid);
for (;;) {
  // The owner's normal stop() removes the dir: nothing left to guard.
  if (!existsSync(dir)) process.exit(0);
  if (ownerStart === undefined || processStartTime(ownerPid) !== ownerStart) break;
  await sleep(500);
}
await reapPidfiles(dir, 2000);
if (!keep) rmSync(dir, { recursive: true, force: true });
