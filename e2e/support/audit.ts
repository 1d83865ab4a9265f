// Reads the local API server's audit log (the controller's writes only, see e2e/cluster/components.ts) to count
// who wrote what, and when — the evidence for leadership fencing, independent of the controller's own counters.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** One audit entry, the fields the tests read. */
export interface AuditEntry {
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  requestURI: string;
  verb: string;
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

/** What a deposed leader wrote after its successor's first write. */
export interface DeposedWrites {
  /** Writes by the deposed instance in the whole log. */
  total: number;
  /** Writes by the successor in the whole log. */
  bySuccessor: number;
  /** When the successor first wrote (ISO), if it did. */
  successorFirst: string | undefined;
  /** The deposed instance's writes the API server received after that, as `time verb uri → code`. */
  late: string[];
  /** Those of them the API server accepted (2xx): the ones that took effect. */
  effective: string[];
}

/**
 * Writes other than the election's own Lease compare-and-swap, by the instance whose identity is in `deposed`,
 * received after the first write of `successor` (identities appear in the controller's user agent).
 */
export function deposedWrites(clusterDir: string, deposed: string, successor: string): DeposedWrites {
  const entries = auditEntries(clusterDir).filter((e) => !e.requestURI.includes("/leases"));
  const by = (id: string) => entries.filter((e) => e.userAgent?.includes(id));
  const first = by(successor)
    .map((e) => Date.parse(e.requestReceivedTimestamp))
    .sort((a, b) => a - b)[0];
  const late =
    first === undefined ? [] : by(deposed).filter((e) => Date.parse(e.requestReceivedTimestamp) >= first);
  return {
    total: by(deposed).length,
    bySuccessor: by(successor).length,
    successorFirst: first === undefined ? undefined : new Date(first).toISOString(),
    late: late.map(show),
    effective: late.filter((e) => (e.responseStatus?.code ?? 0) < 300).map(show),
  };
}

/** Every entry of a cluster's audit log, in the order the API server wrote them. */
export function auditEntries(clusterDir: string): AuditEntry[] {
  return readFileSync(join(clusterDir, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEntry);
}

/** `time verb uri → code`, for assertion messages. */
export const show = (e: AuditEntry): string =>
  `${e.requestReceivedTimestamp} ${e.verb} ${e.requestURI} → ${e.responseStatus?.code}`;

/** The controller instance of an entry: the identity in its user agent, `vireo/<version> (<identity>)`. */
export const instanceOf = (e: AuditEntry): string | undefined =>
  /^vireo\/\S* \(([^)]+)\)/.exec(e.userAgent ?? "")?.[1];

/** Who wrote in a run with many leadership changes, and which writes overlapped a successor's. */
export interface LeadershipOverlap {
  /** Instances that made an accepted write, in the order of their first one. */
  writers: string[];
  /** Accepted writes (other than to Leases) in total. */
  accepted: number;
  /**
   * Accepted writes by an instance received after the first accepted write of an instance that began writing
   * later than it (a successor): two leaders, as `time verb uri → code`.
   */
  overlapping: string[];
}

/** Reads the audit log of a run with any number of hand-overs and finds writes made under a successor's lead. */
export function leadershipOverlap(clusterDir: string): LeadershipOverlap {
  const accepted = auditEntries(clusterDir)
    .filter((e) => !e.requestURI.includes("/leases") && (e.responseStatus?.code ?? 0) < 300)
    .filter((e) => instanceOf(e) !== undefined)
    .sort((a, b) => Date.parse(a.requestReceivedTimestamp) - Date.parse(b.requestReceivedTimestamp));
  const firstWrite = new Map<string, number>();
  for (const e of accepted) {
    const who = instanceOf(e) as string;
    if (!firstWrite.has(who)) firstWrite.set(who, Date.parse(e.requestReceivedTimestamp));
  }
  const overlapping = accepted.filter((e) => {
    const who = instanceOf(e) as string;
    const t = Date.parse(e.requestReceivedTimestamp);
    const mine = firstWrite.get(who) as number;
    return [...firstWrite.values()].some((theirs) => theirs > mine && theirs <= t);
  });
  return { writers: [...firstWrite.keys()], accepted: accepted.length, overlapping: overlapping.map(show) };
}
