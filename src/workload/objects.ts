// Minimal shapes of the Kubernetes objects Vireo reads and writes (only the fields it uses).
import type { ObjectMeta } from "../api/object-meta.ts";

/** A pod template. */
export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { serviceAccountName?: string; [key: string]: unknown };
}

/** An apps/v1 Deployment. */
export interface Deployment {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: PodTemplate;
    [key: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    /** Read to tell a person what keeps the pods from starting (ReplicaFailure, ProgressDeadlineExceeded). */
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** A v1 Service. */
export interface Service {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    selector?: Record<string, string>;
    ports?: {
      name?: string;
      port: number;
      targetPort?: number | string;
      protocol?: string;
      appProtocol?: string;
      nodePort?: number;
    }[];
    [key: string]: unknown;
  };
}

/** An autoscaling/v2 HorizontalPodAutoscaler (the fields Vireo copies are kept as they are). */
export interface HorizontalPodAutoscaler {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    [key: string]: unknown;
  };
  status?: { currentReplicas?: number; desiredReplicas?: number; [key: string]: unknown };
}
