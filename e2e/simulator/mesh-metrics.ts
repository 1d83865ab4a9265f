// Prometheus metrics with the exact names and labels Istio and Linkerd proxies export (their metrics references).
import { Counter, Histogram, Registry } from "prom-client";
import type { Version } from "./routing.ts";

/** Istio's default request-duration buckets, in milliseconds. */
const ISTIO_BUCKETS_MS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000,
];
/** Linkerd proxy latency buckets, in milliseconds. */
const LINKERD_BUCKETS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000,
  30000, 40000, 50000,
];

const ISTIO_LABELS = [
  "reporter",
  "source_workload",
  "source_workload_namespace",
  "source_principal",
  "source_app",
  "source_version",
  "source_canonical_service",
  "source_canonical_revision",
  "source_cluster",
  "destination_workload",
  "destination_workload_namespace",
  "destination_principal",
  "destination_app",
  "destination_version",
  "destination_service",
  "destination_service_name",
  "destination_service_namespace",
  "destination_canonical_service",
  "destination_canonical_revision",
  "destination_cluster",
  "request_protocol",
  "response_code",
  "grpc_response_status",
  "response_flags",
  "connection_security_policy",
] as const;

const LINKERD_LABELS = ["direction", "namespace", "deployment", "pod", "tls", "status_code"] as const;

/** Identity of the simulated workloads, from which all label values derive. */
export interface MeshIdentity {
  namespace: string;
  /** The canary Deployment; the primary is `<target>-primary`. */
  target: string;
  /** Client workload name (the load generator). */
  sourceWorkload: string;
}

/** One finished request, as a mesh proxy would observe it. */
export interface Observation {
  version: Version;
  /** Service the request was addressed to (destination_service_name). */
  service: string;
  status: number;
  durationMs: number;
}

/** Istio and Linkerd request metrics in their own registry (no process/default metrics that a proxy lacks). */
export class MeshMetrics {
  readonly registry = new Registry();
  private readonly id: MeshIdentity;
  private readonly istioRequests: Counter<(typeof ISTIO_LABELS)[number]>;
  private readonly istioDuration: Histogram<(typeof ISTIO_LABELS)[number]>;
  private readonly linkerdRequests: Counter<"direction" | "namespace" | "deployment" | "pod" | "tls">;
  private readonly linkerdResponses: Counter<(typeof LINKERD_LABELS)[number] | "classification">;
  private readonly linkerdLatency: Histogram<(typeof LINKERD_LABELS)[number]>;

  constructor(id: MeshIdentity) {
    this.id = id;
    const registers = [this.registry];
    this.istioRequests = new Counter({
      name: "istio_requests_total",
      help: "Total requests (Istio standard metric).",
      labelNames: ISTIO_LABELS,
      registers,
    });
    this.istioDuration = new Histogram({
      name: "istio_request_duration_milliseconds",
      help: "Request duration in milliseconds (Istio standard metric).",
      labelNames: ISTIO_LABELS,
      buckets: ISTIO_BUCKETS_MS,
      registers,
    });
    this.linkerdRequests = new Counter({
      name: "request_total",
      help: "Total requests (Linkerd proxy metric).",
      labelNames: ["direction", "namespace", "deployment", "pod", "tls"],
      registers,
    });
    this.linkerdResponses = new Counter({
      name: "response_total",
      help: "Total responses (Linkerd proxy metric).",
      labelNames: [...LINKERD_LABELS, "classification"],
      registers,
    });
    this.linkerdLatency = new Histogram({
      name: "response_latency_ms",
      help: "Time to first byte in milliseconds (Linkerd proxy metric).",
      labelNames: LINKERD_LABELS,
      buckets: LINKERD_BUCKETS_MS,
      registers,
    });
  }

  /** Deployment name of a version: Vireo's `<target>-primary`, or the user's `<target>` for the canary. */
  workload(version: Version): string {
    return version === "primary" ? `${this.id.target}-primary` : this.id.target;
  }

  /** Records what the server-side proxy sees (Istio reporter="destination", Linkerd direction="inbound"). */
  observeInbound(o: Observation): void {
    this.observeIstio("destination", o);
    const deployment = this.workload(o.version);
    const base = {
      direction: "inbound",
      namespace: this.id.namespace,
      deployment,
      pod: podName(deployment),
      tls: "true",
    };
    this.linkerdRequests.inc(base);
    const status_code = String(o.status);
    // Linkerd classifies by gRPC status if present, otherwise 5xx = failure.
    const classification = o.status >= 500 ? "failure" : "success";
    this.linkerdResponses.inc({ ...base, status_code, classification });
    this.linkerdLatency.observe({ ...base, status_code }, o.durationMs);
  }

  /** Records what the client-side proxy sees (Istio reporter="source"). */
  observeOutbound(o: Observation): void {
    this.observeIstio("source", o);
  }

  private observeIstio(reporter: "source" | "destination", o: Observation): void {
    const ns = this.id.namespace;
    const workload = this.workload(o.version);
    const labels = {
      reporter,
      source_workload: this.id.sourceWorkload,
      source_workload_namespace: ns,
      source_principal: `spiffe://cluster.local/ns/${ns}/sa/${this.id.sourceWorkload}`,
      source_app: this.id.sourceWorkload,
      source_version: "unknown",
      source_canonical_service: this.id.sourceWorkload,
      source_canonical_revision: "latest",
      source_cluster: "Kubernetes",
      destination_workload: workload,
      destination_workload_namespace: ns,
      destination_principal: `spiffe://cluster.local/ns/${ns}/sa/${this.id.target}`,
      destination_app: this.id.target,
      destination_version: "unknown",
      destination_service: `${o.service}.${ns}.svc.cluster.local`,
      destination_service_name: o.service,
      destination_service_namespace: ns,
      // Canonical service comes from the pods' app label, which primary and canary share.
      destination_canonical_service: this.id.target,
      destination_canonical_revision: "latest",
      destination_cluster: "Kubernetes",
      request_protocol: "http",
      response_code: String(o.status),
      grpc_response_status: "",
      response_flags: "-",
      // Istio reports mTLS on the server side only; the client side does not know.
      connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown",
    };
    this.istioRequests.inc(labels);
    this.istioDuration.observe(labels, o.durationMs);
  }
}

/** A stable fake pod name (`<deployment>-<hash>-<suffix>`), like a ReplicaSet would create. */
function podName(deployment: string): string {
  return `${deployment}-5d9c7b6f4-sim0`;
}
