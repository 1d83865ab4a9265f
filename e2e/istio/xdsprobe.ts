// Starts one xdsprobe program (ADS client, proxyless gRPC client or server; e2e/cluster/xdsbin) as a managed process.
import type { Istiod } from "../cluster/istiod.ts";
import { xdsprobePath } from "../cluster/istiod.ts";
import { freePorts } from "../cluster/ports.ts";
import { type ManagedProcess, startProcess, stopProcessGroup } from "../cluster/process.ts";
import { waitForHttpOk } from "../cluster/wait.ts";

/** Who a probe is to istiod: the node id's type, IP, pod and namespace, and its workload labels. */
export interface ProbeNode {
  /** `sidecar` (default) or `router` (a gateway). */
  kind?: "sidecar" | "router";
  /** A pod IP makes istiod take that pod's labels and Services (default 127.0.0.1: no pod). */
  ip?: string;
  pod: string;
  namespace: string;
  labels?: Record<string, string>;
  /** Dir with cert-chain.pem, key.pem, root-cert.pem: the probe then does mTLS with that identity. */
  certDir?: string;
}

/** A running xdsprobe program. */
export interface Probe {
  /** Base URL of its control endpoint. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

let seq = 0;

/** The node flags every xdsprobe program takes. */
export function nodeArgs(istiod: Istiod, node: ProbeNode): string[] {
  const labels = Object.entries(node.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return [
    `--xds=${istiod.xdsAddress}`,
    `--kind=${node.kind ?? "sidecar"}`,
    `--ip=${node.ip ?? "127.0.0.1"}`,
    `--pod=${node.pod}`,
    `--namespace=${node.namespace}`,
    ...(labels ? [`--labels=${labels}`] : []),
    ...(node.certDir ? [`--cert-dir=${node.certDir}`] : []),
  ];
}

/**
 * Runs `xdsprobe <command> …args` with its control endpoint on a free loopback port (or `listen`), logging under
 * the cluster dir, and resolves once `readyPath` answers 200.
 */
export async function startProbe(o: {
  command: "ads" | "client" | "server";
  args: string[];
  dir: string;
  readyPath: string;
  /** Flag naming the control address (default --listen). */
  listenFlag?: string;
  /** The control address; default a free loopback port. */
  listen?: string;
  timeoutMs?: number;
}): Promise<Probe> {
  const listen = o.listen ?? `127.0.0.1:${(await freePorts(1))[0]}`;
  const name = `xdsprobe-${o.command}-${++seq}`;
  const proc = startProcess(
    name,
    xdsprobePath(),
    [o.command, ...o.args, `${o.listenFlag ?? "--listen"}=${listen}`],
    {
      dir: o.dir,
      env: { PATH: process.env.PATH ?? "", HOME: o.dir, GRPC_GO_LOG_SEVERITY_LEVEL: "warning" },
    },
  );
  const stop = async () => {
    await stopProcessGroup(proc.pid, 2000);
    await proc.exited;
  };
  const url = `http://${listen}`;
  try {
    await waitForHttpOk(`${url}${o.readyPath}`, {
      what: `${name} ${o.readyPath}`,
      timeoutMs: o.timeoutMs ?? 20_000,
      abortIf: () => {
        if (proc.hasExited()) throw new Error(`${name} exited during start-up; see ${proc.logFile}`);
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, process: proc, stop };
}
