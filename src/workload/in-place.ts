// Reads and writes StatefulSet and DaemonSet targets, which Vireo updates in place: their pods and revisions, the
// hold on their update strategy, pod deletions, the stable template put back, the claim, and the hand-back.
import { IN_PLACE_KEYS, type InPlaceKind, LABELS } from "../api/constants.ts";
import { type ObjectMeta, PATCH_TYPES } from "../api/object-meta.ts";
import type { Claim } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { getOrUndefined, isConflict, isNotFound } from "../kube/errors.ts";
import type { InPlaceObservation, PodObservation, WorkloadObservation } from "../rollout/types.ts";
import { templateRevision } from "./revision.ts";

type IntOrPercent = number | string;

/** The fields of a StatefulSet or DaemonSet Vireo reads. */
export interface InPlaceWorkload {
  metadata: ObjectMeta & { uid?: string; generation?: number };
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string> };
    template: unknown;
    updateStrategy?: {
      type?: "RollingUpdate" | "OnDelete";
      rollingUpdate?: { partition?: number; maxUnavailable?: IntOrPercent };
    };
  };
  status?: {
    observedGeneration?: number;
    updateRevision?: string;
    currentRevision?: string;
    desiredNumberScheduled?: number;
  };
}

interface Owned {
  metadata: ObjectMeta & { uid?: string; deletionTimestamp?: string; ownerReferences?: { uid: string }[] };
}
interface Pod extends Owned {
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string }[] };
}
interface Revision extends Owned {
  revision: number;
  data?: { spec?: { template?: Record<string, unknown> } };
}
interface Node {
  metadata: ObjectMeta;
}

/** What one reconcile read of an in-place target. */
export interface InPlaceSnapshot {
  kind: InPlaceKind;
  namespace: string;
  name: string;
  workload: InPlaceWorkload | undefined;
  pods: Pod[];
  revisions: Revision[];
  /** DaemonSet: the labels of each node, by name. */
  nodeLabels: Map<string, Record<string, string>>;
}

const PLURAL: Record<InPlaceKind, string> = { StatefulSet: "statefulsets", DaemonSet: "daemonsets" };
const enc = encodeURIComponent;
const workloadPath = (kind: InPlaceKind, ns: string, name: string) =>
  `/apis/apps/v1/namespaces/${enc(ns)}/${PLURAL[kind]}/${enc(name)}`;
