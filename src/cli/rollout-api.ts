// The reads and writes the plugin and dashboard make: Rollouts, their Events and Deployments, request annotations.

import { randomBytes } from "node:crypto";
import { ANNOTATIONS, API_VERSION, GROUP, PLURAL, PROMOTE_FULL, type RequestKind } from "../api/constants.ts";
import { eventTime, type KubeEvent } from "../api/kube-event.ts";
import { PATCH_TYPES } from "../api/object-meta.ts";
import type { Rollout } from "../api/rollout-schema.ts";
import { CliError } from "./errors.ts";
import type { KubeClient, WatchEvent } from "./kube-client.ts";

/** The subset of a Deployment the views use (readiness of primary and canary). */
export interface DeploymentSummary {
  name: string;
  replicas: number;
  ready: number;
  updated: number;
}

/** The resource name used in RBAC and error messages. */
export const RESOURCE = `${PLURAL}.${GROUP}`;

const rolloutsPath = (namespace?: string): string =>
  namespace ? `/apis/${API_VERSION}/namespaces/${namespace}/${PLURAL}` : `/apis/${API_VERSION}/${PLURAL}`;

/** GET one Rollout. */
export function getRollout(kube: KubeClient, namespace: string, name: string): Promise<Rollout> {
  return kube.request<Rollout>({
    path: `${rolloutsPath(namespace)}/${name}`,
    target: { verb: "get", resource: RESOURCE, namespace, name },
  });
}

/** LIST Rollouts of a namespace, or of all namespaces when `namespace` is undefined. */
export async function listRollouts(
  kube: KubeClient,
  namespace: string | undefined,
): Promise<{ items: Rollout[]; resourceVersion: string }> {
  const list = await kube.request<{ items: Rollout[]; metadata: { resourceVersion: string } }>({
    path: rolloutsPath(namespace),
    target: { verb: "list", resource: RESOURCE, namespace },
  });
  for (const r of list.items) {
    r.apiVersion = API_VERSION;
    r.kind = "Rollout";
  }
  return { items: list.items, resourceVersion: list.metadata.resourceVersion };
}

/** WATCH Rollouts (one by name with `name`) from `resourceVersion`. */
export function watchRollouts(
  kube: KubeClient,
  opts: { namespace?: string; name?: string; resourceVersion?: string; signal?: AbortSignal },
  onEvent: (e: WatchEvent<Rollout>) => void,
): Promise<void> {
  return kube.watch<Rollout>(
    {
      path: rolloutsPath(opts.namespace),
      query: {
        resourceVersion: opts.resourceVersion,
        fieldSelector: opts.name ? `metadata.name=${opts.name}` : undefined,
      },
      target: { verb: "watch", resource: RESOURCE, namespace: opts.namespace, name: opts.name },
      signal: opts.signal,
    },
    onEvent,
  );
}

/** The Events about one Rollout, oldest first. */
export async function rolloutEvents(kube: KubeClient, namespace: string, name: string): Promise<KubeEvent[]> {
  const list = await kube.request<{ items: KubeEvent[] }>({
    path: `/api/v1/namespaces/${namespace}/events`,
    query: { fieldSelector: `involvedObject.kind=Rollout,involvedObject.name=${name}` },
    target: { verb: "list", resource: "events", namespace },
  });
  return list.items.sort((a, b) => eventTime(a).localeCompare(eventTime(b)));
}

/** Readiness of a Deployment, or undefined when it does not exist or cannot be read. */
export async function deploymentSummary(
  kube: KubeClient,
  namespace: string,
  name: string,
): Promise<DeploymentSummary | undefined> {
  try {
    const d = await kube.request<{
      spec?: { replicas?: number };
      status?: { readyReplicas?: number; updatedReplicas?: number };
    }>({
      path: `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
      target: { verb: "get", resource: "deployments.apps", namespace, name },
    });
    return {
      name,
      replicas: d.spec?.replicas ?? 0,
      ready: d.status?.readyReplicas ?? 0,
      updated: d.status?.updatedReplicas ?? 0,
    };
  } catch {
    // Readiness is decoration: a user who may read Rollouts but not Deployments still gets the rest.
    return undefined;
  }
}

/** A fresh request value: distinct from every earlier one, so the controller treats it as a new request. */
export function requestToken(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, "").slice(0, 15)}Z-${randomBytes(3).toString("hex")}`;
}

/**
 * The value of a request annotation, the same from the plugin's commands and the dashboard: a fresh token;
 * `full-<token>` for a full promotion; `<check>/<token>` for an approval, so approving the same check again (its
 * next run) is a new request too.
 */
export function requestValue(
  kind: RequestKind,
  o: { full?: boolean; check?: string; now?: Date } = {},
): string {
  const token = requestToken(o.now);
  if (o.full) return `${PROMOTE_FULL}-${token}`;
  return kind === "approve" ? `${o.check ?? ""}/${token}` : token;
}

/** The one approval check `r` waits for, when `approve` names none; an error when none or several wait. */
export function waitingApproval(r: Rollout): string {
  const names = [
    ...new Set(
      (r.status?.checks ?? [])
        .filter((c) => c.kind === "approval" && c.phase === "Pending")
        .map((c) => c.name),
    ),
  ];
  const at = `${r.metadata.namespace}/${r.metadata.name}`;
  if (names.length === 1 && names[0]) return names[0];
  if (names.length === 0) throw new CliError(`no approval check of ${at} waits`, 1);
  throw new CliError(`${at} waits for several approvals (${names.join(", ")}): name one`, 2);
}

/**
 * Writes a request annotation exactly as `kubectl annotate --overwrite` would (a merge patch of one annotation).
 * Returns the Rollout as written.
 */
export function writeRequest(
  kube: KubeClient,
  namespace: string,
  name: string,
  kind: RequestKind,
  value: string,
): Promise<Rollout> {
  return kube.request<Rollout>({
    method: "PATCH",
    path: `${rolloutsPath(namespace)}/${name}`,
    query: { fieldManager: "kubectl-vireo" },
    body: { metadata: { annotations: { [ANNOTATIONS[kind]]: value } } },
    contentType: PATCH_TYPES.merge,
    target: { verb: "patch", resource: RESOURCE, namespace, name },
  });
}
