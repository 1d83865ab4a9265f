// Status within etcd's limit on a real control plane: the largest spec the schema allows, applied with kubectl, and the
// largest spec the controller can run, driven through analysis ticks until the status budget bounds every metric's
// history, and some more (each tick's 20 measurements carry the longest error message measure.ts keeps) — every
// status write must be accepted and status must stay within its budget; metrics removed from the spec lose their
// history at once.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { largestSpec } from "../src/api/testing/largest-spec.ts";
import { STATUS_BUDGET_BYTES, statusBytes } from "../src/rollout/status-budget.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { apply, appManifests, setImage, waitFor, waitForRollout } from "./support/app.ts";
import { auditEntries } from "./support/audit.ts";
import { type ControllerProcess, startController } from "./support/controller-process.ts";

/** etcd's default --max-request-bytes, which the e2e etcd keeps. */
const ETCD_REQUEST_LIMIT = 1.5 * 1024 * 1024;
/** The spec's historyLimit: before this many ticks, only the status budget can drop a measurement. */
const HISTORY_LIMIT = 50;
/** Ticks run after the budget first dropped measurements: status held at its budget while the history turns over. */
const TICKS_AT_BUDGET = 5;

let cluster: Cluster;
let controller: ControllerProcess;

/** A Rollout object around `spec`. */
const rolloutJson = (namespace: string, name: string, spec: unknown) =>
  JSON.stringify({ apiVersion: "vireo.dev/v1alpha1", kind: "Rollout", metadata: { name, namespace }, spec });

