// Supervises the cluster's child processes: detached spawn, log files, pidfiles, process-group teardown.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A child process started by {@link startProcess}. */
export interface ManagedProcess {
  /** Short component name, e.g. "kube-apiserver"; also the log and pidfile name. */
  name: string;
  /** PID of the child; it leads its own process group, so -pid addresses all its descendants. */
  pid: number;
  /** File receiving the child's stdout and stderr. */
  logFile: string;
  /** The Node handle; undefined for processes adopted from a pidfile. */
  child?: ChildProcess;
  /** Resolves with the exit code (or signal name) once the child exits. */
  exited: Promise<number | string>;
  /** True once the child has exited. */
  hasExited(): boolean;
}

/** Options for {@link startProcess}. */
export interface StartProcessOptions {
  /** Cluster dir: logs go to `<dir>/logs/<name>.log`, pidfiles to `<dir>/pids/<name>.pid`. */
  dir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Also copy the output to our stderr, line-prefixed (VIREO_E2E_VERBOSE=1). */
  stream?: boolean;
}

/**
 * Spawns `command` in its own process group with output going to a log file, and records a pidfile so a
 * crashed test run's leftovers can be reaped later ({@link reapPidfiles}).
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: StartProcessOptions,
): ManagedProcess {
  const logDir = join(opts.dir, "logs");
  const pidDir = join(opts.dir, "pids");
  mkdirSync(logDir, { recursive: true });
  mkdirSync(pidDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  writeFileSync(logFile, `# ${command} ${args.join(" ")}\n`);
  // A file descriptor (not a pipe) so the child never blocks or dies of SIGPIPE when we exit first,
  // which is what lets `cluster:up` leave the cluster running.
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd ?? opts.dir,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`failed to spawn ${command}`);
  child.unref();
  const pid = child.pid;
  writeFileSync(join(pidDir, `${name}.pid`), `${pid} ${processStartTime(pid) ?? ""}\n`);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      done = true;
      resolve(code ?? signal ?? "unknown");
    });
    child.once("error", (err) => {
      done = true;
      resolve(err.message);
    });
  });
  if (opts.stream) streamLog(name, logFile, exited);
  return { name, pid, logFile, child, exited, hasExited: () => done };
}

/** Last `lines` lines of a log file, for error messages (empty string when unreadable). */
export function tailFile(path: string, lines = 40): string {
  try {
    const all = readFileSync(path, "utf8").trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Whether a process group (or a single pid when `group` is false) still has a live member. */
export function isAlive(pid: number, group = true): boolean {
  try {
    process.kill(group ? -pid : pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else; treat as alive so we never assume it is gone.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL after `graceMs`. Resolves once the group leader is gone.
 * Signalling the group (negative pid) also stops helpers the component forked.
 */
export async function stopProcessGroup(pid: number, graceMs = 5000): Promise<void> {
  if (!signalGroup(pid, "SIGTERM")) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  signalGroup(pid, "SIGKILL");
  const killDeadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < killDeadline) await sleep(20);
}

/** Synchronous last-resort kill for `process.on("exit")`, where nothing asynchronous runs any more. */
export function killGroupNow(pid: number): void {
  signalGroup(pid, "SIGKILL");
}

/** Sends `signal` to process group `pid`; false when the group no longer exists. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** A process recorded in a pidfile. */
export interface PidRecord {
  name: string;
  pid: number;
  /** Kernel start time (clock ticks since boot); guards against killing a recycled pid. */
  startTime?: string;
}

/** Reads `<dir>/pids/*.pid`, keeping only records whose process is still the one we started. */
export function readPidfiles(dir: string): PidRecord[] {
  const pidDir = join(dir, "pids");
  let files: string[];
  try {
    files = readdirSync(pidDir).filter((f) => f.endsWith(".pid"));
  } catch {
    return [];
  }
  return files.flatMap((f) => readPidRecord(join(pidDir, f)) ?? []);
}

/**
 * Reads one "pid starttime" file; undefined if the file is missing, the process is gone, or the pid now belongs
 * to a different process (start time differs).
 */
export function readPidRecord(path: string): PidRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const [pidText, startTime] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const current = processStartTime(pid);
  if (current === undefined) return undefined;
  if (startTime && current !== startTime) return undefined;
  const name = basename(path).replace(/\.pid$/, "");
  return { name, pid, ...(startTime ? { startTime } : {}) };
}

/**
 * Shutdown tiers, stopped one after another (each tier in parallel): clients first, then the apiserver, then
 * etcd. An apiserver whose etcd vanished hangs in graceful shutdown until SIGKILL (measured: >15 s, versus ~1 s
 * in this order).
 */
const STOP_TIERS: ((name: string) => boolean)[] = [
  (n) => n !== "kube-apiserver" && n !== "etcd",
  (n) => n === "kube-apiserver",
  (n) => n === "etcd",
];

/** Stops named process groups in dependency order (see STOP_TIERS). */
export async function stopInOrder(procs: { name: string; pid: number }[], graceMs = 5000): Promise<void> {
  for (const inTier of STOP_TIERS) {
    await Promise.all(procs.filter((p) => inTier(p.name)).map((p) => stopProcessGroup(p.pid, graceMs)));
  }
}

/** Stops every live process recorded under `<dir>/pids`. Returns what it stopped. */
export async function reapPidfiles(dir: string, graceMs = 5000): Promise<PidRecord[]> {
  const records = readPidfiles(dir);
  await stopInOrder(records, graceMs);
  return records;
}

/** Removes a pidfile once its process is known to be gone. */
export function removePidfile(dir: string, name: string): void {
  rmSync(join(dir, "pids", `${name}.pid`), { force: true });
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or undefined if the process does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are safe.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Resident set size of one process in KiB (VmRSS), or 0 when it is gone. */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Follows a growing log file and echoes new lines to stderr until the process exits. */
function streamLog(name: string, file: string, exited: Promise<unknown>): void {
  let offset = 0;
  let stopped = false;
  const pump = (): void => {
    try {
      const buf = readFileSync(file);
      if (buf.length > offset) {
        const text = buf.subarray(offset).toString("utf8");
        offset = buf.length;
        for (const line of text.split("\n")) if (line) process.stderr.write(`[${name}] ${line}\n`);
      }
    } catch {
      stopped = true;
    }
  };
  const timer = setInterval(() => (stopped ? clearInterval(timer) : pump()), 200);
  timer.unref();
  void exited.then(() => {
    pump();
    clearInterval(timer);
  });
}

/** Summed VmRSS (KiB) of every process in process group `pgid` (a component plus anything it forked). */
export function groupRssKiB(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name: state ppid pgrp ...
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (pgrp === pgid) total += rssKiB(Number(entry));
    } catch {
      // process exited while we looked
    }
  }
  return total;
}
