// Last-resort teardown: kills a cluster's process groups when the owning Node process exits or is interrupted.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killGroupNow } from "./process.ts";

/** What the exit hooks need to know about one live cluster. */
export interface CleanupEntry {
  dir: string;
  /** Current process-group leaders (read at exit time, so late spawns are included). */
  pids: () => number[];
  /** Remove `dir` on exit (false when the user asked to keep it for debugging). */
  removeDir: boolean;
}

const live = new Set<CleanupEntry>();
let hooksInstalled = false;

/**
 * Registers a cluster for synchronous teardown on process exit, SIGINT, SIGTERM and SIGHUP. Returns an
 * unregister function for the normal stop() path.
 */
export function registerCleanup(entry: CleanupEntry): () => void {
  installHooks();
  live.add(entry);
  return () => live.delete(entry);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // "exit" runs for normal ends and after uncaught exceptions; only synchronous work is possible there,
  // hence SIGKILL (no grace) and rmSync.
  process.on("exit", cleanupAllNow);
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.once(signal, () => {
      cleanupAllNow();
      // Listening replaces Node's default "die on signal"; restore it by exiting with the conventional code.
      process.exit(code);
    });
  }
}

function cleanupAllNow(): void {
  for (const entry of live) {
    for (const pid of entry.pids()) killGroupNow(pid);
    if (entry.removeDir) rmSync(entry.dir, { recursive: true, force: true });
  }
  live.clear();
}

/**
 * Starts a watchdog process that reaps the cluster if this process dies without running its exit hooks
 * (SIGKILL, OOM kill, a crashed test runner). It stops by itself once the cluster dir is gone; the owner's stop()
 * also stops it directly (needed when the dir is kept).
 */
export function startReaper(dir: string, keepDir: boolean): number | undefined {
  const script = join(import.meta.dirname, "reaper.ts");
  const args = [script, String(process.pid), dir, ...(keepDir ? ["--keep"] : [])];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  if (child.pid !== undefined) writeFileSync(join(dir, "reaper.pid"), `${child.pid}\n`);
  return child.pid;
}
