// A Deployment + Rollout whose pods are served by the pod runner: the template's env is the version's behaviour.
import type { Cluster } from "../cluster/cluster.ts";

/** Options of {@link realPodApp}. */
export interface RealPodAppOptions {
  namespace: string;
  name: string;
  steps: unknown[];
  gatewayApi: Record<string, unknown>;
  /** Analysis interval (default 4s). */
  interval?: string;
  /** More fields of strategy.canary (sessionAffinity, …). */
  canary?: Record<string, unknown>;
}

/** Options of {@link podAppDeployment}. */
export interface PodAppDeploymentOptions {
  namespace: string;
  name: string;
  /** Container ports (default [9898]). */
  ports?: number[];
  /** Template env beside VERSION=v1: the pod runner's behaviour (PROTOCOL, ERROR_RATE, LATENCY_MS). */
  env?: Record<string, string>;
  replicas?: number;
  /** Readiness gates of the pods (grpc-pods.ts SERVING_GATE: Ready only once the app serves). */
  readinessGates?: string[];
}

/** The user's Deployment of a pod-runner app: its template's env is the version's behaviour. */
export function podAppDeployment(o: PodAppDeploymentOptions): object {
  const env = Object.entries({ VERSION: "v1", ...o.env }).map(([name, value]) => ({ name, value }));
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      replicas: o.replicas ?? 2,
      selector: { matchLabels: { app: o.name } },
      template: {
        metadata: { labels: { app: o.name } },
        spec: {
          ...(o.readinessGates
            ? { readinessGates: o.readinessGates.map((conditionType) => ({ conditionType })) }
            : {}),
          containers: [
            {
              name: "app",
              image: "example.test/app:1",
              ports: (o.ports ?? [9898]).map((containerPort) => ({ containerPort })),
              env,
            },
          ],
        },
      },
    },
  };
}

/** Namespace, Deployment (its template is the pod runner's behaviour) and Rollout, as a user writes them. */
export function realPodApp(o: RealPodAppOptions): string {
  const deployment = podAppDeployment(o);
  const rollout = {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      targetRef: { name: o.name },
      service: { port: 80, targetPort: 9898 },
      provider: "gateway-api",
      gatewayApi: o.gatewayApi,
      strategy: { canary: { steps: o.steps, ...o.canary } },
      analysis: {
        interval: o.interval ?? "4s",
        failureLimit: 1,
        metrics: [{ name: "success", builtin: "request-success-rate", thresholdRange: { min: 95 } }],
      },
      progressDeadlineSeconds: 120,
    },
  };
  const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: o.namespace } };
  return [ns, deployment, rollout].map((x) => JSON.stringify(x)).join("\n---\n");
}

/** `kubectl set env deployment/<name> K=V…`: a new template, as a user's release would be. */
export async function setEnv(
  cluster: Cluster,
  namespace: string,
  name: string,
  ...pairs: string[]
): Promise<void> {
  const r = await cluster.kubectl(["set", "env", `deployment/${name}`, ...pairs, "-n", namespace]);
  if (r.code !== 0) throw new Error(`kubectl set env failed: ${r.stderr}`);
}
