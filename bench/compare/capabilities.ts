// bench:compare's Vireo-only phase: the capabilities Flagger has no row for (checks, templates, blue/green, a
// StatefulSet), each on its own apps in its own window, so their requests and memory are counted like the canary's.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Cluster } from "../../e2e/cluster/cluster.ts";
import { startController } from "../../e2e/support/controller-process.ts";
import type { KubeClients } from "../../src/kube/clients.ts";
import { type AppRef, appRefs, benchSteps, create, forEachLimit } from "../scale/fixtures.ts";
import { ProcSampler } from "../scale/proc-sampler.ts";
import { countRequests, type RequestCounts } from "./audit-count.ts";

/** One capability's figures. */
export interface CapabilityResult {
  kind: string;
  /** What Flagger offers closest to it (or that it has none). */
  flagger: string;
  n: number;
  completed: number;
  /** Steps a rollout of this kind counts for the per-step figures. */
  steps: number;
  seconds: number;
  requests: RequestCounts;
  /** Of the reads: EndpointSlice GETs/LISTs (no informer: blue/green reads them when it waits for a switch). */
  endpointSliceReads: number;
  /** Webhook calls the loopback receiver answered. */
  webhookCalls: number;
  peakRssMb: number;
  cpuSeconds: number;
}

/** One capability: its apps' objects and how a new revision reaches them. */
export interface Kind {
  name: string;
  flagger: string;
  steps: number;
  /** The objects of one app, created in order. */
  objects(app: AppRef, receiver: string): { path: string; body: unknown }[];
  /** The new revision's patch of the app's workload. */
  push(app: AppRef, revision: string): { path: string; body: unknown };
}

const ns = (a: AppRef) => encodeURIComponent(a.namespace);
const revisionTemplate = (app: AppRef, revision: string) => ({
  metadata: { labels: { app: app.name }, annotations: { "bench.vireo.dev/revision": revision } },
  spec: {
    containers: [
      { name: "app", image: "ghcr.io/stefanprodan/podinfo:6.0.0", ports: [{ containerPort: 9898 }] },
    ],
  },
});
const deployment = (app: AppRef) => ({
  path: `/apis/apps/v1/namespaces/${ns(app)}/deployments`,
  body: {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: app.name, namespace: app.namespace },
    spec: { replicas: 1, selector: { matchLabels: { app: app.name } }, template: revisionTemplate(app, "1") },
  },
});
const rollout = (app: AppRef, spec: Record<string, unknown>) => ({
  path: `/apis/vireo.dev/v1alpha1/namespaces/${ns(app)}/rollouts`,
  body: {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: app.name, namespace: app.namespace },
    spec: { targetRef: { name: app.name }, progressDeadlineSeconds: 3600, ...spec },
  },
});
const pushDeployment = (app: AppRef, revision: string) => ({
  path: `/apis/apps/v1/namespaces/${ns(app)}/deployments/${encodeURIComponent(app.name)}`,
  body: { spec: { template: { metadata: { annotations: { "bench.vireo.dev/revision": revision } } } } },
});
const smiCanary = (pause: string) => ({
  service: { port: 80, targetPort: 9898 },
  provider: "smi",
  strategy: { canary: { steps: benchSteps(pause) } },
});

/** An always-passing query about the canary (the controller confines it to the namespace, as every tenant's). */
export const PASSING_QUERY = 'vector(100) + 0 * sum(absent(vireo_bench_never{app="{{ target }}"}))';

