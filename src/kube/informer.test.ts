import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { RawRequest } from "./clients.ts";
import { Informer } from "./informer.ts";
import { FakeClock } from "./testing/fake-clock.ts";

const tick = async (n = 10): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const cm = (name: string, rv: string, v = rv): V1ConfigMap => ({
  metadata: { name, namespace: "ns", resourceVersion: rv },
  data: { v },
});

/** A scripted API: lists return `items`, each watch gets a controllable stream. */
function fakeApi() {
  /** `failPage`: the list request for that page (0-based, counted per list) fails once. */
  const state = { items: [] as V1ConfigMap[], rv: "10", listErrors: 0, failPage: -1 };
  const watches: Array<{
    query: RawRequest["query"];
    push(ev: object): void;
    end(): void;
    fail(e: Error): void;
  }> = [];
  const lists: RawRequest[] = [];
  const clients = {
    async request<T>(req: RawRequest): Promise<T> {
      lists.push(req);
      if (state.listErrors > 0) {
        state.listErrors--;
        throw new TypeError("fetch failed", {
          cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
        });
      }
      // Pages of `limit` items; the continue token is the next item's index.
      const from = Number(req.query?.continue ?? 0);
      const limit = Number(req.query?.limit ?? state.items.length) || state.items.length;
      if (from > 0 && from / limit === state.failPage) {
        state.failPage = -1;
        throw new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) });
      }
      const next = from + limit < state.items.length ? String(from + limit) : undefined;
      return {
        kind: "ConfigMapList",
        metadata: { resourceVersion: state.rv, ...(next ? { continue: next } : {}) },
        items: structuredClone(state.items.slice(from, from + limit)),
      } as T;
    },
    async stream(req: RawRequest): Promise<ReadableStream<Uint8Array>> {
      let ctl!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          ctl = c;
        },
      });
      req.signal?.addEventListener("abort", () => ctl.error(req.signal?.reason), { once: true });
      const enc = new TextEncoder();
      watches.push({
        query: req.query,
        push: (ev) => ctl.enqueue(enc.encode(`${JSON.stringify(ev)}\n`)),
        end: () => ctl.close(),
        fail: (e) => ctl.error(e),
      });
      return stream;
    },
  };
  return { clients, state, watches, lists };
}

