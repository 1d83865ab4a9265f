// The kube/ runtime against a real kube-apiserver: informer, lease elector, status writer, event recorder.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type KubeConfig,
  KubeConfig as KubeConfigClass,
  type V1ConfigMap,
} from "@kubernetes/client-node";
import { createKubeClients, type KubeClients } from "../src/kube/clients.ts";
import { ApiDiscovery } from "../src/kube/discovery.ts";
import { classifyError } from "../src/kube/errors.ts";
import { EventRecorder } from "../src/kube/event-recorder.ts";
import { Informer } from "../src/kube/informer.ts";
import { eventsApi, leaseApi } from "../src/kube/kube-apis.ts";
import { LeaseElector } from "../src/kube/lease-elector.ts";
import { StatusWriter } from "../src/kube/status-writer.ts";
import { MESH_API_GROUPS } from "../src/mesh/registry.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { waitFor } from "./cluster/wait.ts";
import { ChaosProxy } from "./support/chaos-proxy.ts";

const NS = "kube-runtime";
const CM = { group: "", version: "v1", plural: "configmaps" };
const WIDGETS = { group: "e2e.vireo.dev", version: "v1", plural: "widgets" };

const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.e2e.vireo.dev }
spec:
  group: e2e.vireo.dev
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
            status: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;

/** A copy of `kc` whose server URL points at `port` on 127.0.0.1 (the serving cert covers 127.0.0.1). */
function viaPort(kc: KubeConfig, port: number): KubeConfig {
  const copy = new KubeConfigClass();
  copy.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return copy;
}

function recorder<T>() {
  const events: string[] = [];
  return {
    events,
    attach(inf: Informer<T & V1ConfigMap>) {
      inf.onAdd((o) => events.push(`add ${o.metadata?.name}`));
      inf.onUpdate((a, b) =>
        events.push(
          `update ${b.metadata?.name} ${a.data?.v ?? "-"}->${b.data?.v ?? "-"}${a === b ? " resync" : ""}`,
        ),
      );
      inf.onDelete((o) => events.push(`delete ${o.metadata?.name}`));
    },
  };
}

