// Composition root: parses configuration, builds every component, runs the controller and shuts it down gracefully.
import type { KubernetesObject } from "@kubernetes/client-node";
import { WebMetricClient } from "./analysis/web-metric.ts";
import type { RolloutStatus } from "./api/rollout-schema.ts";
import { LOADGEN_USAGE, loadConfig, loadLoadgenConfig, USAGE } from "./config.ts";
import { PrometheusAnalysisRunner } from "./controller/analysis-runner.ts";
import { AnalysisScheduler } from "./controller/analysis-scheduler.ts";
import { CheckRunner } from "./controller/check-runner.ts";
import { Manager } from "./controller/manager.ts";
import { MeshResolver } from "./controller/mesh-resolver.ts";
import { createNotificationSink } from "./controller/notification-sink.ts";
import type { ReconcileObserver } from "./controller/ports.ts";
import { Reconciler } from "./controller/reconciler.ts";
import { secretReader } from "./controller/secrets.ts";
import { TemplateStore } from "./controller/template-store.ts";
import { createKubeClients } from "./kube/clients.ts";
import { ApiDiscovery } from "./kube/discovery.ts";
import { EventRecorder } from "./kube/event-recorder.ts";
import { Informer } from "./kube/informer.ts";
import { eventsApi, LEASES, type Lease, leaseApi } from "./kube/kube-apis.ts";
import { inClusterServer } from "./kube/kubeconfig/builtin.ts";
import { loadKubeconfig } from "./kube/kubeconfig/load.ts";
import { LeaseElector, makeIdentity } from "./kube/lease-elector.ts";
import { NamespaceLabels } from "./kube/namespace-labels.ts";
import { ServerClock } from "./kube/server-clock.ts";
import { StatusWriter } from "./kube/status-writer.ts";
import { httpSender } from "./loadgen/http-target.ts";
import { LoadgenMetrics } from "./loadgen/metrics.ts";
import { LoadRuns } from "./loadgen/runs.ts";
import { loadgenRoutes } from "./loadgen/server.ts";
import { serviceFacts } from "./mesh/cluster-facts.ts";
import { MESH_API_GROUPS, routingTypes } from "./mesh/registry.ts";
import { AddressPolicy } from "./net/address-policy.ts";
import { Egress } from "./net/egress.ts";
import { type ControllerEndpoints, controllerEndpoints } from "./net/own-endpoints.ts";
import { startTelemetryServer } from "./telemetry/http-server.ts";
import { createLogger } from "./telemetry/logger.ts";
import { VireoMetrics } from "./telemetry/metrics.ts";
import { CheckJobClient } from "./workload/check-job-client.ts";
import { InPlaceWorkloads } from "./workload/in-place.ts";
import { ApiObjectReader, WorkloadManager } from "./workload/workload-manager.ts";

