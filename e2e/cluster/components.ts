// Command lines of the control-plane components (etcd, kube-apiserver, KCM, scheduler, kwok); pure functions.
import { join } from "node:path";

/** Everything the flag builders need to know about one cluster's layout. */
export interface Layout {
  dir: string;
  etcdDataDir: string;
  etcdClientPort: number;
  etcdPeerPort: number;
  apiPort: number;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  saKey: string;
  saPub: string;
  kcmKubeconfig: string;
  schedulerKubeconfig: string;
  kwokKubeconfig: string;
  kwokServerPort: number;
  /** Pod CIDR for kwok (default {@link POD_CIDR}). */
  podCidr?: string;
  /** etcd's backend quota (default 1 GiB). */
  etcdQuotaBytes?: number;
  /** Run API Priority and Fairness with its default limits (off by default: lighter on 2 cores). */
  priorityAndFairness?: boolean;
  /** Delay the EndpointSlice controller batches pod changes by (`--endpointslice-updates-batch-period`; default 0). */
  endpointSliceBatchMs?: number;
}

/** Service CIDR; 10.0.0.1 becomes the `kubernetes` Service IP (also in the serving cert's SANs). */
export const SERVICE_CIDR = "10.0.0.0/24";
/** Pod CIDR kwok assigns fake pod IPs from, unless a test asks for one (real pods want a locally routed range). */
export const POD_CIDR = "10.244.0.0/16";

/**
 * etcd on loopback with data on tmpfs. Debian's 3.4 has no --unsafe-no-fsync, which is fine because tmpfs
 * makes fsync nearly free anyway.
 */
export function etcdArgs(l: Layout): string[] {
  const client = `http://127.0.0.1:${l.etcdClientPort}`;
  const peer = `http://127.0.0.1:${l.etcdPeerPort}`;
  return [
    "--name=e2e",
    `--data-dir=${l.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=e2e=${peer}`,
    "--initial-cluster-state=new",
    // A single member still waits one election timeout before leading; shorter timeouts cut ~1 s of start-up.
    "--heartbeat-interval=50",
    "--election-timeout=300",
    "--logger=zap",
    "--log-outputs=stderr",
    "--log-level=warn",
    // Small tests create few objects; a low snapshot count keeps the WAL (and RAM) small.
    "--snapshot-count=10000",
    `--quota-backend-bytes=${l.etcdQuotaBytes ?? 1073741824}`,
  ];
}

/** kube-apiserver: envtest's flag set merged with kwokctl's binary runtime. */
export function apiserverArgs(l: Layout): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${l.etcdClientPort}`,
    "--bind-address=127.0.0.1",
    // Without it a loopback bind makes the apiserver advertise the host's interface IP (or fail to find one).
    "--advertise-address=127.0.0.1",
    `--secure-port=${l.apiPort}`,
    // Do not publish the loopback IP in the `kubernetes` Endpoints; nothing in-cluster can reach it anyway.
    "--endpoint-reconciler-type=none",
    `--cert-dir=${l.dir}/apiserver-certs`,
    `--tls-cert-file=${l.servingCert}`,
    `--tls-private-key-file=${l.servingKey}`,
    `--client-ca-file=${l.caCert}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${l.saPub}`,
    `--service-account-signing-key-file=${l.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--authorization-mode=Node,RBAC",
    "--allow-privileged=true",
    // Lighter on 2 cores; the e2e load never needs fairness queuing (but overload tests need its 429s).
    ...(l.priorityAndFairness
      ? ["--enable-priority-and-fairness=true"]
      : [
          "--enable-priority-and-fairness=false",
          "--max-requests-inflight=0",
          "--max-mutating-requests-inflight=0",
        ]),
    "--profiling=false",
    // Every write by the controller's ServiceAccount, with its user agent, for tests that count who wrote when.
    `--audit-policy-file=${l.dir}/audit-policy.yaml`,
    `--audit-log-path=${l.dir}/audit.log`,
    "--audit-log-format=json",
    "--v=1",
  ];
}

/** Audit policy: metadata of every request of the controller's ServiceAccount (reads too), for overload tests. */
export const AUDIT_POLICY_ALL_VERBS = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["system:serviceaccount:vireo-system:vireo"]
  - level: None
`;

/** The user kwok, the fake kubelet of every Node, acts as (its client certificate's CN). */
export const KWOK_USER = "kwok-controller";

/** The users kube-controller-manager's StatefulSet and DaemonSet controllers act as (one identity per controller). */
export const WORKLOAD_CONTROLLER_USERS = {
  StatefulSet: "system:serviceaccount:kube-system:statefulset-controller",
  DaemonSet: "system:serviceaccount:kube-system:daemon-set-controller",
} as const;

/**
 * Audit policy: metadata of the controller's writes, and of the pods the StatefulSet and DaemonSet controllers
 * create (the in-place tests count replacements from them); cheap, nothing else is logged.
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["system:serviceaccount:vireo-system:vireo"]
    verbs: ["create", "update", "patch", "delete"]
  - level: Metadata
    users: [${Object.values(WORKLOAD_CONTROLLER_USERS)
      .map((u) => JSON.stringify(u))
      .join(", ")}]
    verbs: ["create"]
    resources: [{ group: "", resources: ["pods"] }]
  - level: None
`;

/** kube-controller-manager with per-controller service-account identities, like production clusters. */
export function controllerManagerArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${l.kcmKubeconfig}`,
    `--authentication-kubeconfig=${l.kcmKubeconfig}`,
    `--authorization-kubeconfig=${l.kcmKubeconfig}`,
    "--bind-address=127.0.0.1",
    // 0 = do not serve /healthz or /metrics: nothing scrapes them and it saves a port and a cert.
    "--secure-port=0",
    "--leader-elect=false",
    `--root-ca-file=${l.caCert}`,
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${l.saKey}`,
    // Deployments/ReplicaSets react within a second even on a loaded 2-core machine.
    "--kube-api-qps=100",
    "--kube-api-burst=200",
    // HPAs act within a second (default 15 s), so e2e/hpa.test.ts sees minReplicas enforced promptly.
    "--horizontal-pod-autoscaler-sync-period=1s",
    ...(l.endpointSliceBatchMs ? [`--endpointslice-updates-batch-period=${l.endpointSliceBatchMs}ms`] : []),
    "--profiling=false",
    "--v=1",
  ];
}

/** kube-scheduler with defaults; it places pods on the kwok nodes. */
export function schedulerArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${l.schedulerKubeconfig}`,
    `--authentication-kubeconfig=${l.schedulerKubeconfig}`,
    `--authorization-kubeconfig=${l.schedulerKubeconfig}`,
    "--bind-address=127.0.0.1",
    "--secure-port=0",
    "--leader-elect=false",
    "--kube-api-qps=100",
    "--kube-api-burst=200",
    "--profiling=false",
    "--v=1",
  ];
}

/** kwok's "fast" node/pod lifecycle stages; v0.8.0 embeds none, so they ship with the harness. */
export const KWOK_STAGES = join(import.meta.dirname, "kwok-stages.yaml");

/** kwok as the fake kubelet for every Node in the cluster. */
export function kwokArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${l.kwokKubeconfig}`,
    `--config=${KWOK_STAGES}`,
    "--manage-all-nodes=true",
    `--cidr=${l.podCidr ?? POD_CIDR}`,
    "--node-ip=10.0.0.2",
    "--node-lease-duration-seconds=40",
    // kwok's own HTTP server (metrics/debug) on a free loopback port instead of a fixed default.
    `--server-address=127.0.0.1:${l.kwokServerPort}`,
  ];
}