const selectorOf = (w: InPlaceWorkload) =>
  Object.entries(w.spec.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
const ownedBy = (w: InPlaceWorkload) => (o: Owned) =>
  (o.metadata.ownerReferences ?? []).some((r) => r.uid === w.metadata.uid);

/** `maxUnavailable` resolved against `desired` as Kubernetes does (percent rounded down), at least 1. */
export function resolveMaxUnavailable(value: IntOrPercent | undefined, desired: number): number {
  if (value === undefined) return 1;
  const n = typeof value === "number" ? value : Math.floor((desired * Number.parseInt(value, 10)) / 100);
  return Math.max(1, Number.isFinite(n) ? n : 1);
}

/** Carries out the engine's intentions for StatefulSet and DaemonSet targets. Every method is idempotent. */
export class InPlaceWorkloads {
  readonly #clients: KubeClients;

  constructor(clients: KubeClients) {
    this.#clients = clients;
  }

  /** Reads the workload, the pods and ControllerRevisions it owns, and (DaemonSet) its nodes' labels. */
  async snapshot(kind: InPlaceKind, namespace: string, name: string): Promise<InPlaceSnapshot> {
    const snap: InPlaceSnapshot = {
      kind,
      namespace,
      name,
      workload: await this.#get<InPlaceWorkload>(workloadPath(kind, namespace, name)),
      pods: [],
      revisions: [],
      nodeLabels: new Map(),
    };
    const w = snap.workload;
    if (!w) return snap;
    const query = { labelSelector: selectorOf(w) };
    const ns = enc(namespace);
    const [pods, revisions, nodes] = await Promise.all([
      this.#clients.request<{ items: Pod[] }>({ path: `/api/v1/namespaces/${ns}/pods`, query }),
      this.#clients.request<{ items: Revision[] }>({
        path: `/apis/apps/v1/namespaces/${ns}/controllerrevisions`,
        query,
      }),
      kind === "DaemonSet"
        ? this.#clients.request<{ items: Node[] }>({ path: "/api/v1/nodes" })
        : Promise.resolve({ items: [] }),
    ]);
    snap.pods = pods.items.filter(ownedBy(w));
    snap.revisions = revisions.items.filter(ownedBy(w));
    for (const n of nodes.items) snap.nodeLabels.set(n.metadata.name ?? "", n.metadata.labels ?? {});
    return snap;
  }

  /** The engine's view: `canary` is the workload itself (its template's revision), `inPlace` its pods. */
  static observe(s: InPlaceSnapshot): { canary: WorkloadObservation; inPlace?: InPlaceObservation } {
    const w = s.workload;
    if (!w) return { canary: { exists: false, desiredReplicas: 0, readyReplicas: 0, rolledOut: false } };
    const desired =
      s.kind === "StatefulSet" ? (w.spec.replicas ?? 1) : (w.status?.desiredNumberScheduled ?? 0);
    const observed = w.status?.observedGeneration === w.metadata.generation;
    const strategy = w.spec.updateStrategy?.type ?? "RollingUpdate";
    const newest = [...s.revisions].sort((a, b) => b.revision - a.revision)[0];
    const updateHash =
      s.kind === "StatefulSet" ? w.status?.updateRevision : newest && revisionHashOf(s, newest);
    const held = w.metadata.annotations?.[IN_PLACE_KEYS.maxUnavailable];
    const unavailable = w.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? held;
    const pods = s.pods.map((p) => podObservation(s, p));
    return {
      canary: {
        exists: true,
        revision: templateRevision(w.spec.template),
        desiredReplicas: desired,
        readyReplicas: 0,
        rolledOut: observed,
        ...(w.metadata.generation !== undefined ? { generation: w.metadata.generation } : {}),
      },
      inPlace: {
        kind: s.kind,
        desired,
        observed,
        ...(updateHash ? { updateHash } : {}),
        ...(w.status?.currentRevision ? { currentHash: w.status.currentRevision } : {}),
        strategy,
        partition: w.spec.updateStrategy?.rollingUpdate?.partition ?? 0,
        maxUnavailable: resolveMaxUnavailable(
          typeof unavailable === "string" && /^\d+$/.test(unavailable) ? Number(unavailable) : unavailable,
          desired,
        ),
        pods,
        split: false,
      },
    };
  }

  /** The claim on the workload as status records it (absent when there is no workload). */
  static claims(s: InPlaceSnapshot): Claim[] {
    const uid = s.workload?.metadata.uid;
    return uid ? [{ kind: s.kind, name: s.name, uid }] : [];
  }

  /** Labels the workload as this Rollout's (fenced: of two Rollouts claiming it at once, one gets 409). */
  async claim(s: InPlaceSnapshot, rollout: string): Promise<void> {
    const w = s.workload;
    if (!w || w.metadata.labels?.[LABELS.rollout] === rollout) return;
    await this.#patch(s, {
      metadata: { resourceVersion: w.metadata.resourceVersion, labels: { [LABELS.rollout]: rollout } },
    });
  }

  /**
   * Holds the update strategy: a StatefulSet at RollingUpdate with `partition`, a DaemonSet at OnDelete (its
   * maxUnavailable kept in an annotation). Fenced on the resourceVersion read.
   */
  async hold(s: InPlaceSnapshot, partition: number | undefined): Promise<void> {
    const w = s.workload;
    if (!w) return;
    const rv = w.metadata.resourceVersion;
    if (s.kind === "StatefulSet") {
      await this.#patch(s, {
        metadata: { resourceVersion: rv },
        spec: { updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: partition ?? 0 } } },
      });
      return;
    }
    const before = w.spec.updateStrategy?.rollingUpdate?.maxUnavailable;
    await this.#patch(s, {
      metadata: {
        resourceVersion: rv,
        ...(before !== undefined ? { annotations: { [IN_PLACE_KEYS.maxUnavailable]: String(before) } } : {}),
      },
      spec: { updateStrategy: { type: "OnDelete", rollingUpdate: null } },
    });
  }

  /** Deletes each pod, by uid (a pod of the same name made since is not touched); gone ones are skipped. */
  async deletePods(s: InPlaceSnapshot, pods: readonly { name: string; uid: string }[]): Promise<void> {
    for (const p of pods) {
      try {
        await this.#clients.request({
          method: "DELETE",
          path: `/api/v1/namespaces/${enc(s.namespace)}/pods/${enc(p.name)}`,
          body: { preconditions: { uid: p.uid } },
        });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
  }

  /**
   * Puts back the template of the ControllerRevision labelled `hash`, if the workload's template is still the
   * `from` revision; the write is fenced on the resourceVersion read. Returns false when there is nothing to put
   * back (another template is there by now, or the revision is gone).
   */
  async restoreTemplate(s: InPlaceSnapshot, from: string, hash: string): Promise<boolean> {
    const w = s.workload;
    if (!w || templateRevision(w.spec.template) !== from) return false;
    const rev = s.revisions.find((r) => revisionHashOf(s, r) === hash);
    const template = rev?.data?.spec?.template;
    if (!template) return false;
    const { $patch: _directive, ...value } = template;
    await this.#patch(
      s,
      [
        { op: "test", path: "/metadata/resourceVersion", value: w.metadata.resourceVersion },
        { op: "replace", path: "/spec/template", value },
      ],
      PATCH_TYPES.json,
    );
    return true;
  }

  /**
   * Hands the workload back: the update strategy the user's controller runs on its own again (a StatefulSet's
   * partition 0, a DaemonSet's RollingUpdate with the maxUnavailable it had) and no claim label.
   */
  async release(s: InPlaceSnapshot): Promise<void> {
    const w = s.workload;
    if (!w) return;
    const held = w.metadata.annotations?.[IN_PLACE_KEYS.maxUnavailable];
    const rollingUpdate =
      s.kind === "StatefulSet"
        ? { partition: 0 }
        : { maxUnavailable: held === undefined ? 1 : /^\d+$/.test(held) ? Number(held) : held };
    await this.#patch(s, {
      metadata: {
        resourceVersion: w.metadata.resourceVersion,
        labels: { [LABELS.rollout]: null },
        ...(held !== undefined ? { annotations: { [IN_PLACE_KEYS.maxUnavailable]: null } } : {}),
      },
      spec: { updateStrategy: { type: "RollingUpdate", rollingUpdate } },
    });
  }

  /** A fenced write; the snapshot then holds what it stored, so a later write of the same reconcile is fenced on it. */
  async #patch(s: InPlaceSnapshot, body: unknown, contentType: string = PATCH_TYPES.merge): Promise<void> {
    s.workload = await this.#clients.request<InPlaceWorkload>({
      method: "PATCH",
      path: workloadPath(s.kind, s.namespace, s.name),
      contentType,
      body,
    });
  }

  #get<T>(path: string): Promise<T | undefined> {
    return getOrUndefined<T>(this.#clients, path);
  }
}

