// Serves every kwok pod's IP and containerPort as the pod's template says (see pod-behaviour.ts): HTTP itself, gRPC
// through a pod host (grpc-pods.ts).
import { createServer, type Server } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { kubeRequest } from "../cluster/kube-request.ts";
import { behaviourOf, failsAt, type PodBehaviour, type PodLike } from "./pod-behaviour.ts";
import { inCidr } from "./pod-cidr.ts";

/** Response headers naming who answered; the load generator counts by them. */
export const POD_HEADER = "x-pod";
/** The pod's `app` label (a Vireo canary pod has the target's, a primary pod `<target>-primary`). */
export const APP_HEADER = "x-app";

/** Options of {@link startPodRunner}. */
export interface PodRunnerOptions {
  kc: KubeConfig;
  /** The cluster's pod CIDR; pods outside it are ignored (they cannot be listened on). */
  podCidr: string;
  /** How often pods are listed (default 100 ms). */
  pollMs?: number;
  /**
   * How long a deleted pod keeps serving (default 5 s), as a real pod does during its termination grace period
   * while EndpointSlices and the proxy catch up.
   */
  graceMs?: number;
  /** Serves the pods whose template says PROTOCOL=grpc; without one such pods are reported in errors(). */
  grpc?: PodHost;
}

/** Runs the app of pods the runner does not serve itself; the runner says which pod holds which IP. */
export interface PodHost {
  /** Starts serving `pod` on `ip` (once per pod; a new pod on a reused IP is stopped and started). */
  start(ip: string, pod: PodLike, behaviour: PodBehaviour): void;
  /** Stops serving `ip`. */
  stop(ip: string): void;
}

/** A running pod runner. */
export interface PodRunner {
  /** Pods currently served, by IP. */
  served(): Map<
    string,
    { name: string; namespace: string; app: string; behaviour: PodBehaviour; requests: number }
  >;
  /** Listen errors seen (an address in use, …); a healthy run has none. */
  errors(): string[];
  stop(): Promise<void>;
}

interface Served {
  name: string;
  namespace: string;
  app: string;
  behaviour: PodBehaviour;
  requests: number;
  /** Set when the pod disappeared; the listeners close at this time. */
  closeAt?: number;
}

/**
 * Lists pods every `pollMs` and keeps one HTTP server per pod IP and containerPort. A request is answered by the
 * pod that now holds the IP, so an IP kwok reuses for a new pod serves the new pod's template at once.
 */
export async function startPodRunner(o: PodRunnerOptions): Promise<PodRunner> {
  const pollMs = o.pollMs ?? 100;
  const graceMs = o.graceMs ?? 5000;
  const pods = new Map<string, Served>();
  const servers = new Map<string, Server>();
  /** IP → pod name, for pods the gRPC host serves. */
  const hosted = new Map<string, string>();
  const errors: string[] = [];
  let stopped = false;

  const handler = (ip: string) =>
    createServer((req, res) => {
      req.resume();
      const pod = pods.get(ip);
      if (!pod) {
        res.writeHead(503).end("no pod\n");
        return;
      }
      const fail = failsAt(pod.requests++, pod.behaviour.errorRate);
      const answer = () =>
        res
          .writeHead(fail ? 500 : 200, {
            "content-type": "text/plain",
            [POD_HEADER]: pod.name,
            [APP_HEADER]: pod.app,
          })
          .end(`${pod.namespace}/${pod.name}\n`);
      if (pod.behaviour.latencyMs > 0) setTimeout(answer, pod.behaviour.latencyMs);
      else answer();
    });

  const listen = (ip: string, port: number): void => {
    const key = `${ip}:${port}`;
    if (servers.has(key)) return;
    const server = handler(ip);
    server.keepAliveTimeout = 2000;
    server.on("error", (err) => {
      errors.push(`${key}: ${err.message}`);
      servers.delete(key);
    });
    server.listen(port, ip);
    servers.set(key, server);
  };

  const host = (ip: string, p: PodLike, behaviour: PodBehaviour): void => {
    const name = p.metadata?.name ?? "";
    if (hosted.get(ip) === name) return;
    if (!o.grpc) {
      if (errors.length < 100) errors.push(`${ip}: pod ${name} speaks gRPC but the runner has no gRPC host`);
      return;
    }
    if (hosted.has(ip)) o.grpc.stop(ip);
    hosted.set(ip, name);
    o.grpc.start(ip, p, behaviour);
  };

  const closeIp = (ip: string): void => {
    if (hosted.delete(ip)) o.grpc?.stop(ip);
    for (const [key, server] of servers) {
      if (!key.startsWith(`${ip}:`)) continue;
      server.close();
      server.closeAllConnections();
      servers.delete(key);
    }
  };

  const sync = async (): Promise<void> => {
    const list = await kubeRequest<{ items: PodLike[] }>(o.kc, "GET", "/api/v1/pods");
    const now = Date.now();
    const live = new Set<string>();
    for (const p of list.items) {
      const ip = p.status?.podIP;
      if (!ip || !inCidr(ip, o.podCidr) || p.status?.phase !== "Running") continue;
      live.add(ip);
      const behaviour = behaviourOf(p);
      const prev = pods.get(ip);
      const name = p.metadata?.name ?? "";
      pods.set(ip, {
        name,
        namespace: p.metadata?.namespace ?? "",
        app: p.metadata?.labels?.app ?? "",
        behaviour,
        // The same pod keeps its counter so the failure spread holds across polls.
        requests: prev?.name === name ? prev.requests : 0,
      });
      if (behaviour.protocol === "grpc") host(ip, p, behaviour);
      else for (const port of behaviour.ports) listen(ip, port);
    }
    for (const [ip, pod] of pods) {
      if (live.has(ip)) continue;
      if (pod.closeAt === undefined) pod.closeAt = now + graceMs;
      else if (pod.closeAt <= now) {
        pods.delete(ip);
        closeIp(ip);
      }
    }
  };

  await sync();
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, pollMs));
      if (stopped) break;
      await sync().catch((err: Error) => {
        // The API server may be restarting; the next poll catches up.
        if (errors.length < 100) errors.push(`list pods: ${err.message}`);
      });
    }
  })();

  return {
    served: () =>
      new Map(
        [...pods].map(([ip, p]) => [
          ip,
          { name: p.name, namespace: p.namespace, app: p.app, behaviour: p.behaviour, requests: p.requests },
        ]),
      ),
    errors: () => [...errors],
    async stop() {
      stopped = true;
      await loop;
      const ips = [...servers.keys()].map((k) => k.slice(0, k.lastIndexOf(":")));
      for (const ip of new Set([...ips, ...hosted.keys()])) closeIp(ip);
    },
  };
}
