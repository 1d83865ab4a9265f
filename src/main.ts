// Composition root: parses configuration, builds every component, runs the controller and shuts it down gracefully.
import type { RolloutStatus } from "./api/rollout-schema.ts";
import { loadConfig, USAGE } from "./config.ts";
import { PrometheusAnalysisRunner } from "./controller/analysis-runner.ts";
import { AnalysisScheduler } from "./controller/analysis-scheduler.ts";
import { Manager } from "./controller/manager.ts";
import { MeshResolver } from "./controller/mesh-resolver.ts";
import { createNotificationSink } from "./controller/notification-sink.ts";
import type { ReconcileObserver } from "./controller/ports.ts";
import { Reconciler } from "./controller/reconciler.ts";
import { secretReader } from "./controller/secrets.ts";
import { createKubeClients } from "./kube/clients.ts";
import {
  type KubeConfigLike,
  type KubeConnection,
  loadConnection,
  NeedsPluginAuth,
} from "./kube/connection.ts";
import { ApiDiscovery } from "./kube/discovery.ts";
import { EventRecorder } from "./kube/event-recorder.ts";
import { eventsApi, leaseApi } from "./kube/kube-apis.ts";
import { LeaseElector, makeIdentity } from "./kube/lease-elector.ts";
import { NamespaceLabels } from "./kube/namespace-labels.ts";
import { StatusWriter } from "./kube/status-writer.ts";
import { serviceFacts } from "./mesh/cluster-facts.ts";
import { MESH_API_GROUPS, routingTypes } from "./mesh/registry.ts";
import { startTelemetryServer } from "./telemetry/http-server.ts";
import { createLogger } from "./telemetry/logger.ts";
import { VireoMetrics } from "./telemetry/metrics.ts";
import { WorkloadManager } from "./workload/workload-manager.ts";