/** The capabilities measured, with `pause` as each stage's hold and the analysis interval. */
export function capabilityKinds(pause: string): Kind[] {
  return [
    {
      name: "checks: preRollout webhook + prePromotion approval",
      flagger: "webhooks (pre-rollout, confirm-promotion); an approval is a webhook gate someone opens",
      steps: 5,
      objects: (app, receiver) => [
        deployment(app),
        rollout(app, {
          ...smiCanary(pause),
          analysis: { interval: pause, metrics: [] },
          checks: [
            { name: "smoke", webhook: { url: `${receiver}/smoke`, timeout: "5s" } },
            { name: "release", approval: {} },
          ],
          hooks: { preRollout: ["smoke"], prePromotion: ["release"] },
        }),
      ],
      push: pushDeployment,
    },
    {
      name: "AnalysisTemplate (one metric)",
      flagger: "MetricTemplate",
      steps: 5,
      objects: (app) => [
        deployment(app),
        {
          path: `/apis/vireo.dev/v1alpha1/namespaces/${ns(app)}/analysistemplates`,
          body: {
            apiVersion: "vireo.dev/v1alpha1",
            kind: "AnalysisTemplate",
            metadata: { name: "always-ok", namespace: app.namespace },
            spec: { metrics: [{ name: "ok", query: PASSING_QUERY, thresholdRange: { min: 99 } }] },
          },
        },
        rollout(app, {
          ...smiCanary(pause),
          analysis: { interval: pause, metrics: [], templates: [{ name: "always-ok" }] },
        }),
      ],
      push: pushDeployment,
    },
    {
      name: "blue/green, provider kubernetes",
      flagger: "blue/green with provider kubernetes",
      steps: 1,
      objects: (app) => [
        deployment(app),
        rollout(app, {
          service: { port: 80, targetPort: 9898 },
          provider: "kubernetes",
          strategy: {
            blueGreen: { previewAnalysis: false, rollbackWindow: pause, scaleDownDelay: "2s" },
          },
          analysis: { interval: pause, metrics: [] },
        }),
      ],
      push: pushDeployment,
    },
    {
      name: "StatefulSet, 2 replicas, setUpdated 1 then all",
      flagger: "none (Flagger targets Deployments and DaemonSets)",
      steps: 2,
      objects: (app) => [
        {
          path: `/apis/apps/v1/namespaces/${ns(app)}/statefulsets`,
          body: {
            apiVersion: "apps/v1",
            kind: "StatefulSet",
            metadata: { name: app.name, namespace: app.namespace },
            spec: {
              replicas: 2,
              serviceName: app.name,
              podManagementPolicy: "Parallel",
              selector: { matchLabels: { app: app.name } },
              template: revisionTemplate(app, "1"),
            },
          },
        },
        rollout(app, {
          targetRef: { apiVersion: "apps/v1", kind: "StatefulSet", name: app.name },
          provider: "smi",
          strategy: {
            canary: {
              steps: [
                { setUpdated: { replicas: 1 } },
                { pause: { duration: pause } },
                { setUpdated: { percent: 100 } },
              ],
            },
          },
          analysis: { interval: pause, metrics: [] },
        }),
      ],
      push: (app, revision) => ({
        path: `/apis/apps/v1/namespaces/${ns(app)}/statefulsets/${encodeURIComponent(app.name)}`,
        body: { spec: { template: { metadata: { annotations: { "bench.vireo.dev/revision": revision } } } } },
      }),
    },
  ];
}

/** A loopback receiver that passes every webhook check and counts the calls. */
class Receiver {
  calls = 0;
  readonly #server: Server = createServer((req, res) => {
    this.calls++;
    req.resume();
    req.on("end", () => res.writeHead(200).end());
  });
  async up(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", () => r()));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  down(): Promise<void> {
    return new Promise((r) => this.#server.close(() => r()));
  }
}

interface RolloutItem {
  metadata: { namespace: string; name: string; annotations?: Record<string, string> };
  status?: {
    phase?: string;
    stableRevision?: string;
    checks?: { name: string; phase?: string }[];
  };
}

