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
}

/** The user's Deployment whose pods the pod runner serves (label app=<name>, port 9898, env VERSION=v1). */
export function realPodDeployment(o: { namespace: string; name: string; replicas?: number }): object {
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
          containers: [
            {
              name: "app",
              image: "example.test/app:1",
              ports: [{ containerPort: 9898 }],
              env: [{ name: "VERSION", value: "v1" }],
            },
          ],
        },
      },
    },
  };
}

/** Namespace, Deployment (its template is the pod runner's behaviour) and Rollout, as a user writes them. */
export function realPodApp(o: RealPodAppOptions): string {
  const deployment = realPodDeployment(o);
  const rollout = {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      targetRef: { name: o.name },
      service: { port: 80, targetPort: 9898 },
      provider: "gateway-api",
      gatewayApi: o.gatewayApi,
      strategy: { canary: { steps: o.steps } },
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
