// The side-by-side benchmark counts both controllers from one audit log: by user, window, reads vs writes.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { comparisonAuditPolicy, countRequests, resourceOf } from "../bench/compare/audit-count.ts";

const V = "system:serviceaccount:vireo-system:vireo";
const F = "system:serviceaccount:flagger-system:flagger";
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const entry = (user: string, verb: string, uri: string, s: number, code = 200) =>
  JSON.stringify({
    user: { username: user },
    verb,
    requestURI: uri,
    requestReceivedTimestamp: at(s),
    responseStatus: { code },
  });

describe("bench:compare audit counting", () => {
  it("counts one user's reads and writes inside the window; Events apart; leader election outside both", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vireo-audit-"));
    const log = join(dir, "audit.log");
    writeFileSync(
      log,
      [
        entry(V, "get", "/apis/split.smi-spec.io/v1alpha2/namespaces/a/trafficsplits/x", 10),
        entry(V, "list", "/api/v1/services?limit=500", 11),
        entry(V, "patch", "/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/x/status?fieldManager=vireo", 12),
        entry(V, "create", "/apis/events.k8s.io/v1/namespaces/a/events", 13),
        entry(V, "get", "/apis/coordination.k8s.io/v1/namespaces/s/leases/l", 14),
        entry(V, "update", "/apis/coordination.k8s.io/v1/namespaces/s/leases/l", 14),
        entry(F, "update", "/apis/flagger.app/v1beta1/namespaces/b/canaries/y/status", 12),
        entry(V, "patch", "/apis/apps/v1/namespaces/a/deployments/x", 30),
        entry(V, "update", "/apis/apps/v1/namespaces/a/deployments/x", 15, 409),
        "",
      ].join("\n"),
    );
    const v = await countRequests(log, V, Date.parse(at(10)), Date.parse(at(20)));
    assert.deepEqual(
      { reads: v.reads, writes: v.writes, events: v.eventWrites, er: v.electionReads, ew: v.electionWrites },
      { reads: 2, writes: 3, events: 1, er: 1, ew: 1 },
    );
    assert.equal(v.byVerb.patch, 1, "the patch at 30 s is outside the window");
    assert.deepEqual(v.writesByResource, { "rollouts/status": 1, events: 1, deployments: 1 });
    assert.deepEqual(
      v.conflictsByResource,
      { deployments: 1 },
      "a fenced write that lost is a write, and a 409",
    );
    assert.deepEqual(v.readsByResource, { trafficsplits: 1, services: 1 });
    const f = await countRequests(log, F, 0, Date.parse(at(59)));
    assert.equal(f.writes, 1);
    assert.equal(f.reads, 0);
  });

  it("names the resource and subresource of a path", () => {
    assert.equal(resourceOf("/apis/vireo.dev/v1alpha1/namespaces/a/rollouts/x/status"), "rollouts/status");
    assert.equal(resourceOf("/apis/apps/v1/namespaces/a/deployments/x"), "deployments");
    assert.equal(resourceOf("/api/v1/namespaces/a/events"), "events");
    assert.equal(resourceOf("/api/v1/namespaces/a"), "namespaces");
    assert.equal(resourceOf("/apis/apps/v1/deployments"), "deployments");
  });

  it("audits exactly the two controllers' users, every verb, at Metadata level", () => {
    const policy = comparisonAuditPolicy([V, F]);
    assert.match(policy, new RegExp(`users: \\["${V}", "${F}"\\]`));
    assert.match(policy, /level: Metadata/);
    assert.doesNotMatch(policy, /verbs:/);
  });
});