/** Options of the phase. */
export interface CapabilityOptions {
  cluster: Cluster;
  admin: KubeClients;
  /** Apps per capability. */
  n: number;
  pause: string;
  qps: number;
  burst: number;
  user: string;
  log: (l: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs each capability on `n` apps of its own: created, adopted (Healthy), then one new revision to all of them,
 * approvals given as they start waiting, measured until every rollout promoted. One controller for all of them,
 * with the cluster's Prometheus and the receiver on its check allow-list.
 */
export async function measureCapabilities(o: CapabilityOptions): Promise<CapabilityResult[]> {
  const receiver = new Receiver();
  const url = await receiver.up();
  const controller = await startController({
    kubeconfigPath: o.cluster.controllerKubeconfigPath,
    logDir: join(o.cluster.dir, "logs"),
    entry: "bundle",
    args: [
      "--log-level=info",
      `--kube-qps=${o.qps}`,
      `--kube-burst=${o.burst}`,
      `--allowed-check-urls=${url}/`,
      ...(o.cluster.prometheusUrl ? [`--prometheus-url=${o.cluster.prometheusUrl}`] : []),
    ],
  });
  const out: CapabilityResult[] = [];
  try {
    for (const [i, kind] of capabilityKinds(o.pause).entries()) {
      const apps = appRefs(o.n, 10).map((a) => ({
        ...a,
        namespace: a.namespace.replace(/^bench-/, `cap${i}-`),
      }));
      out.push(await measureKind(o, kind, apps, url, receiver, controller.pid, controller.exited));
    }
  } finally {
    await controller.stop().catch(() => {});
    await receiver.down();
  }
  return out;
}

async function measureKind(
  o: CapabilityOptions,
  kind: Kind,
  apps: AppRef[],
  receiverUrl: string,
  receiver: Receiver,
  pid: number,
  exited: () => boolean,
): Promise<CapabilityResult> {
  const namespaces = [...new Set(apps.map((a) => a.namespace))];
  await forEachLimit(namespaces, 16, (name) =>
    create(o.admin, "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } }),
  );
  await forEachLimit(apps, 16, async (app) => {
    for (const { path, body } of kind.objects(app, receiverUrl)) await create(o.admin, path, body);
  });
  const mine = new Set(namespaces);
  const list = async () =>
    (
      await o.admin.request<{ items: RolloutItem[] }>({ path: "/apis/vireo.dev/v1alpha1/rollouts" })
    ).items.filter((r) => mine.has(r.metadata.namespace));
  const until = async (
    what: string,
    ok: (rs: RolloutItem[]) => boolean,
    ms: number,
    each?: (rs: RolloutItem[]) => Promise<void>,
  ) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const rs = await list();
      if (ok(rs)) return rs;
      if (exited()) throw new Error(`${kind.name}: controller exited while waiting for ${what}`);
      if (Date.now() > deadline) return rs;
      await each?.(rs);
      await sleep(1000);
    }
  };
  const healthy = await until(
    "Healthy",
    (rs) => rs.length === apps.length && rs.every((r) => r.status?.phase === "Healthy"),
    120_000 + 2000 * apps.length,
  );
  const baseline = new Map(
    healthy.map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r.status?.stableRevision]),
  );
  o.log(
    `capabilities: ${kind.name}: ${healthy.filter((r) => r.status?.phase === "Healthy").length}/${apps.length} Healthy`,
  );
  await sleep(3000);
  const calls0 = receiver.calls;
  const sampler = new ProcSampler([{ name: "Vireo", pid }]);
  sampler.start();
  const t0 = Date.now();
  await forEachLimit(apps, 32, async (app) => {
    const { path, body } = kind.push(app, "2");
    await o.admin.request({ method: "PATCH", path, body, contentType: "application/merge-patch+json" });
  });
  const promoted = (r: RolloutItem) =>
    r.status?.phase === "Healthy" &&
    r.status.stableRevision !== baseline.get(`${r.metadata.namespace}/${r.metadata.name}`);
  // When each rollout was last approved: an approval given before the check waits is ignored, so it is given again.
  const approvedAt = new Map<string, number>();
  const done = await until(
    "promoted",
    (rs) => rs.every(promoted),
    300_000 + 3000 * apps.length,
    async (rs) => {
      // A person's approval, given the moment each approval starts waiting (as `kubectl vireo approve` writes it).
      const now = Date.now();
      const waiting = rs.filter((r) => {
        const key = `${r.metadata.namespace}/${r.metadata.name}`;
        const run = r.status?.checks?.find((c) => c.name === "release");
        return (
          (run?.phase === "Pending" || run?.phase === "Running") && now - (approvedAt.get(key) ?? 0) > 5000
        );
      });
      await forEachLimit(waiting, 8, async (r) => {
        approvedAt.set(`${r.metadata.namespace}/${r.metadata.name}`, now);
        await o.admin.request({
          method: "PATCH",
          path: `/apis/vireo.dev/v1alpha1/namespaces/${encodeURIComponent(r.metadata.namespace)}/rollouts/${encodeURIComponent(r.metadata.name)}`,
          body: { metadata: { annotations: { "vireo.dev/approve": `release/${randomUUID().slice(0, 8)}` } } },
          contentType: "application/merge-patch+json",
        });
      });
    },
  );
  const t1 = Date.now();
  const usage = sampler.stop()[0]!;
  await sleep(2000);
  const requests = await countRequests(join(o.cluster.dir, "audit.log"), o.user, t0, t1);
  const completed = done.filter(promoted).length;
  o.log(
    `capabilities: ${kind.name}: ${completed}/${apps.length} promoted in ${((t1 - t0) / 1000).toFixed(1)} s`,
  );
  return {
    kind: kind.name,
    flagger: kind.flagger,
    n: apps.length,
    completed,
    steps: kind.steps,
    seconds: (t1 - t0) / 1000,
    requests,
    endpointSliceReads: requests.readsByResource.endpointslices ?? 0,
    webhookCalls: receiver.calls - calls0,
    peakRssMb: usage.peakRss / 2 ** 20,
    cpuSeconds: usage.cpuSeconds,
  };
}

/** The phase's table: per capability, what a rollout asks of the API server per step, and the controller's memory. */
export function capabilityTable(results: readonly CapabilityResult[]): string {
  const lines = [
    "| capability | completed | steps | time s | reads / step / rollout | writes / step / rollout | of which Events | EndpointSlice reads / rollout | webhook calls / rollout | peak RSS MiB | CPU s | Flagger's closest |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of results) {
    const per = r.n * r.steps;
    lines.push(
      `| ${r.kind} | ${r.completed}/${r.n} | ${r.steps} | ${r.seconds.toFixed(1)} | ${(r.requests.reads / per).toFixed(2)} | ` +
        `${(r.requests.writes / per).toFixed(2)} | ${(r.requests.eventWrites / per).toFixed(2)} | ` +
        `${(r.endpointSliceReads / r.n).toFixed(1)} | ${(r.webhookCalls / r.n).toFixed(1)} | ${r.peakRssMb.toFixed(0)} | ` +
        `${r.cpuSeconds.toFixed(1)} | ${r.flagger} |`,
    );
  }
  return lines.join("\n");
}