/** Runs the controller until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 fatal error or lost leader lease, 2 bad configuration. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === "loadgen") return loadgen(argv.slice(1), env);
  const config = configOrExit(() => loadConfig(argv, env), USAGE);
  if (typeof config === "number") return config;
  const log = createLogger({ level: config.logLevel, base: { controller: "vireo" } });
  // controller-runtime's order: in a Pod without --kubeconfig or $KUBECONFIG, the ServiceAccount comes first.
  const { connection, via } = await loadKubeconfig({
    path: config.kubeconfig,
    list: config.kubeconfigList,
    inCluster: { host: config.serviceHost, port: config.servicePort },
    preferInCluster: true,
  });

  const metrics = new VireoMetrics();
  const identity = makeIdentity(config.podName);
  // The engine's clock (see server-clock.ts for why it is the API server's, not this node's).
  const serverClock = new ServerClock();
  const engineNow = () => new Date(serverClock.now());
  const clients = createKubeClients(connection, {
    qps: config.kubeQps,
    burst: config.kubeBurst,
    // The identity tells instances apart in the API server's audit log (which one wrote what, and when).
    userAgent: `vireo/0.1.0 (${identity})`,
    onRequest: (verb) => metrics.recordKubeRequest(verb),
    onRetryAfter: (seconds) => metrics.recordKubeBackoff(seconds),
    onServerDate: (date, sentAt, receivedAt) => {
      serverClock.observe(date, sentAt, receivedAt);
      metrics.setClockSkew(serverClock.offsetMs() / 1000);
    },
  });
  const kubeLog = log.child({ component: "kube" });
  const manager = new Manager({
    clients,
    namespaces: config.namespaces,
    ...(config.selector ? { selector: config.selector } : {}),
    workers: config.workers,
    queueMetrics: metrics.workQueueMetrics(),
    logger: kubeLog,
    fallback: new ApiObjectReader(clients),
    onReconciled: (result, seconds) => {
      metrics.observeReconcile(result, seconds);
      if (result === "error") metrics.reconcileErrors.inc();
    },
  });
  const server = await startTelemetryServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry: metrics.registry,
    healthChecks: [{ name: "informers", check: () => manager.health() }],
    readyChecks: [{ name: "informers-synced", check: () => manager.synced() }],
    onAnswered: (method, status) =>
      metrics.telemetryRequests.inc({
        method: method === "GET" || method === "HEAD" ? method : "other",
        code: String(status),
      }),
  });
  // Every request to a URL a Rollout can name goes out here: never to the API server or the controller's own port
  // (bound above), and by default not to loopback, link-local or metadata addresses (docs/multi-tenancy.md).
  const endpoints = await controllerEndpoints(connection.server, [server.port]);
  const egress = new Egress({ policy: tenantPolicy(config, endpoints), proxy: config.egressProxy });
  const measurements = new AnalysisScheduler({
    concurrency: config.analysisConcurrency,
    timeoutMs: 30_000,
    now: () => serverClock.now(),
    onResult: (key) => manager.queue.add(key),
    onDiscard: (reason) => metrics.analysisDiscarded.inc({ reason }),
  });
  const namespaceLabels = new NamespaceLabels(clients);
  const checks = new CheckRunner({
    jobs: new CheckJobClient(clients, (name) => namespaceLabels.get(name), config.jobNamespaces),
    egress,
    allowedUrls: config.allowedCheckUrls,
    readSecret: secretReader(clients),
    concurrency: config.analysisConcurrency,
    wake: (key) => manager.queue.add(key),
  });
  const mesh = new MeshResolver(clients, new ApiDiscovery({ clients, groups: MESH_API_GROUPS }), {
    trustDomain: config.trustDomain,
    facts: {
      namespaceLabels: (name) => namespaceLabels.get(name),
      service: async (namespace, name) => {
        const svc = await manager.service(namespace, name);
        return svc ? serviceFacts(svc) : undefined;
      },
    },
  });
  const notifications = createNotificationSink({
    clients,
    log: log.child({ component: "notify" }),
    metrics,
    egress,
    defaultSlackSecret: config.slackSecret,
  });
  const observer: ReconcileObserver = {
    rolloutState: (ns, name, s: RolloutStatus) => {
      metrics.setRolloutPhase(ns, name, s.phase ?? "Initializing");
      metrics.setRolloutProgress(ns, name, s.canaryWeight ?? 0, s.currentStepIndex ?? 0);
    },
    rolloutDeleted: (ns, name) => {
      metrics.forgetRollout(ns, name);
      notifications.forget(ns, name);
    },
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
  const templates = new TemplateStore({
    clients,
    namespaces: config.namespaces,
    logger: kubeLog,
    rollouts: () => manager.listRollouts(),
    enqueue: (key) => manager.queue.add(key),
  });
  const reconciler = new Reconciler({
    rollouts: manager,
    workloads: new WorkloadManager(clients, manager),
    inPlace: new InPlaceWorkloads(clients),
    mesh: (spec) => mesh.resolve(spec),
    statusWriter: new StatusWriter({ clients }),
    events: new EventRecorder({ events: eventsApi(clients), identity, logger: kubeLog }),
    analysis: new PrometheusAnalysisRunner({
      defaults: {
        ...(config.prometheusUrl ? { address: config.prometheusUrl } : {}),
        allowedUrls: config.allowedPrometheusUrls,
      },
      readSecret: secretReader(clients),
      metricsMesh: config.metricsMesh ?? "linkerd",
      egress,
      web: new WebMetricClient(egress, config.allowedCheckUrls),
      allowedWebUrls: config.allowedCheckUrls,
      scrapeIntervalMs: config.prometheusScrapeIntervalMs,
      scopeLabel: config.scopeQueries ? config.queryNamespaceLabel : undefined,
      now: engineNow,
    }),
    measurements,
    checks,
    notifications,
    observer,
    exposure: config.exposure,
    log: log.child({ component: "reconciler" }),
    now: engineNow,
    deletionTimeoutMs: config.deletionTimeoutMs,
    templates: templates.lookup,
  });
  const reconcile = (ns: string, name: string, signal: AbortSignal) => reconciler.reconcile(ns, name, signal);
  notifications.setOnDelivered((ns, name) => manager.queue.add(`${ns}/${name}`));

  log.info(
    { url: server.url, identity, namespaces: config.namespaces, selector: config.selector, kubeconfig: via },
    "vireo starting",
  );

  await mesh.warm();
  manager.watchRouting(routingTypes(mesh.apis));
  templates.start();
  await manager.start();
  // The informers' lists have answered by now, so the offset is measured.
  const skew = { skewMs: serverClock.offsetMs(), uncertaintyMs: serverClock.uncertaintyMs() };
  if (Math.abs(skew.skewMs) > 1000)
    log.warn(
      skew,
      "this node's clock is off from the API server's: pauses and deadlines run on the API server's",
    );
  else log.info(skew, "clock agrees with the API server's");
  let elector: LeaseElector | undefined;
  /** Resolves the wait below: a signal (clean stop, exit 0) or a lost lease (exit 1, the Deployment restarts us). */
  let finish: (why: { signal?: string; leaseLost?: boolean }) => void = () => {};
  const finished = new Promise<{ signal?: string; leaseLost?: boolean }>((resolve) => {
    finish = resolve;
  });
  let stopping = false;
  let leaseWatch: Informer<Lease & KubernetesObject> | undefined;
  if (config.leaderElect) {
    // The leader learns of a deleted or taken Lease from this watch within milliseconds, not at its next renew.
    leaseWatch = new Informer({
      clients,
      resource: LEASES,
      namespace: config.leaseNamespace,
      fieldSelector: `metadata.name=${config.leaseName}`,
      resyncPeriodMs: 0,
      logger: kubeLog,
    });
    elector = new LeaseElector({
      leaseEvents: leaseWatch,
      // Writes are already fenced (heldUntil is 0); what was sent under the doubted Lease must not land either.
      onInterrupted: (reason) => clients.abortInFlight(`leader Lease in doubt: ${reason}`),
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
    leaseWatch.start();
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
    await leaseWatch?.stop();
    await manager.stop(0);
    await templates.stop();
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
  await leaseWatch?.stop();
  await manager.stop(0);
  await templates.stop();
  await server.close(2000);
  log.info({}, "stopped");
  return 0;
}

/**
 * `vireo loadgen`: the load generator a webhook check calls (docs/load-generator.md). It needs no Kubernetes API:
 * it reads nothing but its flags. Runs until SIGTERM/SIGINT; exit codes as {@link main}'s.
 */
async function loadgen(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = configOrExit(() => loadLoadgenConfig(argv, env), LOADGEN_USAGE);
  if (typeof config === "number") return config;
  const log = createLogger({ level: config.logLevel, base: { component: "loadgen" } });
  // A target's address is the tenant's (an ExternalName or a headless Service's endpoints are its DNS answer), so it
  // passes the controller's egress rules: never the API server or this process's port, by default not loopback,
  // link-local or metadata (docs/load-generator.md). Port 0 (tests) leaves only loopback's default to cover it.
  const endpoints = await controllerEndpoints(
    config.serviceHost ? inClusterServer(config.serviceHost, config.servicePort) : undefined,
    config.port ? [config.port] : [],
    undefined,
    "the load generator",
  );
  const egress = new Egress({ policy: tenantPolicy(config, endpoints) });
  const sender = httpSender({ timeoutMs: config.requestTimeoutMs, maxSockets: config.maxInFlight, egress });
  // The gauge reads the runs at scrape time only, after both exist.
  const metrics = new LoadgenMetrics(() => runs.active());
  const runs = new LoadRuns({
    maxRuns: config.maxRuns,
    maxInFlight: config.maxInFlight,
    send: sender.send,
    onOutcome: (o) => metrics.request(o),
    onSkipped: () => metrics.skipped(),
    onRefused: (run, reason) => {
      metrics.targetRefused("connect");
      log.warn({ run, reason }, "run stopped: the egress policy refused its target");
    },
  });
  const server = await startTelemetryServer({
    port: config.port,
    host: config.host,
    registry: metrics.registry,
    routes: loadgenRoutes({
      runs,
      metrics,
      policy: {
        namespace: config.namespace,
        hostTemplate: config.targetHost,
        ...(config.via ? { via: config.via } : {}),
      },
      caps: { maxRps: config.maxRps, maxDurationMs: config.maxDurationMs, maxBodyBytes: config.maxBodyBytes },
      targetRefusal: sender.refusal,
      log: (message, fields) => log.info(fields, message),
    }),
  });
  log.info({ url: server.url, namespace: config.namespace }, "load generator listening");
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  server.markShuttingDown();
  await runs.stop();
  sender.close();
  await server.close(2000);
  log.info({}, "stopped");
  return 0;
}

/** The address policy for where tenants point: the operator's ranges, the API server and the process's own ports. */
function tenantPolicy(
  ranges: { egressAllow: readonly string[]; egressDeny: readonly string[] },
  endpoints: ControllerEndpoints,
): AddressPolicy {
  return new AddressPolicy({
    allow: ranges.egressAllow,
    deny: ranges.egressDeny,
    denyHosts: endpoints.apiServerHosts,
    protectedEndpoints: endpoints.protectedEndpoints,
  });
}

/** The configuration `load` parses, or the exit code after printing why not: 0 for --help (`usage`), 2 otherwise. */
function configOrExit<T extends object>(load: () => T, usage: string): T | number {
  try {
    return load();
  } catch (err) {
    const text = (err as Error).message;
    process.stderr.write(`${text}\n`);
    return text === usage ? 0 : 2;
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
