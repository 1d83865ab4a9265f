// Pure renderers: the primary Deployment and the primary/canary/preview/root Services derived from the user's Deployment.
import { GITOPS_ANNOTATIONS } from "../api/constants.ts";
import { managedLabels, type OwnerRef, ownerReference } from "../api/object-meta.ts";
import { type RolloutSpec, splitServiceOf } from "../api/rollout-schema.ts";
import type { WorkloadObservation } from "../rollout/types.ts";
import { primaryLabels, REVISION_ANNOTATION, type WorkloadNames } from "./names.ts";
import type { Deployment, PodTemplate, Service } from "./objects.ts";
import { templateRevision } from "./revision.ts";

/** Keys of the user's selector; the primary renames their values. */
export function selectorKeys(target: Deployment): string[] {
  if (target.spec.selector.matchExpressions?.length) {
    throw new Error(
      `Deployment ${target.metadata.name} uses selector.matchExpressions; Vireo needs matchLabels only`,
    );
  }
  return Object.keys(target.spec.selector.matchLabels ?? {});
}

/** The primary's selector. */
export function primarySelector(target: Deployment): Record<string, string> {
  return primaryLabels(target.spec.selector.matchLabels, selectorKeys(target));
}

/** The user's template as the primary runs it: same spec, selector labels renamed. */
export function primaryTemplate(target: Deployment): PodTemplate {
  const template = structuredClone(target.spec.template);
  return {
    ...template,
    metadata: {
      ...template.metadata,
      labels: primaryLabels(template.metadata?.labels, selectorKeys(target)),
    },
  };
}

/** The primary Deployment for the target's current template. */
export function renderPrimary(target: Deployment, names: WorkloadNames, owner: OwnerRef): Deployment {
  const { replicas, selector: _selector, template: _template, ...rest } = target.spec;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: names.primary,
      namespace: names.namespace,
      labels: { ...target.metadata.labels, ...managedLabels(names.rollout, "primary") },
      annotations: { ...GITOPS_ANNOTATIONS, [REVISION_ANNOTATION]: templateRevision(target.spec.template) },
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      ...rest,
      // A target already scaled to zero (a re-adoption) must not create an empty primary.
      replicas: Math.max(replicas ?? 1, 1),
      selector: { matchLabels: primarySelector(target) },
      template: primaryTemplate(target),
    },
  };
}

type ServicePort = NonNullable<Service["spec"]["ports"]>[number];

/** Name of the split port: spec.service.portName, else the root Service's name for that port, else http. */
export function rolloutPortName(spec: RolloutSpec, root?: Service): string {
  const service = splitServiceOf(spec);
  const existing = root?.spec.ports?.find((p) => p.port === service.port)?.name;
  return service.portName ?? (existing || "http");
}

function rolloutPort(spec: RolloutSpec, root?: Service): ServicePort {
  const service = splitServiceOf(spec);
  return {
    name: rolloutPortName(spec, root),
    port: service.port,
    targetPort: service.targetPort ?? service.port,
    protocol: "TCP",
  };
}

/**
 * The root Service's ports other than the split one, as the backend Services carry them (no nodePort: the
 * backends are ClusterIP). Traffic to them is not split; see docs/rollout-guide.md#multi-port-services.
 */
export function otherServicePorts(spec: RolloutSpec, root: Service | undefined): ServicePort[] {
  return (root?.spec.ports ?? [])
    .filter((p) => p.port !== splitServiceOf(spec).port)
    .map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      protocol: p.protocol ?? "TCP",
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    }));
}

/** Ports of a backend Service: the split port first, then every other port of the root Service. */
function backendPorts(spec: RolloutSpec, root?: Service): ServicePort[] {
  return [rolloutPort(spec, root), ...otherServicePorts(spec, root)];
}

/**
 * The Service selecting only primary pods, or only canary pods, with every port of the root Service (when it
 * exists yet) so clients of any port reach the same backends through the mesh.
 */
export function renderBackendService(
  role: "primary" | "canary",
  target: Deployment,
  names: WorkloadNames,
  spec: RolloutSpec,
  owner: OwnerRef,
  root?: Service,
): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: role === "primary" ? names.primaryService : names.canaryService,
      namespace: names.namespace,
      labels: managedLabels(names.rollout, role),
      annotations: { ...GITOPS_ANNOTATIONS },
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      type: "ClusterIP",
      selector: role === "primary" ? primarySelector(target) : { ...target.spec.selector.matchLabels },
      ports: backendPorts(spec, root),
    },
  };
}

/**
 * Blue/green's preview Service (`names.previewService`): the ports of the backends, and the selector of the side it
 * points at — the primary's until the new version is ready at full size, then the canary's (the PointPreview action).
 */
export function renderPreviewService(
  side: "primary" | "canary",
  target: Deployment,
  names: WorkloadNames & { previewService: string },
  spec: RolloutSpec,
  owner: OwnerRef,
  root?: Service,
): Service {
  const backend = renderBackendService(side, target, names, spec, owner, root);
  return {
    ...backend,
    metadata: {
      ...backend.metadata,
      name: names.previewService,
      labels: managedLabels(names.rollout, "preview"),
    },
  };
}

/**
 * A root Service created by Vireo when the user has none. It carries no owner reference: clients call it, so it
 * must outlive the Rollout.
 */
export function renderRootService(target: Deployment, names: WorkloadNames, spec: RolloutSpec): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: names.rootService,
      namespace: names.namespace,
      labels: managedLabels(names.rollout, "root"),
      annotations: { ...GITOPS_ANNOTATIONS },
    },
    spec: { type: "ClusterIP", selector: primarySelector(target), ports: [rolloutPort(spec)] },
  };
}

/** What the engine needs to know about a Deployment. */
export function observeDeployment(
  d: Deployment | undefined,
  revision: string | undefined,
): WorkloadObservation {
  if (!d) return { exists: false, desiredReplicas: 0, readyReplicas: 0, rolledOut: false };
  const desired = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  const observed = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
  const rolledOut =
    observed &&
    (s.updatedReplicas ?? 0) >= desired &&
    (s.replicas ?? 0) <= desired &&
    (s.availableReplicas ?? 0) >= desired;
  return {
    exists: true,
    ...(revision !== undefined ? { revision } : {}),
    ...(d.metadata.generation !== undefined ? { generation: d.metadata.generation } : {}),
    desiredReplicas: desired,
    // Until the rollout of the template completes, old pods may be the ready ones: count none of them.
    readyReplicas:
      observed && (s.updatedReplicas ?? 0) > 0 ? Math.min(s.readyReplicas ?? 0, s.updatedReplicas ?? 0) : 0,
    rolledOut,
  };
}

/** Revision stamped on the primary. */
export function primaryRevision(primary: Deployment | undefined): string | undefined {
  return primary?.metadata.annotations?.[REVISION_ANNOTATION];
}
