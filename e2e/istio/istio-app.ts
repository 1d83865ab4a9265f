// Fixtures of the Istio e2e tests: an app under an Istio Rollout, and reads of what Vireo wrote and kwok ran.
import type { KubeConfig } from "@kubernetes/client-node";
import { getOrUndefined, kubeRequest, watchPath } from "../cluster/kube-request.ts";
import { SERVING_GATE } from "../dataplane/grpc-pods.ts";
import { type PodAppDeploymentOptions, podAppDeployment } from "../dataplane/real-pod-app.ts";

/** Options of {@link istioApp}. */
export interface IstioAppOptions extends PodAppDeploymentOptions {
  /** strategy.canary.steps (ignored with {@link blueGreen}). */
  steps: unknown[];
  /** More fields of strategy.canary (sessionAffinity, …). */
  canary?: Record<string, unknown>;
  /** strategy.blueGreen, in place of the canary strategy. */
  blueGreen?: Record<string, unknown>;
  /** spec.service (default port 80 → 9898). */
  service?: Record<string, unknown>;
  /** spec.analysis (default: no metrics, 2 s interval). */
  analysis?: Record<string, unknown>;
  /** Anything else of the Rollout's spec (accessPolicy, …). */
  extraSpec?: Record<string, unknown>;
  /** Labels of the namespace (e.g. istio.io/use-waypoint). */
  namespaceLabels?: Record<string, string>;
}

/** A user's own root Service for app `name` with these ports (name, port, targetPort). */
export function rootService(namespace: string, name: string, ports: [string, number, number][]): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: {
      selector: { app: name },
      ports: ports.map(([portName, port, targetPort]) => ({ name: portName, port, targetPort })),
    },
  };
}

/** Namespace, Deployment and Rollout (provider istio) as a user writes them, one JSON document each. */
export function istioApp(o: IstioAppOptions): object[] {
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: o.namespace, ...(o.namespaceLabels ? { labels: o.namespaceLabels } : {}) },
    },
    podAppDeployment(o),
    {
      apiVersion: "vireo.dev/v1alpha1",
      kind: "Rollout",
      metadata: { name: o.name, namespace: o.namespace },
      spec: {
        targetRef: { name: o.name },
        service: o.service ?? { port: 80, targetPort: 9898 },
        provider: "istio",
        strategy: o.blueGreen ? { blueGreen: o.blueGreen } : { canary: { steps: o.steps, ...o.canary } },
        analysis: o.analysis ?? { interval: "2s", metrics: [] },
        progressDeadlineSeconds: 120,
        ...o.extraSpec,
      },
    },
  ];
}

/**
 * {@link istioApp} for a gRPC app: PROTOCOL=grpc pods on port 9000, Ready once the server serves (istiod sent its
 * inbound listener, as a readiness probe would say), the Service port 80 named for gRPC.
 */
export function grpcIstioApp(
  o: Omit<IstioAppOptions, "env" | "ports" | "readinessGates" | "service">,
): object[] {
  return istioApp({
    ...o,
    env: { PROTOCOL: "grpc" },
    ports: [9000],
    readinessGates: [SERVING_GATE],
    service: { port: 80, targetPort: 9000, portName: "grpc" },
  });
}

/** The multi-document text kubectl applies. */
export const manifests = (docs: object[]): string => docs.map((d) => JSON.stringify(d)).join("\n---\n");

interface VirtualServiceJson {
  metadata?: { resourceVersion?: string };
  spec?: { http?: { name?: string; route?: { destination?: { host?: string }; weight?: number }[] }[] };
  status?: { validationMessages?: { type?: { code?: string }; level?: string }[] };
}

/** Vireo's VirtualService `<rollout>`, or undefined. */
export function readVirtualService(kc: KubeConfig, namespace: string, name: string) {
  return getOrUndefined<VirtualServiceJson>(
    kc,
    `/apis/networking.istio.io/v1/namespaces/${namespace}/virtualservices/${name}`,
  );
}

/** The canary's weight in a VirtualService Vireo wrote for Rollout `name` (0 when absent). */
const canaryWeightOf = (vs: VirtualServiceJson | undefined, name: string) =>
  vs?.spec?.http?.find((h) => h.name === name)?.route?.find((r) => r.destination?.host === `${name}-canary`)
    ?.weight ?? 0;

/** Polls (every 20 ms) until Vireo's VirtualService gives the canary `weight`; returns when it was first seen. */
export async function waitForVsWeight(
  kc: KubeConfig,
  namespace: string,
  name: string,
  weight: number,
  timeoutMs = 90_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const vs = await readVirtualService(kc, namespace, name);
    if (vs && canaryWeightOf(vs, name) === weight) return Date.now();
    if (Date.now() > deadline)
      throw new Error(`VirtualService ${namespace}/${name} never gave the canary ${weight}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every weight Vireo's VirtualService took, with when its watch event arrived (a few ms after the write). */
export interface VsWeightLog {
  /** Resolves with the arrival time of the first event giving the canary `weight`. */
  written(weight: number, timeoutMs?: number): Promise<number>;
  /** Every event so far: the canary weight, when it arrived and the write's resourceVersion. */
  log(): { weight: number; at: number; rv: bigint }[];
  stop(): void;
}

/** Watches Vireo's VirtualService `name` and logs each canary weight it is written with. */
export async function watchVsWeights(kc: KubeConfig, namespace: string, name: string): Promise<VsWeightLog> {
  const log: { weight: number; at: number; rv: bigint }[] = [];
  const watch = await watchPath<VirtualServiceJson>(
    kc,
    `/apis/networking.istio.io/v1/namespaces/${namespace}/virtualservices?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
    (e) => {
      if (e.type === "ADDED" || e.type === "MODIFIED")
        log.push({
          weight: canaryWeightOf(e.object, name),
          at: e.at,
          rv: BigInt(e.object.metadata?.resourceVersion ?? "0"),
        });
    },
  );
  return {
    async written(weight, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = log.find((x) => x.weight === weight);
        if (hit) return hit.at;
        if (Date.now() > deadline)
          throw new Error(`VirtualService ${namespace}/${name} never gave the canary ${weight}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    log: () => [...log],
    stop: () => watch.stop(),
  };
}

/** Running pods of a Deployment (by its pods' `app` label) with their IPs; terminating pods are left out. */
export async function podsOf(
  kc: KubeConfig,
  namespace: string,
  app: string,
): Promise<{ name: string; ip: string }[]> {
  const list = await kubeRequest<{
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status?: { podIP?: string; phase?: string };
    }[];
  }>(kc, "GET", `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`app=${app}`)}`);
  return (
    list.items
      // A gRPC pod outlives its deletion by 15 s (kwok-stages.yaml), serving until its endpoints are withdrawn.
      .filter((p) => p.status?.phase === "Running" && p.status.podIP && !p.metadata.deletionTimestamp)
      .map((p) => ({ name: p.metadata.name, ip: p.status?.podIP ?? "" }))
  );
}
