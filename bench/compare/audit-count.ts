// Counts each controller's API requests from the API server's audit log, by user and time window, so both
// controllers are counted the same way (their own metrics would not be comparable).
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

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
  responseStatus?: { code?: number };
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
  /** Writes (election excluded) by resource, a subresource after a slash: `rollouts/status`, `deployments`. */
  writesByResource: Record<string, number>;
  /** Reads (election excluded) by resource, the same way. */
  readsByResource: Record<string, number>;
  /** Of the writes: those answered 409 Conflict (a fenced write that met a newer object), by resource. */
  conflictsByResource: Record<string, number>;
}

const READS = new Set(["get", "list", "watch"]);
const bump = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1;
};

/** The resource (and subresource) a request path names: `/apis/g/v/namespaces/n/rollouts/x/status` → `rollouts/status`. */
export function resourceOf(path: string): string {
  const parts = path.split("/").filter(Boolean);
  // Past the group/version prefix and the namespace, the rest is resource[/name[/subresource]].
  const at = parts[0] === "api" ? 2 : 3;
  const rest = parts[at] === "namespaces" && parts.length > at + 2 ? parts.slice(at + 2) : parts.slice(at);
  return rest.length >= 3 ? `${rest[0]}/${rest[2]}` : (rest[0] ?? "");
}

/**
 * Counts the entries of `user` received in [from, to] (ms since the epoch). Streams the log: at N = 1,000 both
 * controllers' entries outgrow the largest string V8 will make.
 */
export async function countRequests(
  auditLog: string,
  user: string,
  from: number,
  to: number,
): Promise<RequestCounts> {
  const out: RequestCounts = {
    reads: 0,
    writes: 0,
    eventWrites: 0,
    electionReads: 0,
    electionWrites: 0,
    byVerb: {},
    writesByResource: {},
    readsByResource: {},
    conflictsByResource: {},
  };
  const lines = createInterface({
    input: createReadStream(auditLog, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    // Cheap test first: most lines are the other controller's.
    if (!line.includes(user)) continue;
    const e = JSON.parse(line) as Entry;
    if (e.user?.username !== user) continue;
    const at = Date.parse(e.requestReceivedTimestamp);
    if (at < from || at > to) continue;
    out.byVerb[e.verb] = (out.byVerb[e.verb] ?? 0) + 1;
    const path = e.requestURI.split("?")[0] ?? "";
    const election = /\/leases(\/|$)/.test(path);
    if (READS.has(e.verb)) {
      if (election) out.electionReads++;
      else {
        out.reads++;
        bump(out.readsByResource, resourceOf(path));
      }
      continue;
    }
    if (election) {
      out.electionWrites++;
      continue;
    }
    out.writes++;
    bump(out.writesByResource, resourceOf(path));
    if (e.responseStatus?.code === 409) bump(out.conflictsByResource, resourceOf(path));
    if (/\/events(\/|$)/.test(path)) out.eventWrites++;
  }
  return out;
}
