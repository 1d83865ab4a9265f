// Test fixtures: an example app (Deployment + Rollout) applied with the real kubectl, and polling helpers.
import { parseAllDocuments } from "yaml";
import type { Rollout } from "../../src/api/rollout-schema.ts";
import type { Cluster } from "../cluster/cluster.ts";

/** Options of {@link appManifests}. */
export interface AppOptions {
  namespace: string;
  name?: string;
  image?: string;
  replicas?: number;
  steps?: unknown[];
  analysis?: Record<string, unknown>;
  extraSpec?: Record<string, unknown>;
}

/** Namespace, Deployment and Rollout YAML for a small app, as a user would write them. */
export function appManifests(o: AppOptions): string {
  const name = o.name ?? "podinfo";
  const rollout = {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name, namespace: o.namespace },
    spec: {
      targetRef: { name },
      service: { port: 80, targetPort: 9898 },
      provider: "smi",
      strategy: { canary: { steps: o.steps ?? [{ setWeight: 20 }, { setWeight: 50 }] } },
      analysis: o.analysis ?? { interval: "5s", metrics: [] },
      progressDeadlineSeconds: 120,
      ...o.extraSpec,
    },
  };
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: o.namespace },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "app",
              image: o.image ?? "ghcr.io/stefanprodan/podinfo:6.0.0",
              ports: [{ containerPort: 9898 }],
            },
          ],
        },
      },
    },
  };
  const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: o.namespace } };
  return [ns, deployment, rollout].map((x) => JSON.stringify(x)).join("\n---\n");
}

/** Applies YAML/JSON with kubectl; throws with kubectl's message on failure. */
export async function apply(cluster: Cluster, manifests: string): Promise<string> {
  const r = await cluster.kubectl(["apply", "-f", "-"], { input: manifests });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
  return r.stdout;
}

/** `kubectl get -o json`, parsed; undefined when absent. */
export async function getJson<T>(cluster: Cluster, args: string[]): Promise<T | undefined> {
  const r = await cluster.kubectl(["get", ...args, "-o", "json"]);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(" ")} failed: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as T;
}

/** Reads a Rollout. */
export function getRollout(cluster: Cluster, namespace: string, name: string): Promise<Rollout | undefined> {
  return getJson<Rollout>(cluster, ["rollout.vireo.dev", name, "-n", namespace]);
}

/** Polls until `predicate` holds; the error says what was last seen. */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (predicate(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 2000)}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits for a Rollout to satisfy `predicate`. */
export function waitForRollout(
  cluster: Cluster,
  namespace: string,
  name: string,
  what: string,
  predicate: (r: Rollout) => boolean,
  timeoutMs = 90_000,
): Promise<Rollout> {
  return waitFor(
    what,
    async () => (await getRollout(cluster, namespace, name)) as Rollout,
    (r) => r !== undefined && predicate(r),
    timeoutMs,
  ) as Promise<Rollout>;
}

/** Waits until the app's Rollout has promoted its canary: Healthy, the canary revision now the stable one. */
export function waitForPromotion(
  cluster: Cluster,
  namespace: string,
  what = "promoted",
  timeoutMs = 120_000,
): Promise<Rollout> {
  const promoted = (r: Rollout) =>
    r.status?.phase === "Healthy" && r.status.stableRevision === r.status.canaryRevision;
  return waitForRollout(cluster, namespace, "podinfo", what, promoted, timeoutMs);
}

/** Waits until the app's Rollout has rolled back. */
export function waitForRollback(cluster: Cluster, namespace: string, timeoutMs = 120_000): Promise<Rollout> {
  return waitForRollout(
    cluster,
    namespace,
    "podinfo",
    "RolledBack",
    (r) => r.status?.phase === "RolledBack",
    timeoutMs,
  );
}

/**
 * Applies a manifest file's text and waits until its Rollout is Healthy and Ready. Ready is judged from the world:
 * an access policy written with the step to Healthy is seen a poll later, so Healthy alone is not enough.
 */
export async function applyUntilHealthy(cluster: Cluster, manifests: string): Promise<Rollout> {
  await apply(cluster, manifests);
  const rollout = parseAllDocuments(manifests)
    .map((d) => d.toJSON())
    .find((o) => o?.kind === "Rollout");
  const { namespace, name } = rollout.metadata;
  return waitForRollout(
    cluster,
    namespace,
    name,
    "Healthy and Ready",
    (r) =>
      r.status?.phase === "Healthy" &&
      r.status.conditions?.find((c) => c.type === "Ready")?.status === "True",
  );
}

/** Changes the app's pod template (a new revision), as `kubectl set image` would. */
export async function setImage(
  cluster: Cluster,
  namespace: string,
  name: string,
  image: string,
): Promise<void> {
  const r = await cluster.kubectl(["set", "image", `deployment/${name}`, `app=${image}`, "-n", namespace]);
  if (r.code !== 0) throw new Error(`kubectl set image failed: ${r.stderr}`);
}

/** `kubectl annotate --overwrite`. */
export async function annotate(
  cluster: Cluster,
  namespace: string,
  name: string,
  key: string,
  value: string,
): Promise<void> {
  const r = await cluster.kubectl([
    "annotate",
    "--overwrite",
    `rollout.vireo.dev/${name}`,
    `${key}=${value}`,
    "-n",
    namespace,
  ]);
  if (r.code !== 0) throw new Error(`kubectl annotate failed: ${r.stderr}`);
}

interface TrafficSplitJson {
  spec: { backends: { service: string; weight: number | string }[] };
}

/** The canary's weight in the Rollout's SMI TrafficSplit; undefined when there is no TrafficSplit. */
export async function canaryWeight(
  cluster: Cluster,
  namespace: string,
  name = "podinfo",
): Promise<number | undefined> {
  const split = await getJson<TrafficSplitJson>(cluster, [
    "trafficsplits.split.smi-spec.io",
    name,
    "-n",
    namespace,
  ]);
  const canary = split?.spec.backends.find((b) => b.service.endsWith("-canary"));
  return canary === undefined ? undefined : Number(canary.weight);
}

/** spec.replicas of a Deployment; undefined when it does not exist. */
export async function deploymentReplicas(
  cluster: Cluster,
  namespace: string,
  name: string,
): Promise<number | undefined> {
  return (await getJson<{ spec: { replicas?: number } }>(cluster, ["deployment", name, "-n", namespace]))
    ?.spec.replicas;
}
