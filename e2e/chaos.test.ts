// Chaos during analysis-driven rollouts on a real control plane with a real Prometheus: the controller is killed at
// random points, its leader frozen past the lease, Prometheus and kube-apiserver stopped and restarted, owned objects
// deleted and edited — and still every rollout ends in the right phase, no traffic goes to a backend without ready
// pods (sampled every 200 ms), every decision is in status once and has its Event once, a deduping webhook sees
// each notification once, and nothing a deposed leader sends after its successor's first write takes effect.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeConfig } from "@kubernetes/client-node";
import { ALLOW_REFERENCE_LABEL } from "../src/api/constants.ts";
import type { Rollout } from "../src/api/rollout-schema.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";
import { getOrUndefined } from "./cluster/kube-request.ts";
import type { Behaviour } from "./simulator/backend.ts";
import { type Simulator, startSimulator } from "./simulator/simulator.ts";
import { apply, appManifests, setImage, waitFor } from "./support/app.ts";
import { deposedWrites } from "./support/audit.ts";
import { type ControllerProcess, prometheusArgs, startController } from "./support/controller-process.ts";

const NAME = "podinfo";
const HEALTHY: Partial<Behaviour> = { errorRate: 0, latencyMs: 50, jitterMs: 5 };
const SEED = Number(process.env.VIREO_CHAOS_SEED ?? Date.now() % 100_000);

let cluster: Cluster;
let kc: KubeConfig;
const controllers: ControllerProcess[] = [];

