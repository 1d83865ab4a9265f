// The benchmark's apps: N Deployments (1 replica) with a Rollout each, spread over namespaces, created through
// the API directly with the admin identity.
import type { KubeClients } from "../../src/kube/clients.ts";
import { isAlreadyExists } from "../../src/kube/errors.ts";

/** Weights of the five stages; each holds for the pause duration before the next. */
export const STAGE_WEIGHTS = [20, 40, 60, 80, 100] as const;

/** Where app `i` lives. */
export interface AppRef {
  namespace: string;
  name: string;
}

/** Namespaces and names of `n` apps, `perNamespace` to a namespace. */
export function appRefs(n: number, perNamespace: number): AppRef[] {
  const width = String(Math.max(n - 1, 1)).length;
  const nsWidth = String(Math.max(Math.ceil(n / perNamespace) - 1, 1)).length;
  return Array.from({ length: n }, (_, i) => ({
    namespace: `bench-${String(Math.floor(i / perNamespace)).padStart(nsWidth, "0")}`,
    name: `app-${String(i).padStart(width, "0")}`,
  }));
}

/**
 * Canary steps: five stages of `setWeight W` followed by `pause: {duration}`. Without analysis metrics a setWeight
 * step completes as soon as the mesh routes the weight, so the pause is what makes each stage last a known time:
 * the ideal rollout is 5 × pause.
 */
export function benchSteps(pause: string): unknown[] {
  return STAGE_WEIGHTS.flatMap((w) => [{ setWeight: w }, { pause: { duration: pause } }]);
}

function deployment(app: AppRef, revision: string): unknown {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: app.name, namespace: app.namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: app.name } },
      template: {
        metadata: { labels: { app: app.name }, annotations: { "bench.vireo.dev/revision": revision } },
        spec: {
          containers: [
            { name: "app", image: "ghcr.io/stefanprodan/podinfo:6.0.0", ports: [{ containerPort: 9898 }] },
          ],
        },
      },
    },
  };
}

/** The SMI Rollout of a bench app with these steps and analysis (the scale and detection benchmarks share it). */
export function benchRollout(app: AppRef, steps: unknown[], analysis: unknown): unknown {
  return {
    apiVersion: "vireo.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: app.name, namespace: app.namespace },
    spec: {
      targetRef: { name: app.name },
      service: { port: 80, targetPort: 9898 },
      provider: "smi",
      strategy: { canary: { steps } },
      analysis,
      // Generous: under load a rollout may wait long for its canary pod or a route; that must not roll it back.
      progressDeadlineSeconds: 3600,
    },
  };
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function forEachLimit<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** POSTs `body` to `path`; an object that already exists counts as created. */
export async function create(clients: KubeClients, path: string, body: unknown): Promise<void> {
  try {
    await clients.request({ method: "POST", path, body });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/**
 * Adds a /16 Service range: the harness's apiserver serves 10.0.0.0/24 (254 IPs) and every Rollout owns three
 * Services (root, primary, canary), so without this the cluster runs out of ClusterIPs at ~84 Rollouts.
 * ServiceCIDR (networking.k8s.io/v1, GA in 1.33) extends the range at run time.
 */
export async function addServiceRange(clients: KubeClients, timeoutMs = 30_000): Promise<void> {
  const name = "vireo-bench";
  await create(clients, "/apis/networking.k8s.io/v1/servicecidrs", {
    apiVersion: "networking.k8s.io/v1",
    kind: "ServiceCIDR",
    metadata: { name },
    spec: { cidrs: ["10.96.0.0/16"] },
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cidr = await clients.request<{ status?: { conditions?: { type: string; status: string }[] } }>({
      path: `/apis/networking.k8s.io/v1/servicecidrs/${name}`,
    });
    if (cidr.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) return;
    if (Date.now() > deadline) throw new Error(`ServiceCIDR ${name} not Ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Creates the namespaces, then every Deployment and (unless `rollouts` is false) its Rollout. */
export async function createApps(
  clients: KubeClients,
  apps: readonly AppRef[],
  pause: string,
  concurrency = 32,
  rollouts = true,
): Promise<void> {
  const namespaces = [...new Set(apps.map((a) => a.namespace))];
  await forEachLimit(namespaces, concurrency, (ns) =>
    create(clients, "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }),
  );
  await forEachLimit(apps, concurrency, async (app) => {
    const ns = encodeURIComponent(app.namespace);
    await create(clients, `/apis/apps/v1/namespaces/${ns}/deployments`, deployment(app, "1"));
    if (rollouts)
      await create(
        clients,
        `/apis/vireo.dev/v1alpha1/namespaces/${ns}/rollouts`,
        benchRollout(app, benchSteps(pause), { interval: "30s", metrics: [] }),
      );
  });
}

/** Pushes a new pod-template revision to every app's Deployment (one merge patch each, all at once). */
export async function pushRevision(
  clients: KubeClients,
  apps: readonly AppRef[],
  revision: string,
  concurrency = 64,
): Promise<void> {
  await forEachLimit(apps, concurrency, async (app) => {
    await clients.request({
      method: "PATCH",
      path: `/apis/apps/v1/namespaces/${encodeURIComponent(app.namespace)}/deployments/${encodeURIComponent(app.name)}`,
      body: { spec: { template: { metadata: { annotations: { "bench.vireo.dev/revision": revision } } } } },
      contentType: "application/merge-patch+json",
    });
  });
}
