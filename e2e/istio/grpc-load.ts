// A proxyless gRPC client under steady load (xdsprobe client): every RPC's outcome, for shares, delays and failures.
import type { Istiod } from "../cluster/istiod.ts";
import { nodeArgs, type ProbeNode, startProbe } from "./xdsprobe.ts";

/** gRPC status codes the tests name. */
export const GRPC = { OK: 0, INTERNAL: 13, UNAVAILABLE: 14, PERMISSION_DENIED: 7 } as const;

/** One RPC. */
export interface Outcome {
  /** Start, unix ms. */
  at: number;
  durationMs: number;
  /** gRPC status code (0 = OK). */
  code: number;
  /** The workload (Deployment) that answered; "" when none did. */
  workload: string;
  /** The error message, "" for OK. */
  error: string;
}

/** A running proxyless client. */
export interface GrpcLoad {
  /** Fetches the outcomes finished since the last call and returns every outcome so far, by start time. */
  refresh(): Promise<Outcome[]>;
  /** Outcomes (after {@link refresh}) that started in [from, to). */
  between(from: number, to?: number): Outcome[];
  /** Ticks skipped because every RPC slot was busy (the client was saturated). */
  skipped(): number;
  stop(): Promise<void>;
}

interface Results {
  from: number;
  outcomes: [number, number, number, number, number][] | null;
  workloads: string[] | null;
  errors: string[] | null;
  skipped: number;
}

/** Starts `rps` unary RPCs per second to `target` (xds:///host:port) as `node`; resolves once it records them. */
export async function startGrpcLoad(o: {
  istiod: Istiod;
  dir: string;
  node: ProbeNode;
  target: string;
  rps?: number;
  concurrency?: number;
  /** Request metadata (headers) sent on every RPC: what RDS header matchers see. */
  metadata?: Record<string, string>;
}): Promise<GrpcLoad> {
  const metadata = Object.entries(o.metadata ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const probe = await startProbe({
    command: "client",
    args: [
      ...nodeArgs(o.istiod, o.node),
      `--target=${o.target}`,
      `--rps=${o.rps ?? 100}`,
      // Slots for the rate at 200 ms an RPC. A client sends at most slots ÷ latency RPCs a second: with 16, 300 RPC/s
      // needs RPCs under 53 ms, which a loaded machine does not give, and a bound on the answered rate then measured
      // the machine, not the routing.
      `--concurrency=${o.concurrency ?? Math.max(16, Math.ceil((o.rps ?? 100) / 5))}`,
      ...(metadata ? [`--metadata=${metadata}`] : []),
    ],
    dir: o.dir,
    readyPath: "/results?from=0",
  });
  const all: Outcome[] = [];
  let offset = 0;
  let skipped = 0;
  const load: GrpcLoad = {
    async refresh() {
      const res = await fetch(`${probe.url}/results?from=${offset}`);
      if (!res.ok) throw new Error(`grpc client /results: HTTP ${res.status}`);
      const r = (await res.json()) as Results;
      // Go encodes an empty slice as null.
      const outcomes = r.outcomes ?? [];
      offset = r.from + outcomes.length;
      skipped = r.skipped;
      for (const [at, durationMs, code, w, e] of outcomes)
        all.push({
          at,
          durationMs,
          code,
          workload: r.workloads?.[w] ?? "",
          error: e < 0 ? "" : (r.errors?.[e] ?? ""),
        });
      all.sort((a, b) => a.at - b.at);
      return all;
    },
    between: (from, to = Number.POSITIVE_INFINITY) => all.filter((x) => x.at >= from && x.at < to),
    skipped: () => skipped,
    stop: probe.stop,
  };
  return load;
}

/** Counts per workload and failures over some outcomes. */
export function tally(outcomes: readonly Outcome[]): {
  total: number;
  ok: number;
  byWorkload: Map<string, number>;
  failed: Outcome[];
} {
  const byWorkload = new Map<string, number>();
  const failed: Outcome[] = [];
  for (const x of outcomes) {
    if (x.code === GRPC.OK) byWorkload.set(x.workload, (byWorkload.get(x.workload) ?? 0) + 1);
    else failed.push(x);
  }
  return { total: outcomes.length, ok: outcomes.length - failed.length, byWorkload, failed };
}
