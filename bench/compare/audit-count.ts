// Counts each controller's API requests from the API server's audit log, by user and time window, so both
// controllers are counted the same way (their own metrics would not be comparable).
import { readFileSync } from "node:fs";

/** The audit policy for the comparison: metadata of every request of the two controllers' ServiceAccounts. */
export function comparisonAuditPolicy(users: readonly string[]): string {
  return `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Metadata
    users: [${users.map((u) => JSON.stringify(u)).join(", ")}]
  - level: None
`;
}

interface Entry {
  user?: { username?: string };
  verb: string;
  requestURI: string;
  requestReceivedTimestamp: string;
}

/** Requests of one user in a window. */
export interface RequestCounts {
  reads: number;
  writes: number;
  /** Of the writes: Event creates/patches. */
  eventWrites: number;
  /** Leader election (Lease, or Flagger's ConfigMap lock): reads and writes, counted apart from the rollout work. */
  electionReads: number;
  electionWrites: number;
  byVerb: Record<string, number>;
}

const READS = new Set(["get", "list", "watch"]);

/** Counts the entries of `user` received in [from, to] (ms since the epoch). */
export function countRequests(auditLog: string, user: string, from: number, to: number): RequestCounts {
  const out: RequestCounts = {
    reads: 0,
    writes: 0,
    eventWrites: 0,
    electionReads: 0,
    electionWrites: 0,
    byVerb: {},
  };
  for (const line of readFileSync(auditLog, "utf8").split("\n")) {
    if (!line) continue;
    const e = JSON.parse(line) as Entry;
    if (e.user?.username !== user) continue;
    const at = Date.parse(e.requestReceivedTimestamp);
    if (at < from || at > to) continue;
    out.byVerb[e.verb] = (out.byVerb[e.verb] ?? 0) + 1;
    const path = e.requestURI.split("?")[0] ?? "";
    const election = /\/leases(\/|$)/.test(path);
    if (READS.has(e.verb)) {
      if (election) out.electionReads++;
      else out.reads++;
      continue;
    }
    if (election) {
      out.electionWrites++;
      continue;
    }
    out.writes++;
    if (/\/events(\/|$)/.test(path)) out.eventWrites++;
  }
  return out;
}
