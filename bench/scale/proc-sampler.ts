// Samples RSS and CPU time of processes from /proc every 500 ms (Linux only).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, almost always 100). */
function clkTck(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds (user + system) a process has used, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm) ": state(3) ppid … utime(14) stime(15) → indexes 11 and 12 of the rest.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / clkTck();
  } catch {
    return undefined;
  }
}

/**
 * VmRSS, VmHWM (peak RSS since start) and RssAnon in bytes, or undefined when the process is gone. RssAnon is the
 * part the process allocated (heaps, stacks); the rest of RSS is mostly its binary's pages (file-backed, shared):
 * 35–47 MiB of an empty `node`, a few MiB of a Go binary.
 */
export function memory(pid: number): { rss: number; hwm: number; anon: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? 0);
    return { rss: kib("VmRSS") * 1024, hwm: kib("VmHWM") * 1024, anon: kib("RssAnon") * 1024 };
  } catch {
    return undefined;
  }
}

/** What one process did over a sampled interval. */
export interface ProcessUsage {
  name: string;
  pid: number;
  /** Highest VmRSS seen in the samples (bytes). */
  peakRss: number;
  /** Highest RssAnon seen in the samples (bytes). */
  peakAnon: number;
  /** CPU seconds used between start() and stop(). */
  cpuSeconds: number;
}

/** Samples a set of processes every `intervalMs` between {@link start} and {@link stop}. */
export class ProcSampler {
  readonly #procs: { name: string; pid: number }[];
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #cpu0 = new Map<number, number>();
  #cpuLast = new Map<number, number>();
  #peak = new Map<number, number>();
  #peakAnon = new Map<number, number>();
  #samples = 0;

  constructor(procs: { name: string; pid: number }[], intervalMs = 500) {
    this.#procs = procs;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    for (const p of this.#procs) {
      const c = cpuSeconds(p.pid);
      if (c !== undefined) {
        this.#cpu0.set(p.pid, c);
        this.#cpuLast.set(p.pid, c);
      }
    }
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops sampling and returns usage per process. */
  stop(): ProcessUsage[] {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sample();
    return this.#procs.map((p) => ({
      name: p.name,
      pid: p.pid,
      peakRss: this.#peak.get(p.pid) ?? 0,
      peakAnon: this.#peakAnon.get(p.pid) ?? 0,
      cpuSeconds: (this.#cpuLast.get(p.pid) ?? 0) - (this.#cpu0.get(p.pid) ?? 0),
    }));
  }

  /** Number of samples taken so far. */
  get samples(): number {
    return this.#samples;
  }

  #sample(): void {
    this.#samples++;
    for (const p of this.#procs) {
      const m = memory(p.pid);
      if (m) {
        this.#peak.set(p.pid, Math.max(this.#peak.get(p.pid) ?? 0, m.rss));
        this.#peakAnon.set(p.pid, Math.max(this.#peakAnon.get(p.pid) ?? 0, m.anon));
      }
      const c = cpuSeconds(p.pid);
      if (c !== undefined) this.#cpuLast.set(p.pid, c);
    }
  }
}

/** Busy CPU seconds of the whole machine so far (all CPUs, from /proc/stat: everything but idle and iowait). */
export function systemBusySeconds(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - (f[3] ?? 0) - (f[4] ?? 0)) / clkTck();
  } catch {
    return 0;
  }
}