/** The Rollout as the API server stores it, and its size. */
async function stored(namespace: string, name: string): Promise<{ rollout: Rollout; bytes: number }> {
  const r = await cluster.kubectl(["get", "rollout.vireo.dev", name, "-n", namespace, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return {
    rollout: JSON.parse(r.stdout) as Rollout,
    bytes: Buffer.byteLength(JSON.stringify(JSON.parse(r.stdout))),
  };
}

/** The controller's status writes of one Rollout that the API server refused (a 409 is a lost race, not a refusal). */
function refusedStatusWrites(namespace: string, name: string): string[] {
  return auditEntries(cluster.dir)
    .filter((e) => e.requestURI.includes(`/namespaces/${namespace}/rollouts/${name}/status`))
    .filter((e) => (e.responseStatus?.code ?? 0) >= 400 && e.responseStatus?.code !== 409)
    .map((e) => `${e.requestReceivedTimestamp} ${e.verb} → ${e.responseStatus?.code}`);
}

/** Every namespace the largest specs' Istio gateways and Gateway API parents name, as `namespace/*` rules. */
function policyGateways(): string[] {
  const namespaces = new Set<string>();
  for (const provider of ["gateway-api", "istio"] as const) {
    const spec = largestSpec({ provider, prometheusAddress: "" });
    for (const g of spec.service?.gateways ?? []) namespaces.add(g.split("/")[0] ?? "");
    for (const p of spec.gatewayApi?.parentRefs ?? []) if (p.namespace) namespaces.add(p.namespace);
  }
  return [...namespaces].filter(Boolean).map((ns) => `${ns}/*`);
}

describe("status stays within etcd's limit", () => {
  before(async () => {
    cluster = await startCluster();
    const prometheus = cluster.prometheusUrl ?? "";
    controller = await startController({
      kubeconfigPath: cluster.controllerKubeconfigPath,
      logDir: join(cluster.dir, "logs"),
      // The specs' Prometheus address is the cluster's own with a long path (Prometheus answers 404 to it). Their
      // gateways, parents, hosts and check URLs are allowed, so the specs run rather than being refused by policy.
      args: [
        `--prometheus-url=${prometheus}`,
        `--allowed-prometheus-urls=${prometheus}/`,
        `--allowed-gateways=${policyGateways().join(",")}`,
        "--allowed-hosts=*",
        "--allowed-check-urls=http://hooks.example/",
        "--job-namespaces=largest,history",
      ],
    });
  });
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  it("the largest spec the schema allows: client-side apply is refused by the API server's annotation limit, server-side apply is accepted and its status recorded", async () => {
    const ns = "largest";
    const spec = largestSpec({ provider: "gateway-api", prometheusAddress: cluster.prometheusUrl ?? "" });
    const manifest = rolloutJson(ns, "largest", spec);
    assert.equal((await cluster.kubectl(["create", "namespace", ns])).code, 0);
    const clientSide = await cluster.kubectl(["apply", "-f", "-"], { input: manifest });
    assert.notEqual(clientSide.code, 0, "the last-applied copy of the largest spec cannot be stored");
    assert.match(clientSide.stderr, /metadata.annotations: Too long/);
    const serverSide = await cluster.kubectl(["apply", "--server-side", "-f", "-"], { input: manifest });
    assert.equal(serverSide.code, 0, serverSide.stderr);
    const recorded = await waitForRollout(cluster, ns, "largest", "status recorded", (r) =>
      Boolean(r.status?.conditions?.length),
    );
    const { bytes } = await stored(ns, "largest");
    const ready = recorded.status?.conditions?.find((c) => c.type === "Ready");
    // What the API server admits, the controller renders: no run-time refusal of the routes.
    assert.notEqual(ready?.reason, "RouteNotSupported", ready?.message);
    console.log(
      `largest spec ${Buffer.byteLength(JSON.stringify(spec))} B (server-side apply): object ${bytes} B, status ${statusBytes(recorded.status ?? {})} B${recorded.status?.lastValidSpec ? " + lastValidSpec" : `, Ready ${ready?.reason}: ${ready?.message?.slice(0, 200)}`}`,
    );
    assert.ok(bytes < ETCD_REQUEST_LIMIT);
    assert.deepEqual(refusedStatusWrites(ns, "largest"), []);
  });

  it("the largest spec the controller runs, applied client-side, through ticks of 20 failing metrics until the budget bounds their history: every status write is accepted", async () => {
    const ns = "history";
    const spec = largestSpec({
      provider: "istio",
      prometheusAddress: cluster.prometheusUrl ?? "",
      runnable: { target: "podinfo", service: "podinfo" },
    });
    // Without the analysis checks: each failed check run counts against failureLimit like a failed tick, so with
    // them the rollout is rolled back before its 50th tick; the statuses under test are the metrics' histories.
    const { checks: _analysisChecks, ...analysis } = spec.analysis ?? {};
    const app = appManifests({ namespace: ns, extraSpec: { ...spec, analysis } });
    await apply(cluster, app);
    await waitForRollout(cluster, ns, "podinfo", "Healthy", (r) => r.status?.phase === "Healthy", 120_000);
    const applied = await stored(ns, "podinfo");
    const annotation = Object.values(applied.rollout.metadata.annotations ?? {}).join("").length;
    assert.ok(annotation > 150_000, `the last-applied annotation holds the spec (${annotation} B)`);
    await setImage(cluster, ns, "podinfo", "ghcr.io/stefanprodan/podinfo:6.0.1");
    let largest = 0;
    let largestStatus = 0;
    /** The first tick seen with fewer than 20 measurements a tick: the budget dropped some. */
    let boundAt: number | undefined;
    const started = Date.now();
    await waitFor(
      `the status budget bounding the history for ${TICKS_AT_BUDGET} ticks`,
      async () => {
        const { rollout: r, bytes } = await stored(ns, "podinfo");
        largestStatus = Math.max(largestStatus, statusBytes(r.status ?? {}));
        largest = Math.max(largest, bytes);
        const ticks = r.status?.analysis?.consecutiveErrors ?? 0;
        const history = r.status?.analysis?.history?.length ?? 0;
        if (boundAt === undefined && history < 20 * Math.min(ticks, HISTORY_LIMIT)) boundAt = ticks;
        // What the failure message shows: where the rollout is, not the 176 kB spec.
        return {
          phase: r.status?.phase,
          message: r.status?.message,
          consecutiveErrors: ticks,
          history,
          boundAt,
          conditions: r.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`),
        };
      },
      (x) => x.boundAt !== undefined && x.consecutiveErrors >= x.boundAt + TICKS_AT_BUDGET,
      // Generous: a tick of this spec takes 9–18 s on a loaded 2-core machine.
      600_000,
      2000,
    );
    const { rollout, bytes } = await stored(ns, "podinfo");
    const history = rollout.status?.analysis?.history ?? [];
    const ticks = rollout.status?.analysis?.consecutiveErrors ?? 0;
    const metrics = new Set(history.map((m) => m.metric));
    console.log(
      `${ticks} ticks in ${Date.now() - started} ms (the budget bounding the history from tick ${boundAt}): object ${bytes} B (largest seen ${largest} B), status ${statusBytes(rollout.status ?? {})} B (largest seen ${largestStatus} B) of a ${STATUS_BUDGET_BYTES} B budget, ${history.length} history entries of ${20 * Math.min(ticks, HISTORY_LIMIT)} without one`,
    );
    assert.ok(largestStatus <= STATUS_BUDGET_BYTES);
    // The history filled status to its budget (a trim drops at most about a tick's 20 entries below it).
    assert.ok(largestStatus > 0.9 * STATUS_BUDGET_BYTES, `status reached ${largestStatus} B`);
    assert.ok(largest < ETCD_REQUEST_LIMIT);
    assert.equal(metrics.size, 20, "every metric keeps its newest measurements");
    // Fewer entries than the ticks made, and historyLimit drops none before its 50th tick.
    assert.ok(
      history.length < 20 * Math.min(ticks, HISTORY_LIMIT),
      "the budget, not historyLimit, bounded the history",
    );
    assert.ok(
      // Prometheus answers 404 to the long path; measure.ts cuts the message (which names it) at 300 characters.
      history.every((m) => m.verdict === "Error" && (m.message ?? "").length === 300),
      `each tick errs with a 300-character message; one says: ${history[0]?.message}`,
    );
    assert.deepEqual(refusedStatusWrites(ns, "podinfo"), []);
  });

  it("metrics removed from the spec lose their history at once, not at the next rollout", async () => {
    const ns = "history";
    const spec = largestSpec({
      provider: "istio",
      prometheusAddress: cluster.prometheusUrl ?? "",
      runnable: { target: "podinfo", service: "podinfo" },
    });
    const kept = spec.analysis?.metrics?.[0]?.name;
    const fewer = { ...spec, analysis: { ...spec.analysis, metrics: spec.analysis?.metrics?.slice(0, 1) } };
    await apply(cluster, rolloutJson(ns, "podinfo", fewer));
    const applied = Date.now();
    const r = await waitForRollout(
      cluster,
      ns,
      "podinfo",
      "only the kept metric's history",
      (x) => (x.status?.analysis?.history ?? []).every((m) => m.metric === kept),
      30_000,
    );
    console.log(
      `19 metrics removed: their history gone ${Date.now() - applied} ms after the apply (${r.status?.analysis?.history.length} entries left)`,
    );
    assert.deepEqual(refusedStatusWrites(ns, "podinfo"), []);
  });
});