const get = <T>(path: string) => getOrUndefined<T>(kc, path);
const rollout = (ns: string) => get<Rollout>(`/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts/${NAME}`);
const readyOf = async (ns: string, name: string) =>
  (await get<{ status?: { readyReplicas?: number } }>(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`))
    ?.status?.readyReplicas ?? 0;
const splitOf = async (ns: string) =>
  (
    await get<{ spec: { backends: { service: string; weight: number | string }[] } }>(
      `/apis/split.smi-spec.io/v1alpha4/namespaces/${ns}/trafficsplits/${NAME}`,
    )
  )?.spec.backends;

/** A deterministic pseudo-random sequence, so a failing fault schedule can be replayed (seed printed). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/**
 * Samples every 200 ms whether the split gives weight to a backend with no ready pods. Readiness is read before
 * and after the split, and a sample counts only when both reads say zero: a scale-down right after a correct
 * route change would otherwise look like a violation that never happened.
 */
function watchBlackholes(namespaces: string[]): {
  samples: () => number;
  violations: string[];
  stop(): Promise<void>;
} {
  const violations: string[] = [];
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const ns of namespaces) {
        try {
          const before = [await readyOf(ns, NAME), await readyOf(ns, `${NAME}-primary`)];
          const backends = await splitOf(ns);
          const afterRead = [await readyOf(ns, NAME), await readyOf(ns, `${NAME}-primary`)];
          samples++;
          for (const b of backends ?? []) {
            const i = b.service.endsWith("-canary") ? 0 : 1;
            if (Number(b.weight) > 0 && before[i] === 0 && afterRead[i] === 0)
              violations.push(
                `${new Date().toISOString()} ${ns}: ${b.service} weight ${b.weight} with 0 ready pods`,
              );
          }
        } catch {
          // The API server may be briefly unavailable; a missed sample is not a violation.
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    samples: () => samples,
    violations,
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function startOne(): Promise<ControllerProcess> {
  const c = await startController({
    kubeconfigPath: cluster.controllerKubeconfigPath,
    logDir: join(cluster.dir, "logs"),
    args: [...prometheusArgs(cluster.prometheusUrl, "linkerd")],
  });
  controllers.push(c);
  return c;
}
const live = () => controllers.filter((c) => !c.exited());
const holder = async () =>
  (
    await get<{ spec: { holderIdentity?: string } }>(
      "/apis/coordination.k8s.io/v1/namespaces/vireo-system/leases/vireo-controller-leader",
    )
  )?.spec.holderIdentity;
/** The running instance that holds the Lease (by its metrics), if any. */
async function leader(): Promise<ControllerProcess | undefined> {
  for (const c of live()) {
    const text = await c.metrics().catch(() => "");
    if (/vireo_leader\{[^}]*\} 1/.test(text)) return c;
  }
  return undefined;
}

/** A webhook receiver that de-duplicates by Idempotency-Key, as docs/notifications.md asks receivers to; counts what it drops. */
async function dedupingWebhook(): Promise<{
  url: string;
  raw: () => number;
  accepted: Map<string, string>;
  close(): Promise<void>;
}> {
  const accepted = new Map<string, string>();
  let raw = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { event?: string };
    raw++;
    const key = String(req.headers["idempotency-key"] ?? "");
    if (key && !accepted.has(key)) accepted.set(key, String(body.event));
    res.writeHead(200).end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    raw: () => raw,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
let hook: Awaited<ReturnType<typeof dedupingWebhook>>;

describe("chaos during analysis-driven rollouts", () => {
  before(async () => {
    hook = await dedupingWebhook();
    cluster = await startCluster();
    kc = cluster.kubeConfig();
    await startOne();
    await startOne();
  });
  after(async () => {
    for (const c of controllers) await c.stop().catch(() => {});
    await cluster?.stop();
    await hook?.close();
  });

  it("kills, freezes, outages and hand edits: right end phases, no black-holed traffic, no duplicate decisions", async () => {
    console.log(`chaos seed ${SEED} (VIREO_CHAOS_SEED=${SEED} replays the fault schedule)`);
    const random = lcg(SEED);
    const analysis = {
      interval: "5s",
      failureLimit: 1,
      // Prometheus is stopped on purpose below: its outage must hold the rollout, not fail it.
      consecutiveErrorLimit: 20,
      metrics: [
        { name: "success", builtin: "request-success-rate", window: "10s", thresholdRange: { min: 95 } },
      ],
    };
    // The last step is long so the good rollout is still running when its leader is frozen (60–110 s after the
    // new image on a loaded machine), and the successor has writes to make that the deposed leader's could race.
    const steps = [
      { setWeight: 20 },
      { pause: { duration: "5s" } },
      { setWeight: 50 },
      { pause: { duration: "120s" } },
    ];
    const sims: Simulator[] = [];
    const stable: Record<string, string> = {};
    for (const ns of ["chaos-good", "chaos-bad"]) {
      const hookSecret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "hook", namespace: ns, labels: { [ALLOW_REFERENCE_LABEL]: "true" } },
        stringData: { url: hook.url },
      };
      const notifications = { webhook: { secretRef: { name: "hook" } } };
      await apply(
        cluster,
        [
          appManifests({
            namespace: ns,
            steps,
            analysis,
            extraSpec: { progressDeadlineSeconds: 600, notifications },
          }),
          JSON.stringify(hookSecret),
        ].join("\n---\n"),
      );
      const r = await waitFor(
        `${ns} Healthy`,
        () => rollout(ns),
        (x) => x?.status?.phase === "Healthy",
        90_000,
      );
      stable[ns] = r?.status?.stableRevision ?? "";
      const sim = await startSimulator({
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: ns,
        service: NAME,
        rps: 30,
        primary: HEALTHY,
        canary: ns === "chaos-bad" ? { ...HEALTHY, errorRate: 0.3 } : HEALTHY,
        pollMs: 250,
      });
      await cluster.addScrapeTarget(sim.metricsUrl, { job: `sim-${ns}` });
      sims.push(sim);
    }
    const watcher = watchBlackholes(["chaos-good", "chaos-bad"]);
    try {
      await setImage(cluster, "chaos-good", NAME, "ghcr.io/stefanprodan/podinfo:6.1.0");
      await setImage(cluster, "chaos-bad", NAME, "ghcr.io/stefanprodan/podinfo:6.1.0");
      const faults: string[] = [];
      const deposed: { identity: string; successor: string }[] = [];
      const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

      // 1. SIGKILL the leader at a random point of the first steps; a fresh instance replaces it.
      await pause(1000 + random() * 6000);
      const l1 = await leader();
      if (l1) {
        await l1.kill();
        faults.push("SIGKILL leader");
        await startOne();
      }
      // 2. Out-of-band edits of owned objects mid-rollout: the canary Service deleted, the root selector changed.
      await pause(random() * 3000);
      await cluster.kubectl(["delete", "service", `${NAME}-canary`, "-n", "chaos-good", "--wait=false"]);
      await cluster.kubectl([
        "patch",
        "service",
        NAME,
        "-n",
        "chaos-good",
        "--type=merge",
        "-p",
        '{"spec":{"selector":{"app":"podinfo"}}}',
      ]);
      faults.push("deleted canary Service, edited root selector");
      // 3. Prometheus down for 8 s.
      await cluster.stopPrometheus();
      await pause(8000);
      await cluster.restartPrometheus();
      faults.push("Prometheus down 8 s");
      // 3b. kube-apiserver stopped and started again (2 s down plus its start-up): watches break, requests are
      // refused, then everything reconnects. A leader that could not renew in time exits by design; replace it.
      await cluster.restartApiServer(2000);
      faults.push("kube-apiserver restarted");
      while (live().length < 2) await startOne();
      // 4. Freeze the leader past its lease; the standby takes over; the old one wakes up and must exit silently.
      const l2 = await waitFor("a leader", leader, Boolean, 40_000, 200);
      const frozenId = await holder();
      // Under extreme load the faults before the freeze can outlast both rollouts; then the successor has nothing to
      // write (the run says so).
      const endedBeforeFreeze =
        (await rollout("chaos-good"))?.status?.stableRevision !== stable["chaos-good"] &&
        (await rollout("chaos-bad"))?.status?.phase === "RolledBack";
      const frozenAt = new Date().toISOString();
      process.kill(l2!.pid, "SIGSTOP");
      const next = await waitFor(
        "successor",
        async () => {
          const h = await holder();
          return h && h !== frozenId ? h : undefined;
        },
        Boolean,
        40_000,
        200,
      );
      await pause(2000 + random() * 2000);
      console.log(`leader ${frozenId} frozen at ${frozenAt}, woken at ${new Date().toISOString()}`);
      try {
        process.kill(l2!.pid, "SIGCONT");
      } catch (err) {
        // Already gone: it was on its way out when frozen (a leader that lost its lease to the API server's restart
        // exits by design), which is what the next line waits for.
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
      await waitFor("the frozen leader exits", async () => l2!.exited(), Boolean, 20_000, 100);
      deposed.push({ identity: frozenId!, successor: next! });
      if (endedBeforeFreeze)
        console.log("both rollouts had ended before the freeze: the successor has nothing to write");
      faults.push("SIGSTOP leader past the lease");
      // 5. One more SIGKILL at a random point, then let the survivors finish.
      await pause(random() * 4000);
      const l3 = await leader();
      if (l3) {
        await l3.kill();
        faults.push("SIGKILL leader");
      }
      while (live().length < 2) await startOne();
      console.log(`faults: ${faults.join("; ")}`);

      /** Waits for an end phase; on a timeout says where the rollout stands (its status, not the whole object). */
      const ends = async (ns: string, what: string, done: (r: Rollout) => boolean) => {
        try {
          return await waitFor(
            what,
            () => rollout(ns),
            (r) => r !== undefined && done(r),
            240_000,
            500,
          );
        } catch {
          const r = await rollout(ns);
          const { history: _h, ...analysisState } = r?.status?.analysis ?? {};
          throw new Error(
            `${what}: timed out; status ${JSON.stringify({ ...r?.status, lastValidSpec: undefined, analysis: analysisState })}`,
          );
        }
      };
      const good = await ends(
        "chaos-good",
        "chaos-good promoted",
        (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== stable["chaos-good"],
      );
      const bad = await ends("chaos-bad", "chaos-bad rolled back", (r) => r.status?.phase === "RolledBack");
      assert.equal(good?.status?.canaryWeight, 0);
      assert.equal(bad?.status?.stableRevision, stable["chaos-bad"], "the bad revision never became stable");
      await waitFor(
        "chaos-bad split at 0 %",
        () => splitOf("chaos-bad"),
        (b) => (b ?? []).every((x) => !x.service.endsWith("-canary") || Number(x.weight) === 0),
      );
      await pause(1500);
      await watcher.stop();
      console.log(`black-hole samples: ${watcher.violations.length} of ${watcher.samples()} (every 200 ms)`);
      // What the deposed leader sent late is printed first: it is the first suspect for any violation below.
      for (const d of deposed) {
        const w = deposedWrites(cluster.dir, d.identity, d.successor);
        console.log(`deposed leader's late writes: ${JSON.stringify(w.late)}`);
      }
      assert.deepEqual(watcher.violations, []);
      // Each sample is five API reads: on a loaded machine a round takes seconds, not 200 ms (77 samples were seen
      // at a load of 25 on 2 cores), so the floor only says the watcher ran throughout.
      assert.ok(watcher.samples() > 30, "the watcher really sampled");

      // Status is the durable record of the decisions: status.milestones is written with the decision, fenced, so
      // a kill, a freeze or an outage cannot lose it, and a decision taken twice shows there.
      type Event = { reason?: string; note?: string; series?: { count: number } };
      const eventsOf = async (ns: string) =>
        (await get<{ items: Event[] }>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`))?.items ?? [];
      for (const ns of ["chaos-good", "chaos-bad"]) {
        const milestones = (await rollout(ns))?.status?.milestones ?? [];
        console.log(
          `${ns}: milestones in status: ${milestones.map((m) => `${m.reason}@${m.revision}`).join(", ")}`,
        );
        // Once per revision here (failureLimit 1); AnalysisErrors, one per failed evaluation, may repeat.
        const decided = milestones
          .filter((m) => ["RolloutStarted", "Promoted", "AnalysisFailed", "RolledBack"].includes(m.reason))
          .map((m) => `${m.reason}@${m.revision}`);
        assert.equal(new Set(decided).size, decided.length, `${ns}: a decision was recorded twice in status`);
        const ended = ns === "chaos-good" ? "Promoted" : "AnalysisFailed";
        for (const reason of ["RolloutStarted", ended])
          assert.ok(
            milestones.some((m) => m.reason === reason),
            `${ns}: decisions were recorded (${reason} in status)`,
          );
        // Each milestone's Event is recorded after the status write, and recorded again from status by the next
        // reconcile or a successor when a kill, a freeze or an outage lost it (named after the milestone, so the
        // API server keeps one). The note may be longer than the milestone's clipped message.
        await waitFor(
          `${ns}: an Event for every milestone`,
          () => eventsOf(ns),
          (list) =>
            milestones.every((m) =>
              list.some(
                (e) => e.reason === m.reason && (e.note ?? "").startsWith(m.message.replace(/…$/, "")),
              ),
            ),
          60_000,
          500,
        );
      }
      // One Event per decision: the recorder folds repeats of the same note into a series, so a decision taken
      // twice shows as series.count ≥ 2 or as two Events with the same reason and note.
      for (const ns of ["chaos-good", "chaos-bad"]) {
        const list = await eventsOf(ns);
        const decisions = list.filter((e) =>
          [
            "RolloutStarted",
            "StepAdvanced",
            "Promoted",
            "Promoting",
            "AnalysisFailed",
            "RolledBack",
          ].includes(e.reason ?? ""),
        );
        const seen = new Map<string, number>();
        for (const e of decisions) {
          const key = `${e.reason}: ${e.note}`;
          seen.set(key, (seen.get(key) ?? 0) + (e.series?.count ?? 1));
        }
        const repeated = [...seen].filter(([, n]) => n > 1);
        console.log(`${ns}: ${decisions.length} decision Events, ${repeated.length} repeated`);
        assert.deepEqual(repeated, [], `${ns}: a decision's Event was recorded twice`);
      }
      // Notifications: after the rollouts ended and nothing is pending, every decided notification reached the
      // deduping webhook, and whatever a crash made the controller resend carried the original Idempotency-Key.
      await waitFor(
        "notifications delivered",
        async () => [await rollout("chaos-good"), await rollout("chaos-bad")],
        (rs) => rs.every((r) => (r?.status?.notifications?.pending?.length ?? 0) === 0),
        60_000,
        500,
      );
      const events = [...hook.accepted.values()];
      console.log(
        `webhook: ${hook.raw()} requests, ${hook.accepted.size} distinct keys (${hook.raw() - hook.accepted.size} resends dropped by Idempotency-Key, 0 duplicates after dedupe): ${events.join(", ")}`,
      );
      assert.equal(events.filter((e) => e === "Promoted").length, 1, "one Promoted after dedupe");
      assert.equal(events.filter((e) => e === "RolledBack").length, 1, "one RolledBack after dedupe");
      assert.equal(events.filter((e) => e === "Started").length, 2, "one Started per rollout after dedupe");
      // History: no analysis tick recorded twice.
      for (const r of [good, bad]) {
        const ats = (r?.status?.analysis?.history ?? []).map((m) => `${m.metric}@${m.at}`);
        assert.equal(new Set(ats).size, ats.length, "an analysis tick was recorded twice");
      }
      // The deposed leader's writes after its successor's first (the API server's audit log): a write dispatched in
      // the event-loop turn it was frozen in may still arrive, but it is resourceVersion-fenced, so none takes effect.
      for (const d of deposed) {
        const w = deposedWrites(cluster.dir, d.identity, d.successor);
        console.log(
          `deposed leader: ${w.late.length} writes received after the successor's first (${w.successorFirst}): ${w.late.length - w.effective.length} refused, ${w.effective.length} took effect`,
        );
        assert.ok(
          w.successorFirst || endedBeforeFreeze,
          "the successor wrote (both rollouts were still running)",
        );
        assert.deepEqual(w.effective, []);
      }
    } finally {
      await watcher.stop();
      for (const s of sims) await s.stop();
    }
  });
});