/** Runs the controller until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 fatal error or lost leader lease, 2 bad configuration. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(argv, env);
  } catch (err) {
    const text = (err as Error).message;
    process.stderr.write(`${text}\n`);
    return text === USAGE ? 0 : 2;
  }
  const log = createLogger({ level: config.logLevel, base: { controller: "vireo" } });
  const connection = await connect(config.kubeconfig);

  const metrics = new VireoMetrics();
  const identity = makeIdentity(config.podName);
  const clients = createKubeClients(connection, {
    qps: config.kubeQps,
    burst: config.kubeBurst,
    // The identity tells instances apart in the API server's audit log (which one wrote what, and when).
    userAgent: `vireo/0.1.0 (${identity})`,
    onRequest: (verb) => metrics.recordKubeRequest(verb),
  });
  const kubeLog = log.child({ component: "kube" });
  const manager = new Manager({
    clients,
    namespaces: config.namespaces,
    ...(config.selector ? { selector: config.selector } : {}),
    workers: config.workers,
    queueMetrics: metrics.workQueueMetrics(),
    logger: kubeLog,
    onReconciled: (result, seconds) => {
      metrics.observeReconcile(result, seconds);
      if (result === "error") metrics.reconcileErrors.inc();
    },
  });
  const measurements = new AnalysisScheduler({
    concurrency: config.analysisConcurrency,
    timeoutMs: 30_000,
    onResult: (key) => manager.queue.add(key),
    onDiscard: (reason) => metrics.analysisDiscarded.inc({ reason }),
  });
  const namespaceLabels = new NamespaceLabels(clients);
  const mesh = new MeshResolver(clients, new ApiDiscovery({ clients, groups: MESH_API_GROUPS }), {
    namespaceLabels: (name) => namespaceLabels.get(name),
    service: async (namespace, name) => {
      const svc = await manager.service(namespace, name);
      return svc ? serviceFacts(svc) : undefined;
    },
  });
  const notifications = createNotificationSink({
    clients,
    log: log.child({ component: "notify" }),
    metrics,
    defaultSlackSecret: config.slackSecret,
  });
  const observer: ReconcileObserver = {
    rolloutState: (ns, name, s: RolloutStatus) => {
      metrics.setRolloutPhase(ns, name, s.phase ?? "Initializing");
      metrics.setRolloutProgress(ns, name, s.canaryWeight ?? 0, s.currentStepIndex ?? 0);
    },
    rolloutDeleted: (ns, name) => metrics.forgetRollout(ns, name),
    analysisResults: (ns, name, s, previous) => {
      if (s.analysis?.lastRunAt === previous?.analysis?.lastRunAt) return;
      for (const m of s.analysis?.history ?? []) {
        if (m.at === s.analysis?.lastRunAt) metrics.recordAnalysis(ns, name, m.metric, m.verdict);
      }
    },
    notificationsDropped: (n) => {
      for (let i = 0; i < n; i++) metrics.recordNotification("outbox", "dropped");
    },
  };
  const reconciler = new Reconciler({
    rollouts: manager,
    workloads: new WorkloadManager(clients, manager),
    mesh: (spec) => mesh.resolve(spec),
    statusWriter: new StatusWriter({ clients }),
    events: new EventRecorder({ events: eventsApi(clients), identity, logger: kubeLog }),
    analysis: new PrometheusAnalysisRunner(
      {
        ...(config.prometheusUrl ? { address: config.prometheusUrl } : {}),
        allowedUrls: config.allowedPrometheusUrls,
      },
      secretReader(clients),
      config.metricsMesh ?? "linkerd",
      config.prometheusScrapeIntervalMs,
    ),
    measurements,
    notifications,
    observer,
    log: log.child({ component: "reconciler" }),
    now: () => new Date(),
  });
  const reconcile = (ns: string, name: string, signal: AbortSignal) => reconciler.reconcile(ns, name, signal);
  notifications.setOnDelivered((ns, name) => manager.queue.add(`${ns}/${name}`));

  const server = await startTelemetryServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry: metrics.registry,
    healthChecks: [{ name: "informers", check: () => manager.health() }],
    readyChecks: [{ name: "informers-synced", check: () => manager.synced() }],
  });
  log.info(
    { url: server.url, identity, namespaces: config.namespaces, selector: config.selector },
    "vireo starting",
  );

  await mesh.warm();
  manager.watchRouting(routingTypes(mesh.apis));
  await manager.start();
  let elector: LeaseElector | undefined;
  /** Resolves the wait below: a signal (clean stop, exit 0) or a lost lease (exit 1, the Deployment restarts us). */
  let finish: (why: { signal?: string; leaseLost?: boolean }) => void = () => {};
  const finished = new Promise<{ signal?: string; leaseLost?: boolean }>((resolve) => {
    finish = resolve;
  });
  let stopping = false;
  if (config.leaderElect) {
    elector = new LeaseElector({
      coordination: leaseApi(clients),
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity,
      logger: kubeLog,
      onStartedLeading: () => {
        log.info({ identity }, "became leader");
        metrics.setLeader(identity, true);
        manager.lead(reconcile);
      },
      onStoppedLeading: () => {
        metrics.setLeader(identity, false);
        if (stopping) return;
        // Lost, not released: a successor may already lead. Stop writing at once — abort what is in flight, refuse
        // the rest — and exit, rather than finish reconciles that could overwrite the new leader's decisions.
        log.error({ identity }, "lost the leader lease: aborting in-flight requests and exiting");
        clients.revokeWrites("this instance lost the leader lease");
        finish({ leaseLost: true });
      },
    });
    const held = elector;
    // Every write is checked against the lease's validity when it is sent, so a process frozen past its lease
    // (SIGSTOP, a paused VM) cannot write after waking even before its timers notice the loss.
    clients.fenceWrites(() => Date.now() < held.heldUntil());
    elector.start();
  } else {
    manager.lead(reconcile);
  }

  process.once("SIGTERM", () => finish({ signal: "SIGTERM" }));
  process.once("SIGINT", () => finish({ signal: "SIGINT" }));
  const why = await finished;
  stopping = true;
  server.markShuttingDown();
  if (why.leaseLost) {
    // Nothing more may reach the API server or a receiver: no grace, no notification flush.
    await manager.stopLeading(0);
    measurements.abortAll();
    await elector?.stop({ release: false });
    await manager.stop(0);
    await server.close(500);
    return 1;
  }
  log.info({ signal: why.signal }, "shutting down");
  // Order matters: stop being ready, stop taking work and finish in-flight reconciles, flush notifications, then
  // release the Lease so the standby takes over at once instead of after the lease duration.
  await manager.stopLeading(config.shutdownGraceMs);
  measurements.abortAll();
  await notifications.drain(5000);
  await elector?.stop({ release: true });
  await manager.stop(0);
  await server.close(2000);
  log.info({}, "stopped");
  return 0;
}

/**
 * The API server connection. Certificates and tokens are handled here; only a kubeconfig whose user needs an auth
 * plugin (exec, auth-provider: developer laptops against cloud clusters) loads client-node, which costs ~80 MB.
 */
async function connect(kubeconfig: string | undefined): Promise<KubeConnection | KubeConfigLike> {
  try {
    return await loadConnection(kubeconfig);
  } catch (err) {
    if (!(err instanceof NeedsPluginAuth)) throw err;
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
    return kc;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`vireo: fatal: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
