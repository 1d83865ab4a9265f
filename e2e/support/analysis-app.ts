// The app of the analysis e2e files: deployed with an analysis, Healthy, its traffic simulated and scraped by the
// cluster's Prometheus; and how they read and show a Rollout's analysis history.
import type { Measurement, Rollout } from "../../src/api/rollout-schema.ts";
import type { Cluster } from "../cluster/cluster.ts";
import type { Behaviour } from "../simulator/backend.ts";
import { type Simulator, startSimulator } from "../simulator/simulator.ts";
import { apply, appManifests, setImage, waitForRollout } from "./app.ts";

/** The measurements of `metric` in `r`'s analysis history. */
export const history = (r: Rollout | undefined, metric: string): Measurement[] =>
  (r?.status?.analysis?.history ?? []).filter((m) => m.metric === metric);

/** Phase, message and the last measurements of `r`, for assertion messages. */
export const brief = (r: Rollout | undefined): string =>
  JSON.stringify({
    phase: r?.status?.phase,
    message: r?.status?.message,
    history: r?.status?.analysis?.history?.slice(-4),
  });

/** What {@link deploySimulated} deploys. */
export interface SimulatedApp {
  namespace: string;
  name: string;
  steps: unknown[];
  analysis: Record<string, unknown>;
  /** How the primary and the canary answer (40 requests/s in all). */
  primary: Partial<Behaviour>;
  canary: Partial<Behaviour>;
}

/** Deploys the app, waits for Healthy and starts a simulator Prometheus scrapes; `stable` is its first revision. */
export async function deploySimulated(
  cluster: Cluster,
  o: SimulatedApp,
): Promise<{ simulator: Simulator; stable: string }> {
  await apply(cluster, appManifests({ namespace: o.namespace, steps: o.steps, analysis: o.analysis }));
  const healthy = await waitForRollout(
    cluster,
    o.namespace,
    o.name,
    "Healthy",
    (r) => r.status?.phase === "Healthy",
  );
  const simulator = await startSimulator({
    kubeconfigPath: cluster.kubeconfigPath,
    namespace: o.namespace,
    service: o.name,
    rps: 40,
    primary: o.primary,
    canary: o.canary,
    pollMs: 250,
  });
  await cluster.addScrapeTarget(simulator.metricsUrl, { job: `sim-${o.namespace}` });
  return { simulator, stable: healthy.status?.stableRevision ?? "" };
}

/**
 * Starts revision `image` of app `name` in two namespaces and waits until the one with the bad canary is rolled
 * back and the one with the good canary is promoted (Healthy on a new stable revision).
 */
export async function rollOutPair(
  cluster: Cluster,
  name: string,
  image: string,
  bad: string,
  good: { namespace: string; stable: string },
): Promise<{ rolledBack: Rollout; promoted: Rollout }> {
  await Promise.all([setImage(cluster, bad, name, image), setImage(cluster, good.namespace, name, image)]);
  const [rolledBack, promoted] = await Promise.all([
    waitForRollout(cluster, bad, name, "RolledBack", (r) => r.status?.phase === "RolledBack", 120_000),
    waitForRollout(
      cluster,
      good.namespace,
      name,
      "promoted",
      (r) => r.status?.phase === "Healthy" && r.status.stableRevision !== good.stable,
      180_000,
    ),
  ]);
  return { rolledBack, promoted };
}