/**
 * The `controller-revision-hash` its pods carry for a ControllerRevision: a StatefulSet's pods carry the revision's
 * name (`<set>-<hash>`), a DaemonSet's the hash its revision is labelled with.
 */
function revisionHashOf(s: InPlaceSnapshot, r: Revision): string | undefined {
  if (s.kind === "StatefulSet") return r.metadata.name;
  return r.metadata.labels?.[IN_PLACE_KEYS.revisionHash] ?? r.metadata.name?.slice(s.name.length + 1);
}

/** One pod as the engine sees it. */
function podObservation(s: InPlaceSnapshot, p: Pod): PodObservation {
  const name = p.metadata.name ?? "";
  const node = p.spec?.nodeName;
  const ordinal = Number(name.slice(name.lastIndexOf("-") + 1));
  return {
    name,
    uid: p.metadata.uid ?? "",
    hash: p.metadata.labels?.[IN_PLACE_KEYS.revisionHash] ?? "",
    ready: (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    terminating: p.metadata.deletionTimestamp !== undefined,
    ...(s.kind === "StatefulSet" && Number.isInteger(ordinal) ? { ordinal } : {}),
    ...(s.kind === "DaemonSet" && node ? { node, nodeLabels: s.nodeLabels.get(node) ?? {} } : {}),
  };
}