function setup(opts: Partial<ConstructorParameters<typeof Informer>[0]> = {}) {
  const clock = new FakeClock();
  const api = fakeApi();
  const log: string[] = [];
  const inf = new Informer<V1ConfigMap>({
    clients: api.clients,
    resource: { group: "", version: "v1", plural: "configmaps" },
    namespace: "ns",
    clock,
    resyncPeriodMs: 0,
    ...opts,
  });
  inf.onAdd((o) => log.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`));
  inf.onUpdate((a, b) =>
    log.push(`update ${b.metadata?.name} ${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`),
  );
  inf.onDelete((o) => log.push(`delete ${o.metadata?.name}`));
  return { clock, api, log, inf };
}

describe("Informer (scripted API, virtual time)", () => {
  it("lists, then watches from the list's resourceVersion with bookmarks and a server timeout", async () => {
    const { api, log, inf } = setup();
    api.state.items = [cm("a", "5")];
    inf.start();
    await inf.waitForSync();
    await tick();
    assert.deepEqual(log, ["add a@5"]);
    assert.equal(inf.get("ns", "a")?.kind, "ConfigMap");
    const q = api.watches[0]?.query ?? {};
    assert.equal(q.resourceVersion, "10");
    assert.equal(q.allowWatchBookmarks, true);
    assert.ok(Number(q.timeoutSeconds) >= 25 && Number(q.timeoutSeconds) < 30);
    api.watches[0]?.push({ type: "MODIFIED", object: cm("a", "11") });
    api.watches[0]?.push({ type: "ADDED", object: cm("b", "12") });
    api.watches[0]?.push({ type: "BOOKMARK", object: { metadata: { resourceVersion: "15" } } });
    api.watches[0]?.push({ type: "DELETED", object: cm("b", "16") });
    await tick();
    assert.deepEqual(log, ["add a@5", "update a 5->11", "add b@12", "delete b"]);
    assert.equal(inf.stats().resourceVersion, "16");
    await inf.stop();
  });

  it("caches objects without managedFields or kubectl's last-applied copy, keeping other annotations", async () => {
    const { api, inf } = setup();
    const fat = (name: string, rv: string, keep: boolean): V1ConfigMap => ({
      metadata: {
        name,
        namespace: "ns",
        resourceVersion: rv,
        managedFields: [{ manager: "kubectl", operation: "Apply" }],
        annotations: {
          "kubectl.kubernetes.io/last-applied-configuration": "{}".padEnd(4000, " "),
          ...(keep ? { "team.example/owner": "shop" } : {}),
        },
      },
      data: { v: rv },
    });
    api.state.items = [fat("listed", "5", true)];
    inf.start();
    await inf.waitForSync();
    await tick();
    api.watches[0]?.push({ type: "ADDED", object: fat("watched", "11", false) });
    await tick();
    const listed = inf.get("ns", "listed");
    assert.equal(listed?.metadata?.managedFields, undefined);
    assert.deepEqual(listed?.metadata?.annotations, { "team.example/owner": "shop" });
    const watched = inf.get("ns", "watched");
    assert.equal(watched?.metadata?.managedFields, undefined);
    assert.equal(watched?.metadata?.annotations, undefined);
    assert.equal(watched?.data?.v, "11");
    await inf.stop();
  });

  it("keeps only its projection of each listed and watched object; handlers see the projection too", async () => {
    const seen: unknown[] = [];
    const { api, inf } = setup({
      project: (o: V1ConfigMap) => ({ metadata: { ...o.metadata, annotations: {} }, data: {} }),
    });
    inf.onAdd((o) => seen.push(o.data));
    api.state.items = [
      { ...cm("a", "5"), metadata: { ...cm("a", "5").metadata, annotations: { big: "x" } } },
    ];
    inf.start();
    await inf.waitForSync();
    await tick();
    api.watches[0]?.push({ type: "ADDED", object: cm("b", "11") });
    await tick();
    assert.deepEqual(inf.get("ns", "a")?.metadata?.annotations, {});
    assert.deepEqual(inf.get("ns", "b")?.data, {});
    assert.deepEqual(seen, [{}, {}]);
    await inf.stop();
  });

  it("relists page by page into the cache, deleting what the list lacks only after its last page", async () => {
    const { api, clock, log, inf } = setup({ pageSize: 2 });
    api.state.items = ["a", "b", "c", "d", "e"].map((n) => cm(n, "1"));
    inf.start();
    await inf.waitForSync();
    await tick();
    assert.equal(inf.list().length, 5);
    log.length = 0;
    // The next list: a changed, c gone, f new; its second page fails once.
    api.state.items = [cm("a", "2"), cm("b", "1"), cm("d", "1"), cm("e", "1"), cm("f", "3")];
    api.state.failPage = 1;
    api.watches[0]?.push({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
    await tick(30);
    // The failed list updated a (page 1) but deleted nothing: c is still cached.
    assert.deepEqual(log, ["update a 1->2"]);
    assert.ok(inf.get("ns", "c"));
    clock.advance(2000);
    await tick(30);
    assert.deepEqual(log, ["update a 1->2", "add f@3", "delete c"]);
    assert.deepEqual(
      inf
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
      ["a", "b", "d", "e", "f"],
    );
    await inf.stop();
  });

  it("lists one namespace from its index, following adds, deletes and relists", async () => {
    const { api, inf } = setup({ namespace: undefined });
    const inNs = (name: string, ns: string, rv: string): V1ConfigMap => ({
      ...cm(name, rv),
      metadata: { name, namespace: ns, resourceVersion: rv },
    });
    api.state.items = [inNs("a", "x", "1"), inNs("b", "y", "2")];
    inf.start();
    await inf.waitForSync();
    await tick();
    const names = (ns: string) =>
      inf
        .list(ns)
        .map((o) => o.metadata?.name)
        .sort();
    assert.deepEqual(names("x"), ["a"]);
    api.watches[0]?.push({ type: "ADDED", object: inNs("c", "x", "11") });
    api.watches[0]?.push({ type: "DELETED", object: inNs("b", "y", "12") });
    await tick();
    assert.deepEqual(names("x"), ["a", "c"]);
    assert.deepEqual(names("y"), []);
    assert.equal(inf.list().length, 2);
    await inf.stop();
  });

  it("re-watches from the last resourceVersion after a graceful close, without relisting", async () => {
    const { api, clock, inf } = setup();
    inf.start();
    await inf.waitForSync();
    await tick();
    api.watches[0]?.push({ type: "BOOKMARK", object: { metadata: { resourceVersion: "20" } } });
    await tick();
    clock.advance(1500); // a watch that closes instantly is treated as a failure symptom; this one lived
    api.watches[0]?.end();
    await tick();
    assert.equal(api.watches.length, 2);
    assert.equal(api.watches[1]?.query?.resourceVersion, "20");
    assert.equal(api.lists.length, 1);
    await inf.stop();
  });

  it("after an abrupt error, backs off exponentially and re-watches; 410 Gone relists and diffs the cache", async () => {
    const { api, clock, log, inf } = setup({ backoffBaseMs: 1000, backoffMaxMs: 30_000 });
    api.state.items = [cm("a", "5"), cm("b", "6")];
    inf.start();
    await inf.waitForSync();
    await tick();
    api.watches[0]?.fail(
      new TypeError("terminated", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }),
    );
    await tick();
    assert.equal(api.watches.length, 1, "waits before reconnecting");
    clock.advance(1100);
    await tick();
    assert.equal(api.watches.length, 2);
    assert.equal(inf.stats().failures, 1);
    api.watches[1]?.fail(
      new TypeError("terminated", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }),
    );
    await tick();
    clock.advance(1100);
    await tick();
    assert.equal(api.watches.length, 2, "second failure backs off ~2 s");
    clock.advance(1100);
    await tick();
    assert.equal(api.watches.length, 3);
    // The watch expires: relist, which finds b deleted and a changed.
    api.state.items = [cm("a", "30")];
    api.state.rv = "31";
    api.watches[2]?.push({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
    await tick();
    clock.advance(1100);
    await tick(20);
    assert.equal(api.lists.length, 2);
    assert.deepEqual(log.slice(2), ["update a 5->30", "delete b"]);
    assert.equal(api.watches.at(-1)?.query?.resourceVersion, "31");
    await inf.stop();
  });

  it("retries a failing list with backoff and only then reports synced", async () => {
    const { api, clock, inf } = setup();
    api.state.listErrors = 2;
    inf.start();
    await tick();
    assert.equal(inf.hasSynced(), false);
    clock.advance(1100);
    await tick();
    clock.advance(2200);
    await tick();
    assert.equal(inf.hasSynced(), true);
    assert.equal(api.lists.length, 3);
    await inf.stop();
  });

  it("watchdog: a silent watch is aborted and relisted; health fails only if silence persists", async () => {
    const { api, clock, inf } = setup({ silenceLimitMs: 10_000 });
    inf.start();
    await inf.waitForSync();
    await tick();
    clock.advance(9000);
    await tick();
    assert.equal(inf.stats().watchdogRestarts, 0);
    api.watches[0]?.push({ type: "BOOKMARK", object: { metadata: { resourceVersion: "11" } } });
    await tick();
    clock.advance(9000);
    await tick();
    assert.equal(inf.stats().watchdogRestarts, 0, "bookmarks keep the watch alive");
    clock.advance(5000);
    await tick(20);
    assert.equal(inf.stats().watchdogRestarts, 1);
    assert.equal(api.lists.length, 2);
    assert.equal(api.watches.length, 2);
    assert.equal(inf.health(), true);
    // The API server becomes unreachable: nothing succeeds any more, so liveness eventually fails.
    api.state.listErrors = 1000;
    api.watches[1]?.fail(
      new TypeError("terminated", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }),
    );
    for (let i = 0; i < 100; i++) {
      clock.advance(2500);
      await tick();
    }
    assert.equal(inf.health(), true, "an API-server outage of minutes does not fail liveness");
    for (let i = 0; i < 40; i++) {
      clock.advance(2500);
      await tick();
    }
    assert.match(String(inf.health()), /no successful list\/watch activity/);
    await inf.stop();
  });

  it("by default a dead watch is relisted within 35 s; a quiet one the server renews every <30 s never is", async () => {
    const { api, clock, inf } = setup();
    inf.start();
    await inf.waitForSync();
    await tick();
    const timeout = Number(api.watches[0]?.query?.timeoutSeconds);
    // Healthy but quiet: the server ends each watch at its timeout, and the informer re-watches.
    for (let i = 0; i < 5; i++) {
      clock.advance(timeout * 1000);
      api.watches.at(-1)?.end();
      await tick(20);
    }
    assert.equal(inf.stats().watchdogRestarts, 0);
    assert.equal(api.lists.length, 1, "a quiet watch is renewed from its resourceVersion, not relisted");
    // Dead: the connection stops delivering anything, the server's close included.
    const cutAt = clock.now();
    while (inf.stats().watchdogRestarts === 0) {
      clock.advance(500);
      await tick();
    }
    const blind = clock.now() - cutAt;
    assert.ok(blind <= 35_500, `relisted ${blind} ms after the watch went silent`);
    assert.equal(api.lists.length, 2);
    await inf.stop();
  });

  it("resync re-emits cached objects as updates with old === new", async () => {
    const { api, clock, log, inf } = setup({ resyncPeriodMs: 60_000 });
    api.state.items = [cm("a", "5")];
    inf.start();
    await inf.waitForSync();
    await tick();
    clock.advance(66_001);
    await tick();
    assert.deepEqual(log, ["add a@5", "update a 5->5"]);
    assert.equal(inf.stats().resyncs, 1);
    await inf.stop();
  });

  it("a throwing handler does not break the informer", async () => {
    const { api, inf } = setup();
    inf.onAdd(() => {
      throw new Error("handler bug");
    });
    const seen: string[] = [];
    inf.onAdd((o) => seen.push(o.metadata?.name ?? ""));
    inf.start();
    await inf.waitForSync();
    await tick();
    api.watches[0]?.push({ type: "ADDED", object: cm("x", "11") });
    await tick();
    assert.deepEqual(seen, ["x"]);
    await inf.stop();
  });
});