describe("kube runtime against a real API server", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let clients: KubeClients;
  let core: CoreV1Api;
  let customObjects: CustomObjectsApi;
  let coordination: CoordinationV1Api;
  let eventsV1: EventsV1Api;
  const stops: Array<() => Promise<unknown> | unknown> = [];

  const cm = (name: string, v: string, labels: Record<string, string> = { app: "kr" }) => ({
    metadata: { name, namespace: NS, labels },
    data: { v },
  });

  before(async () => {
    cluster = await startCluster({ prometheus: false, nodes: 1 });
    kc = cluster.kubeConfig();
    clients = createKubeClients(kc, { qps: 200, burst: 400 });
    // Test set-up and assertions use client-node's generated clients (the controller itself does not load them).
    core = kc.makeApiClient(CoreV1Api);
    customObjects = kc.makeApiClient(CustomObjectsApi);
    coordination = kc.makeApiClient(CoordinationV1Api);
    eventsV1 = kc.makeApiClient(EventsV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const applied = await cluster.kubectl(["apply", "-f", "-"], { input: WIDGET_CRD });
    assert.equal(applied.code, 0, applied.stderr);
    const est = await cluster.kubectl([
      "wait",
      "--for=condition=Established",
      "crd/widgets.e2e.vireo.dev",
      "--timeout=30s",
    ]);
    assert.equal(est.code, 0, est.stderr);
  });

  after(async () => {
    for (const s of stops.reverse()) await s();
    await cluster?.stop();
  });

  it("informer: list+watch sees add/update/delete of label-selected ConfigMaps, one list and one watch", async () => {
    await core.createNamespacedConfigMap({ namespace: NS, body: cm("pre-existing", "0") });
    const counted = createKubeClients(kc, { qps: 200, burst: 400 });
    const inf = new Informer<V1ConfigMap>({
      clients: counted,
      resource: CM,
      namespace: NS,
      labelSelector: "app=kr",
      resyncPeriodMs: 0,
    });
    const rec = recorder<V1ConfigMap>();
    rec.attach(inf);
    inf.start();
    stops.push(() => inf.stop());
    await inf.waitForSync();
    assert.ok(inf.hasSynced());
    assert.deepEqual(rec.events, ["add pre-existing"]);

    await core.createNamespacedConfigMap({ namespace: NS, body: cm("a", "1") });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: cm("unlabeled", "1", { app: "other" }),
    });
    await core.replaceNamespacedConfigMap({ name: "a", namespace: NS, body: cm("a", "2") });
    await core.deleteNamespacedConfigMap({ name: "a", namespace: NS });
    await waitFor(async () => rec.events.includes("delete a"), { what: "delete event", timeoutMs: 10_000 });
    assert.deepEqual(rec.events, ["add pre-existing", "add a", "update a 1->2", "delete a"]);
    assert.equal(inf.get(NS, "a"), undefined);
    assert.equal(inf.get(NS, "pre-existing")?.data?.v, "0");
    assert.equal(inf.get(NS, "pre-existing")?.kind, "ConfigMap", "list items get apiVersion/kind filled in");
    assert.deepEqual(
      inf.list(NS).map((o) => o.metadata?.name),
      ["pre-existing"],
    );
    const counts = counted.requestCounts();
    assert.equal(counts.list, 1);
    assert.equal(counts.watch, 1);
    assert.equal(inf.health(), true);
  });

  it("informer: recovers after the watch connection is reset abruptly (TCP RST), without losing events", async () => {
    const target = new URL(cluster.apiServerUrl);
    const proxy = await new ChaosProxy(target).listen();
    stops.push(() => proxy.close());
    const inf = new Informer<V1ConfigMap>({
      clients: createKubeClients(viaPort(kc, proxy.port)),
      resource: CM,
      namespace: NS,
      labelSelector: "app=kr",
      backoffBaseMs: 200,
      resyncPeriodMs: 0,
    });
    const rec = recorder<V1ConfigMap>();
    rec.attach(inf);
    inf.start();
    stops.push(() => inf.stop());
    await inf.waitForSync();
    await waitFor(async () => inf.stats().watches >= 1, { what: "watch open", timeoutMs: 5000 });

    const cut = Date.now();
    assert.ok(proxy.resetAll() >= 1, "a watch connection was open");
    // Created while the informer is disconnected: must arrive after the re-watch from the last resourceVersion.
    await core.createNamespacedConfigMap({ namespace: NS, body: cm("after-reset", "1") });
    await waitFor(async () => inf.get(NS, "after-reset"), { what: "event after reset", timeoutMs: 15_000 });
    const recoveredMs = Date.now() - cut;
    const s = inf.stats();
    assert.ok(s.failures >= 1, `failure counted: ${JSON.stringify(s)}`);
    assert.ok(s.watches >= 2, `re-watched: ${JSON.stringify(s)}`);
    assert.ok(rec.events.includes("add after-reset"));
    console.log(`# informer recovered from a TCP reset in ${recoveredMs} ms (${JSON.stringify(s)})`);

    // Repeated cuts while the API server stays reachable: still converges.
    for (let i = 0; i < 3; i++) {
      proxy.resetAll();
      await sleep(50);
    }
    await core.replaceNamespacedConfigMap({
      name: "after-reset",
      namespace: NS,
      body: cm("after-reset", "2"),
    });
    await waitFor(async () => inf.get(NS, "after-reset")?.data?.v === "2", {
      what: "update after repeated resets",
      timeoutMs: 20_000,
    });
  });

  it("informer: the watchdog restarts a watch that went silent (frozen connection) and relists", async () => {
    const proxy = await new ChaosProxy(new URL(cluster.apiServerUrl)).listen();
    stops.push(() => proxy.close());
    const inf = new Informer<V1ConfigMap>({
      clients: createKubeClients(viaPort(kc, proxy.port)),
      resource: CM,
      namespace: NS,
      labelSelector: "app=kr",
      silenceLimitMs: 1500,
      resyncPeriodMs: 0,
    });
    inf.start();
    stops.push(() => inf.stop());
    await inf.waitForSync();
    await waitFor(async () => inf.stats().watches >= 1, { what: "watch open", timeoutMs: 5000 });
    assert.ok(proxy.freezeExisting() >= 1);
    const frozen = Date.now();
    await core.createNamespacedConfigMap({ namespace: NS, body: cm("during-freeze", "1") });
    await waitFor(async () => inf.get(NS, "during-freeze"), {
      what: "event after freeze",
      timeoutMs: 15_000,
    });
    const s = inf.stats();
    assert.ok(s.watchdogRestarts >= 1, JSON.stringify(s));
    assert.ok(s.lists >= 2, "relisted after the watchdog fired");
    console.log(`# watchdog recovered a frozen watch in ${Date.now() - frozen} ms (limit 1500 ms)`);
  });

  it("informer: periodic resync re-emits cached objects as updates with old === new", async () => {
    const inf = new Informer<V1ConfigMap>({
      clients,
      resource: CM,
      namespace: NS,
      labelSelector: "app=kr",
      resyncPeriodMs: 300,
    });
    const rec = recorder<V1ConfigMap>();
    rec.attach(inf);
    inf.start();
    stops.push(() => inf.stop());
    await inf.waitForSync();
    await waitFor(async () => inf.stats().resyncs >= 2, { what: "two resyncs", timeoutMs: 5000 });
    assert.ok(rec.events.some((e) => e.startsWith("update pre-existing 0->0 resync")));
  });

  it("lease elector: exactly one leader; release hands over quickly; a silent leader is replaced after the lease expires", async () => {
    const mk = (podName: string, extra: Partial<ConstructorParameters<typeof LeaseElector>[0]> = {}) => {
      const log: string[] = [];
      const e = new LeaseElector({
        coordination: leaseApi(clients),
        namespace: NS,
        name: "vireo-leader",
        podName,
        retryPeriodMs: 1000,
        onStartedLeading: () => log.push(`start ${Date.now()}`),
        onStoppedLeading: () => log.push(`stop ${Date.now()}`),
        ...extra,
      });
      return { e, log };
    };
    const a = mk("pod-a");
    const b = mk("pod-b");
    let overlap = 0;
    const sampler = setInterval(() => {
      if (a.e.isLeader() && b.e.isLeader()) overlap++;
    }, 20);
    stops.push(() => clearInterval(sampler));
    a.e.start();
    await waitFor(async () => a.e.isLeader(), { what: "a leads", timeoutMs: 10_000 });
    b.e.start();
    stops.push(() => b.e.stop());
    await sleep(3000);
    assert.equal(b.e.isLeader(), false, "b must not lead while a renews");
    const lease = await coordination.readNamespacedLease({ name: "vireo-leader", namespace: NS });
    assert.equal(lease.spec?.holderIdentity, a.e.identity);
    assert.match(a.e.identity, /^pod-a_[0-9a-f]{8}$/);
    assert.equal(lease.spec?.leaseDurationSeconds, 15);

    const released = Date.now();
    await a.e.stop(); // graceful: releases
    await waitFor(async () => b.e.isLeader(), {
      what: "b takes over after release",
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    const handover = Date.now() - released;
    console.log(`# release → new leader in ${handover} ms (retryPeriod 1000 ms)`);
    // The standby sees the emptied Lease at its next try (≤ 1.2 s) and, having seen a holder, waits the released
    // Lease's own duration (1 s) before taking it: an emptied Lease is not an expired one.
    assert.ok(handover < 3000, `handover after release took ${handover} ms`);
    assert.equal(a.log.length, 2, "a started and stopped leading once");
    const after = await coordination.readNamespacedLease({ name: "vireo-leader", namespace: NS });
    assert.equal(after.spec?.holderIdentity, b.e.identity);
    assert.equal(after.spec?.leaseTransitions, 1, "created by a (0), taken over by b (1)");

    // Now b "crashes": it stops renewing without releasing. c must wait for the lease to expire, then lead.
    const c = mk("pod-c");
    c.e.start();
    stops.push(() => c.e.stop());
    await sleep(2500);
    assert.equal(c.e.isLeader(), false);
    const killed = Date.now();
    await b.e.stop({ release: false });
    await waitFor(async () => c.e.isLeader(), {
      what: "c takes over after expiry",
      timeoutMs: 25_000,
      intervalMs: 20,
    });
    const takeover = Date.now() - killed;
    console.log(
      `# killed leader → new leader in ${takeover} ms (leaseDuration 15000 ms, retryPeriod 1000 ms)`,
    );
    assert.ok(takeover <= 15_000 + 2 * 1200 + 500, `takeover took ${takeover} ms`);
    assert.ok(takeover >= 15_000 - 3000, `took over before the lease could have expired: ${takeover} ms`);
    assert.equal(overlap, 0, "two leaders at once");
  });

  it("lease elector: a leader that cannot renew within renewDeadline stops leading", async () => {
    const proxy = await new ChaosProxy(new URL(cluster.apiServerUrl)).listen();
    stops.push(() => proxy.close());
    const viaProxy = createKubeClients(viaPort(kc, proxy.port));
    let stoppedAt = 0;
    const e = new LeaseElector({
      coordination: leaseApi(viaProxy),
      namespace: NS,
      name: "renew-deadline",
      podName: "pod-r",
      leaseDurationMs: 4000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
      onStoppedLeading: () => {
        stoppedAt = Date.now();
      },
    });
    e.start();
    stops.push(() => e.stop({ release: false }));
    await waitFor(async () => e.isLeader(), { what: "leads", timeoutMs: 10_000 });
    const cut = Date.now();
    proxy.setRefusing(true);
    await waitFor(async () => !e.isLeader(), { what: "steps down", timeoutMs: 10_000, intervalMs: 20 });
    const after = stoppedAt - cut;
    console.log(`# API server unreachable → leader stepped down after ${after} ms (renewDeadline 2000 ms)`);
    assert.ok(after <= 2000 + 500 + 500, `stepped down after ${after} ms`);
    proxy.setRefusing(false);
  });

  it("status writer: zero requests when unchanged; merge-patches /status with only changed fields", async () => {
    const counted = createKubeClients(kc);
    const writer = new StatusWriter({ clients: counted });
    await customObjects.createNamespacedCustomObject({
      ...WIDGETS,
      namespace: NS,
      body: { apiVersion: "e2e.vireo.dev/v1", kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } },
    });
    const ref = { ...WIDGETS, namespace: NS, name: "w" };
    const read = async () =>
      (await customObjects.getNamespacedCustomObject(ref)) as {
        metadata: { generation: number; resourceVersion: string; finalizers?: string[] };
        spec: unknown;
        status?: Record<string, unknown>;
      };
    const s1 = { phase: "Progressing", canaryWeight: 10, analysis: { a: 1, b: 2 }, message: "m" };
    counted.resetRequestCounts();
    assert.equal((await writer.patchStatus(ref, undefined, s1)).written, true);
    assert.equal(counted.requestCounts().patch, 1);
    const w1 = await read();
    assert.deepEqual(w1.status, s1);
    assert.equal(w1.metadata.generation, 1, "status writes do not bump generation");

    counted.resetRequestCounts();
    for (let i = 0; i < 10; i++)
      assert.equal((await writer.patchStatus(ref, w1.status, structuredClone(s1))).written, false);
    assert.deepEqual(
      Object.values(counted.requestCounts()).reduce((x, y) => x + y, 0),
      0,
      "no request at all for 10 unchanged writes",
    );

    const s2 = { phase: "Progressing", canaryWeight: 20, analysis: { a: 1 } };
    assert.equal((await writer.patchStatus(ref, w1.status, s2)).written, true);
    const w2 = await read();
    assert.deepEqual(w2.status, s2, "removed top-level and nested fields are gone");
    assert.deepEqual(w2.spec, { size: 1 });

    // The /status endpoint ignores spec; a status write cannot touch spec even if a caller slipped one in.
    assert.equal((await writer.patchStatus(ref, w2.status, { ...s2, phase: "Paused" })).written, true);
    assert.equal((await read()).status?.phase, "Paused");

    // Fenced: a write based on the resourceVersion it read succeeds and returns the new one; a second write from
    // the same (now stale) read is refused with Conflict and changes nothing — a stale decision cannot land.
    const fence = await read();
    const first = await writer.patchStatus(
      ref,
      fence.status,
      { ...s2, phase: "Healthy" },
      fence.metadata.resourceVersion,
    );
    assert.equal(first.written, true);
    assert.equal(first.resourceVersion, (await read()).metadata.resourceVersion);
    counted.resetRequestCounts();
    await assert.rejects(
      writer.patchStatus(ref, fence.status, { ...s2, phase: "RolledBack" }, fence.metadata.resourceVersion),
      (err: unknown) => classifyError(err).kind === "Conflict",
    );
    assert.equal(counted.requestCounts().patch, 1, "a fenced Conflict is not retried");
    assert.equal((await read()).status?.phase, "Healthy");

    // Finalizers through patchMetadata with a resourceVersion precondition.
    const w3 = await read();
    await writer.patchMetadata(ref, {
      finalizers: ["vireo.dev/finalizer"],
      resourceVersion: w3.metadata.resourceVersion,
    });
    assert.deepEqual((await read()).metadata.finalizers, ["vireo.dev/finalizer"]);
    await assert.rejects(
      writer.patchMetadata(ref, { finalizers: [], resourceVersion: w3.metadata.resourceVersion }),
      (err: unknown) => classifyError(err).kind === "Conflict",
    );
    await writer.patchMetadata(ref, { finalizers: [] });
    assert.equal((await read()).metadata.finalizers, undefined);
  });

  it("event recorder: repeats fold into one Event's series; a different note is a new Event", async () => {
    const counted = createKubeClients(kc);
    const events = new EventRecorder({ events: eventsApi(counted), identity: "pod-a_0000abcd" });
    const regarding = {
      apiVersion: "e2e.vireo.dev/v1",
      kind: "Widget",
      namespace: NS,
      name: "w",
      uid: "uid-w",
    };
    const spec = {
      type: "Normal" as const,
      reason: "WeightIncreased",
      action: "SetWeight",
      note: "weight 20%",
    };
    for (let i = 0; i < 3; i++) await events.record(regarding, spec);
    await events.record(regarding, {
      ...spec,
      type: "Warning",
      reason: "AnalysisFailed",
      note: "x".repeat(5000),
    });
    const counts = counted.requestCounts();
    assert.equal(counts.create, 2);
    assert.equal(counts.patch, 2);
    const list = await eventsV1.listNamespacedEvent({
      namespace: NS,
      fieldSelector: "regarding.name=w",
    });
    const byReason = new Map(list.items.map((e) => [e.reason, e]));
    assert.equal(list.items.length, 2);
    const weight = byReason.get("WeightIncreased");
    assert.equal(weight?.series?.count, 3);
    assert.equal(weight?.reportingController, "vireo.dev/controller");
    assert.equal(weight?.reportingInstance, "pod-a_0000abcd");
    assert.equal(weight?.regarding?.uid, "uid-w");
    assert.ok(Buffer.byteLength(byReason.get("AnalysisFailed")?.note ?? "") <= 1024);
    assert.equal(byReason.get("AnalysisFailed")?.type, "Warning");
  });

  it("discovery finds the mesh API groups the harness installed", async () => {
    const d = new ApiDiscovery({ clients, groups: MESH_API_GROUPS });
    const served = await d.served();
    assert.equal(served.has("apps"), false, "only the mesh registry's groups");
    assert.ok((await d.servedVersions("networking.istio.io")).length > 0, JSON.stringify([...served]));
    assert.ok(await d.preferredVersion("split.smi-spec.io"));
    assert.ok(await d.preferredVersion("gateway.networking.k8s.io"));
    console.log(`# served mesh groups: ${JSON.stringify(Object.fromEntries(served))}`);
  });

  it("errors: an RBAC gap names the verb and resource", async () => {
    const controller = new KubeConfigClass();
    controller.loadFromFile(cluster.controllerKubeconfigPath);
    const ctl = createKubeClients(controller);
    const err = await ctl
      .request({ path: "/api/v1/namespaces/kube-system/secrets" })
      .then(() => undefined)
      .catch((e: unknown) => classifyError(e));
    assert.ok(err, "the controller must not be able to list secrets in kube-system");
    assert.equal(err.kind, "Forbidden");
    assert.match(err.message, /RBAC: forbidden to list secrets in namespace kube-system/);
    assert.match(err.message, /cannot list resource "secrets"/);
  });
});
