// The two controllers of bench:compare's detection phase at equal analysis settings: Vireo's Rollout with the
// builtin request-success-rate on Linkerd metrics, Flagger's Canary with its builtin Linkerd check.
import { join } from "node:path";
import type { Cluster } from "../../e2e/cluster/cluster.ts";
import { startController } from "../../e2e/support/controller-process.ts";
import type { KubeClients } from "../../src/kube/clients.ts";
import { DETECTION_WEIGHTS, vireoDetectionAnalysis, vireoDetectionArgs } from "../detection/settings.ts";
import { type AppRef, benchRollout, forEachLimit } from "../scale/fixtures.ts";
import type { DetectionController } from "./detection.ts";
import { createCanaries, detectionAnalysis, startFlagger } from "./flagger.ts";

/** What both sides are started with. */
export interface DetectionSideOptions {
  cluster: Cluster;
  admin: KubeClients;
  /** Analysis interval and query window, as durations ("10s", "1m"). */
  interval: string;
  window: string;
  qps: number;
  burst: number;
}

/** A Rollout walking its canary through {@link DETECTION_WEIGHTS}, one step per passing analysis tick. */
function detectionRollout(app: AppRef, interval: string, window: string): unknown {
  const steps = DETECTION_WEIGHTS.map((setWeight) => ({ setWeight }));
  return benchRollout(app, steps, vireoDetectionAnalysis(interval, window));
}

const objectPhase = async (admin: KubeClients, path: string): Promise<string> =>
  (await admin.request<{ status?: { phase?: string } }>({ path })).status?.phase ?? "";

/** Vireo, with the cluster's Prometheus and `--metrics-mesh=linkerd`. */
export function vireoDetection(o: DetectionSideOptions): DetectionController {
  const rollouts = (ns: string) => `/apis/vireo.dev/v1alpha1/namespaces/${encodeURIComponent(ns)}/rollouts`;
  return {
    name: "Vireo",
    readyPhase: "Healthy",
    rolledBackPhase: "RolledBack",
    create: (apps) =>
      forEachLimit(apps, 32, async (app) => {
        await o.admin.request({
          method: "POST",
          path: rollouts(app.namespace),
          body: detectionRollout(app, o.interval, o.window),
        });
      }),
    async start() {
      const c = await startController({
        kubeconfigPath: o.cluster.controllerKubeconfigPath,
        logDir: join(o.cluster.dir, "logs"),
        entry: "bundle",
        args: [
          ...vireoDetectionArgs(o.cluster.prometheusUrl!),
          "--log-level=info",
          `--kube-qps=${o.qps}`,
          `--kube-burst=${o.burst}`,
        ],
      });
      return {
        dead: () => (c.exited() ? "controller exited" : undefined),
        stop: async () => {
          await c.stop();
        },
      };
    },
    phase: (app) => objectPhase(o.admin, `${rollouts(app.namespace)}/${encodeURIComponent(app.name)}`),
  };
}

/** Flagger, with `-metrics-server` at the cluster's Prometheus. */
export function flaggerDetection(
  o: DetectionSideOptions & { flaggerDir: string; flaggerKubeconfig: string },
): DetectionController {
  return {
    name: "Flagger",
    readyPhase: "Initialized",
    rolledBackPhase: "Failed",
    create: (apps) => createCanaries(o.admin, apps, detectionAnalysis(o.interval, o.window)),
    async start() {
      const f = await startFlagger({
        dir: o.flaggerDir,
        kubeconfig: o.flaggerKubeconfig,
        logDir: join(o.cluster.dir, "logs"),
        qps: o.qps,
        burst: o.burst,
        metricsServer: o.cluster.prometheusUrl!,
        logName: "flagger-detection.log",
      });
      return {
        dead: () => (f.exited() ? `flagger exited; see ${f.logPath}` : undefined),
        stop: () => f.stop(),
      };
    },
    phase: (app) =>
      objectPhase(
        o.admin,
        `/apis/flagger.app/v1beta1/namespaces/${encodeURIComponent(app.namespace)}/canaries/${encodeURIComponent(app.name)}`,
      ),
  };
}
