// Reads the local API server's audit log (the controller's writes only, see e2e/cluster/components.ts) to count
// who wrote what, and when — the evidence for leadership fencing, independent of the controller's own counters.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** One audit entry, the fields the tests read. */
export interface AuditEntry {
  userAgent?: string;
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
  const entries = readFileSync(join(clusterDir, "audit.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEntry)
    .filter((e) => !e.requestURI.includes("/leases"));
  const by = (id: string) => entries.filter((e) => e.userAgent?.includes(id));
  const first = by(successor)
    .map((e) => Date.parse(e.requestReceivedTimestamp))
    .sort((a, b) => a - b)[0];
  const late =
    first === undefined ? [] : by(deposed).filter((e) => Date.parse(e.requestReceivedTimestamp) >= first);
  const show = (e: AuditEntry) =>
    `${e.requestReceivedTimestamp} ${e.verb} ${e.requestURI} → ${e.responseStatus?.code}`;
  return {
    total: by(deposed).length,
    bySuccessor: by(successor).length,
    successorFirst: first === undefined ? undefined : new Date(first).toISOString(),
    late: late.map(show),
    effective: late.filter((e) => (e.responseStatus?.code ?? 0) < 300).map(show),
  };
}
