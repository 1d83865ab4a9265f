// Reads and writes the Deployments and Services of a Rollout: claim, create primary, scale canary, promote, hand back.
import { API_VERSION, GITOPS_ANNOTATIONS, KIND, LABELS, SELECTOR_PROVIDER } from "../api/constants.ts";
import {
  MANAGED_BY,
  managedLabels,
  type ObjectMeta,
  type OwnerRef,
  ownerReference,
  PATCH_TYPES,
  replacingMap,
} from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { type EndpointSlice, listEndpointSlices } from "../kube/endpoint-slices.ts";
import { getOrUndefined, isAlreadyExists, isConflict, isNotFound } from "../kube/errors.ts";
import {
  observeAutoscalers,
  ownsAutoscaler,
  primaryAutoscaler,
  renderPrimaryAutoscaler,
  userAutoscaler,
} from "./autoscaler.ts";
import { CanaryScaler } from "./canary-scale.ts";
import { claimantOf, leftovers } from "./claims.ts";
import { servingGap } from "./hand-back.ts";
import { ORIGINAL_SELECTOR_ANNOTATION, REVISION_ANNOTATION, type WorkloadNames } from "./names.ts";
import type { Deployment, HorizontalPodAutoscaler, Service } from "./objects.ts";
import {
  observeDeployment,
  primarySelector,
  primaryTemplate,
  renderBackendService,
  renderPreviewService,
  renderPrimary,
  renderRootService,
} from "./render.ts";
import { canonicalJson, templateRevision } from "./revision.ts";
import type { WorkloadSnapshot } from "./snapshot.ts";

/** Where objects are read from: the controller's informer caches (controller/manager.ts). */
export interface ObjectReader {
  deployment(namespace: string, name: string): Promise<Deployment | undefined>;
  service(namespace: string, name: string): Promise<Service | undefined>;
  /** Every HorizontalPodAutoscaler of the namespace (the user's is found by its scale target). */
  autoscalers(namespace: string): Promise<HorizontalPodAutoscaler[]>;
}

export type { WorkloadSnapshot } from "./snapshot.ts";

const sameJson = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
/**
 * Whether the root Service selects what Vireo routes it to: the primary's pods — or, with provider kubernetes, whose
 * route is this selector, either backend's once Vireo first re-pointed it (recorded by the original-selector
 * annotation; before that, selecting the target's pods is the user's own selector, not a route).
 */
function rootRouted(s: WorkloadSnapshot, spec: RolloutSpec): boolean {
  const root = s.rootService;
  if (!root || !s.target) return false;
  if (sameJson(root.spec.selector, primarySelector(s.target))) return true;
  return (
    spec.provider === SELECTOR_PROVIDER &&
    root.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION] !== undefined &&
    sameJson(root.spec.selector, s.target.spec.selector.matchLabels)
  );
}
const deploymentPath = (ns: string, name?: string) =>
  `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments${name ? `/${encodeURIComponent(name)}` : ""}`;
const autoscalerPath = (ns: string, name?: string) =>
  `/apis/autoscaling/v2/namespaces/${encodeURIComponent(ns)}/horizontalpodautoscalers${name ? `/${encodeURIComponent(name)}` : ""}`;
const servicePath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/services${name ? `/${encodeURIComponent(name)}` : ""}`;

/**
 * The metadata patch that gives an object Vireo made for this Rollout its labels and controller owner reference
 * back (someone removed them, or the Rollout was deleted with `--cascade=orphan` and made again); undefined when
 * it has both. Without the labels the object would drop out of the controller's label-selected caches.
 */
function ownershipRepair(
  obj: { metadata: ObjectMeta },
  rollout: string,
  role: "primary" | "canary",
  owner: OwnerRef,
): { metadata: Partial<ObjectMeta> } | undefined {
  const want = managedLabels(rollout, role);
  const labelsOk = Object.entries(want).every(([k, v]) => obj.metadata.labels?.[k] === v);
  const refs = obj.metadata.ownerReferences ?? [];
  const ownerOk = refs.some((r) => r.controller && r.uid === owner.uid);
  if (labelsOk && ownerOk) return undefined;
  return {
    metadata: {
      ...(labelsOk ? {} : { labels: want }),
      ...(ownerOk ? {} : { ownerReferences: [...refs.filter((r) => !r.controller), ownerReference(owner)] }),
    },
  };
}

/** Reads Deployments and Services straight from the API server: what the informer caches do not hold. */
export class ApiObjectReader implements Pick<ObjectReader, "deployment" | "service"> {
  readonly #clients: KubeClients;

  constructor(clients: KubeClients) {
    this.#clients = clients;
  }

  async deployment(namespace: string, name: string): Promise<Deployment | undefined> {
    return this.#get<Deployment>(deploymentPath(namespace, name));
  }

  async service(namespace: string, name: string): Promise<Service | undefined> {
    return this.#get<Service>(servicePath(namespace, name));
  }

  #get<T>(path: string): Promise<T | undefined> {
    return getOrUndefined<T>(this.#clients, path);
  }
}

/** Carries out the workload intentions of the engine. Every method is idempotent. */
export class WorkloadManager {
  readonly #clients: KubeClients;
  readonly #reader: ObjectReader;
  readonly #canary: CanaryScaler;

  constructor(clients: KubeClients, reader: ObjectReader) {
    this.#clients = clients;
    this.#reader = reader;
    this.#canary = new CanaryScaler(clients);
  }

  /** Reads the target, primary and the three Services. */
  async snapshot(names: WorkloadNames): Promise<WorkloadSnapshot> {
    const ns = names.namespace;
    const [target, primary, rootService, primaryService, canaryService, hpas, previewService] =
      await Promise.all([
        this.#reader.deployment(ns, names.target),
        this.#reader.deployment(ns, names.primary),
        this.#reader.service(ns, names.rootService),
        this.#reader.service(ns, names.primaryService),
        this.#reader.service(ns, names.canaryService),
        this.#reader.autoscalers(ns),
        names.previewService === undefined ? undefined : this.#reader.service(ns, names.previewService),
      ]);
    return {
      names,
      target,
      primary,
      rootService,
      primaryService,
      canaryService,
      ...(names.previewService === undefined ? {} : { previewService }),
      userAutoscaler: userAutoscaler(hpas, names),
      primaryAutoscaler: primaryAutoscaler(hpas, names),
    };
  }

  /** The engine's view of the user's and the primary's HPAs; undefined when neither exists. */
  static observeAutoscalers(s: WorkloadSnapshot) {
    return observeAutoscalers(s.userAutoscaler, s.primaryAutoscaler, s.names);
  }

  /**
   * Makes the primary HPA the user's retargeted to the primary, with `minReplicas`: created when missing, else
   * replaced whole (a merge patch would keep fields the user removed from theirs), fenced on the resourceVersion
   * the decision saw. An HPA of that name that Vireo did not make is never taken over.
   */
  async syncAutoscaler(s: WorkloadSnapshot, owner: OwnerRef, minReplicas: number): Promise<void> {
    const { names, userAutoscaler: user, primaryAutoscaler: have } = s;
    if (!user) return;
    const wanted = renderPrimaryAutoscaler(user, names, owner, minReplicas);
    if (!have) {
      await this.#create(autoscalerPath(names.namespace), wanted);
      return;
    }
    if (!ownsAutoscaler(have, names))
      throw new Error(
        `HorizontalPodAutoscaler ${names.namespace}/${names.primary} exists and was not made by Vireo for this Rollout; rename or delete it`,
      );
    await this.#clients.request({
      method: "PUT",
      path: autoscalerPath(names.namespace, names.primary),
      body: { ...wanted, metadata: { ...wanted.metadata, resourceVersion: have.metadata.resourceVersion } },
    });
  }

  /** Deletes Vireo's primary HPA (the user's is gone), with uid and resourceVersion preconditions. */
  async deleteAutoscaler(s: WorkloadSnapshot): Promise<void> {
    const have = s.primaryAutoscaler;
    if (!have || !ownsAutoscaler(have, s.names)) return;
    await this.#delete(autoscalerPath(s.names.namespace, s.names.primary), have);
  }

  /** The engine's view of target (canary) and primary. */
  static observe(s: WorkloadSnapshot) {
    return {
      canary: observeDeployment(s.target, s.target ? templateRevision(s.target.spec.template) : undefined),
      primary: observeDeployment(s.primary, s.primary?.metadata.annotations?.[REVISION_ANNOTATION]),
    };
  }

  /**
   * True when the backend Services exist as rendered (selectors, ports, Vireo's labels and owner reference), the
   * preview Service exists (blue/green), and the root selects primary pods — or, with provider kubernetes, whose
   * route is the root's selector, was re-pointed by Vireo and selects one of the backends.
   */
  static servicesReady(s: WorkloadSnapshot, spec: RolloutSpec, owner: OwnerRef): boolean {
    if (!s.target || !s.primaryService || !s.canaryService || !s.rootService) return false;
    if (s.names.previewService !== undefined && !s.previewService) return false;
    const want = (role: "primary" | "canary") =>
      renderBackendService(role, s.target!, s.names, spec, owner, s.rootService).spec;
    return (
      sameJson(s.primaryService.spec.selector, want("primary").selector) &&
      sameJson(s.canaryService.spec.selector, want("canary").selector) &&
      sameJson(s.primaryService.spec.ports, want("primary").ports) &&
      sameJson(s.canaryService.spec.ports, want("canary").ports) &&
      rootRouted(s, spec) &&
      // Without Vireo's labels they would drop out of the label-selected cache: a repair puts them back.
      ownershipRepair(s.primaryService, s.names.rollout, "primary", owner) === undefined &&
      ownershipRepair(s.canaryService, s.names.rollout, "canary", owner) === undefined
    );
  }

  /**
   * Creates the primary and the backend Services, and re-points the root Service at primary pods — but only once
   * the primary has ready pods, so adopting a live Deployment never drops traffic. Also repairs them after
   * out-of-band deletes and edits. The primary is created only while the target runs `revision` (never from an
   * unverified template), with `replicas`.
   * @returns what was created or changed, in words (empty when everything was already in place)
   */
  async ensure(
    s: WorkloadSnapshot,
    spec: RolloutSpec,
    owner: OwnerRef,
    want: { revision: string; replicas: number },
  ): Promise<string[]> {
    const { target, names } = s;
    const done: string[] = [];
    if (!target) return done;
    for (const role of ["primary", "canary"] as const) {
      const wanted = renderBackendService(role, target, names, spec, owner, s.rootService);
      const have = role === "primary" ? s.primaryService : s.canaryService;
      if (!have) {
        if (await this.#create(servicePath(names.namespace), wanted))
          done.push(`created Service ${wanted.metadata.name}`);
      } else if (
        !sameJson(have.spec.selector, wanted.spec.selector) ||
        !sameJson(have.spec.ports, wanted.spec.ports)
      ) {
        await this.#patch(servicePath(names.namespace, wanted.metadata.name), have, {
          ...ownershipRepair(have, names.rollout, role, owner),
          spec: { selector: wanted.spec.selector, ports: wanted.spec.ports },
        });
        done.push(`restored the selector and ports of Service ${wanted.metadata.name}`);
      } else {
        const repair = ownershipRepair(have, names.rollout, role, owner);
        if (repair) {
          await this.#patch(servicePath(names.namespace, wanted.metadata.name), have, repair);
          done.push(`restored the labels and owner reference of Service ${wanted.metadata.name}`);
        }
      }
    }
    if (names.previewService !== undefined && !s.previewService) {
      // The preview starts on the active pods; the PointPreview action moves it.
      const preview = renderPreviewService(
        "primary",
        target,
        { ...names, previewService: names.previewService },
        spec,
        owner,
        s.rootService,
      );
      if (await this.#create(servicePath(names.namespace), preview))
        done.push(`created Service ${names.previewService}`);
    }
    const primaryRepair = s.primary && ownershipRepair(s.primary, names.rollout, "primary", owner);
    if (s.primary && primaryRepair) {
      s.primary = (await this.#patch(
        deploymentPath(names.namespace, names.primary),
        s.primary,
        primaryRepair,
      )) as Deployment;
      done.push(`restored the labels and owner reference of Deployment ${names.primary}`);
    }
    // The primary last: should the API server refuse a Service (a quota, a policy), no Deployment is left half-set-up.
    if (!s.primary && templateRevision(target.spec.template) === want.revision) {
      const primary = renderPrimary(target, names, owner);
      primary.spec.replicas = Math.max(want.replicas, 1);
      if (await this.#create(deploymentPath(names.namespace), primary))
        done.push(
          `created Deployment ${names.primary} (revision ${want.revision}, ${primary.spec.replicas} replicas)`,
        );
    }
    const primaryReady = s.primary !== undefined && WorkloadManager.observe(s).primary.readyReplicas > 0;
    if (!s.rootService) {
      if (
        primaryReady &&
        (await this.#create(servicePath(names.namespace), renderRootService(target, names, spec)))
      )
        done.push(`created Service ${names.rootService}`);
      return done;
    }
    const selector = primarySelector(target);
    if (primaryReady && !rootRouted(s, spec)) {
      const original =
        s.rootService.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION] ??
        JSON.stringify(s.rootService.spec.selector ?? {});
      // A merge patch cannot remove keys by omission: null out the old selector keys the primary's lacks.
      const patchSelector = replacingMap(s.rootService.spec.selector, selector);
      await this.#patch(servicePath(names.namespace, names.rootService), s.rootService, {
        metadata: { annotations: { [ORIGINAL_SELECTOR_ANNOTATION]: original } },
        spec: { selector: patchSelector },
      });
      done.push(`pointed Service ${names.rootService} at the primary's pods`);
    }
    return done;
  }

  /**
   * Blue/green: gives the preview Service the selector of `side`'s backend Service (merge patch, fenced on the
   * resourceVersion the decision saw). A missing preview is left to {@link ensure}.
   */
  async pointPreview(
    s: WorkloadSnapshot,
    spec: RolloutSpec,
    owner: OwnerRef,
    side: "primary" | "canary",
  ): Promise<void> {
    const { target, names, previewService: have } = s;
    if (!target || !have || names.previewService === undefined) return;
    const wanted = renderPreviewService(
      side,
      target,
      { ...names, previewService: names.previewService },
      spec,
      owner,
      s.rootService,
    );
    if (sameJson(have.spec.selector, wanted.spec.selector)) return;
    await this.#patch(servicePath(names.namespace, names.previewService), have, {
      spec: { selector: replacingMap(have.spec.selector, wanted.spec.selector ?? {}) },
    });
  }

  /** Every EndpointSlice of Service `service`, read from the API server (blue/green only; see endpoints.ts). */
  endpointSlices(namespace: string, service: string): Promise<EndpointSlice[]> {
    return listEndpointSlices(this.#clients, namespace, service);
  }

  /** Sets the primary's replicas. */
  async scalePrimary(s: WorkloadSnapshot, replicas: number): Promise<void> {
    if (!s.primary || (s.primary.spec.replicas ?? 1) === replicas) return;
    await this.#patch(deploymentPath(s.names.namespace, s.names.primary), s.primary, { spec: { replicas } });
  }

  /**
   * Scales the user's Deployment (the canary) to the primary's replica count, or to zero.
   * @returns the Deployment's metadata.generation after the patch (the scale moved it on), or undefined when
   *   nothing was written
   */
  async scaleCanary(s: WorkloadSnapshot, up: boolean): Promise<number | undefined> {
    if (!s.target) return undefined;
    const replicas = up ? Math.max(s.primary?.spec.replicas ?? 1, 1) : 0;
    return this.#canary.scale(deploymentPath(s.names.namespace, s.names.target), s.target, replicas);
  }

  /**
   * Copies the target's template to the primary if the target still runs `revision`. Uses a full replace with
   * resourceVersion, because a merge patch would keep map keys the new template removed.
   * A missing primary (lost mid-rollout) is created from the target with `owner` and `replicas`.
   * @returns false when the target moved on to another revision (the engine will restart the rollout).
   */
  async promote(
    names: WorkloadNames,
    revision: string,
    owner?: OwnerRef,
    replicas?: number,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const target = await this.#get<Deployment>(deploymentPath(names.namespace, names.target));
      const primary = await this.#get<Deployment>(deploymentPath(names.namespace, names.primary));
      if (!target) return false;
      if (templateRevision(target.spec.template) !== revision) return false;
      if (!primary) {
        // The primary was lost mid-rollout and a person chose to promote: the promoted template becomes it.
        if (!owner) return false;
        const fresh = renderPrimary(target, names, owner);
        fresh.spec.replicas = Math.max(replicas ?? 1, 1);
        await this.#create(deploymentPath(names.namespace), fresh);
        return true;
      }
      if (primary.metadata.annotations?.[REVISION_ANNOTATION] === revision) return true;
      primary.spec.template = primaryTemplate(target);
      primary.metadata.annotations = {
        ...primary.metadata.annotations,
        ...GITOPS_ANNOTATIONS,
        [REVISION_ANNOTATION]: revision,
      };
      try {
        await this.#clients.request({
          method: "PUT",
          path: deploymentPath(names.namespace, names.primary),
          body: primary,
        });
        return true;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    return false;
  }

  /**
   * Labels the target and root Service with this Rollout's claim where they lack it, fenced on the versions read
   * (of two Rollouts claiming at once, one gets 409 and sees the other's claim when it reads again). The snapshot
   * takes the objects as written, so the reconcile's later writes are fenced on them.
   */
  async claim(s: WorkloadSnapshot): Promise<void> {
    const { names } = s;
    const label = { metadata: { labels: { [LABELS.rollout]: names.rollout } } };
    if (s.target && claimantOf(s.target) !== names.rollout)
      s.target = (await this.#patch(
        deploymentPath(names.namespace, names.target),
        s.target,
        label,
      )) as Deployment;
    if (s.rootService && claimantOf(s.rootService) !== names.rollout)
      s.rootService = (await this.#patch(
        servicePath(names.namespace, names.rootService),
        s.rootService,
        label,
      )) as Service;
  }

  /**
   * One step of handing a target and root Service back: the target gets the stable template and replicas back
   * (when `what.target`), and once its pods serve, the root Service the selector it had before Vireo (`what.root`).
   * `replicas`: the application's count, for a target whose primary is gone.
   * @returns true when done; false when waiting for pods (call again later).
   */
  async restore(
    s: WorkloadSnapshot,
    what: { target: boolean; root?: { selector: Record<string, string> | undefined } },
    replicas = 1,
  ): Promise<boolean> {
    const { target, primary, names } = s;
    if (!target || !what.target) return this.#restoreRoot(s, what.root);
    const wanted = Math.max(primary?.spec.replicas ?? replicas, 1);
    const stable = primary?.metadata.annotations?.[REVISION_ANNOTATION];
    if (primary && stable && templateRevision(target.spec.template) !== stable) {
      // The target holds a revision that never became stable: give it the stable template back.
      const template = structuredClone(primary.spec.template);
      template.metadata = { ...template.metadata, labels: { ...target.spec.template.metadata?.labels } };
      if (templateRevision(template) === stable) {
        await this.#patch(deploymentPath(names.namespace, names.target), target, {
          spec: { template, replicas: wanted },
        });
        return false;
      }
    }
    if ((target.spec.replicas ?? 1) < wanted) {
      await this.#patch(deploymentPath(names.namespace, names.target), target, {
        spec: { replicas: wanted },
      });
      return false;
    }
    if (!observeDeployment(target, undefined).rolledOut || (target.status?.readyReplicas ?? 0) === 0)
      return false;
    return this.#restoreRoot(s, what.root);
  }

  /** Gives the root Service its recorded selector back (none recorded: the target's pods). */
  async #restoreRoot(
    s: WorkloadSnapshot,
    what: { selector: Record<string, string> | undefined } | undefined,
  ): Promise<boolean> {
    const root = s.rootService;
    if (!root || !what) return true;
    const selector = what.selector ?? s.target?.spec.selector.matchLabels;
    const remembered = root.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION];
    if (!selector || (sameJson(root.spec.selector, selector) && remembered === undefined)) return true;
    // A merge patch cannot remove keys by omission: null out the keys the restored selector lacks.
    const patchSelector = replacingMap(root.spec.selector, selector);
    s.rootService = (await this.#patch(servicePath(s.names.namespace, s.names.rootService), root, {
      metadata: { annotations: { [ORIGINAL_SELECTOR_ANNOTATION]: null } },
      spec: { selector: patchSelector },
    })) as Service;
    return true;
  }

  /**
   * Deletes what Vireo made for `s.names` — the primary Deployment and its HPA, the backend Services — except the
   * names `keep` still uses; only objects that are this Rollout's, each with uid and resourceVersion preconditions.
   */
  async removeMade(s: WorkloadSnapshot, owner: OwnerRef, keep?: WorkloadNames): Promise<void> {
    for (const made of leftovers(s, owner, keep)) {
      if (made !== s.primary) {
        await this.#delete(servicePath(s.names.namespace, made.metadata.name), made);
        continue;
      }
      await this.deleteAutoscaler(s);
      await this.#delete(deploymentPath(s.names.namespace, made.metadata.name), made);
    }
  }

  /**
   * The hand-back's last step: removes this Rollout's claim label from the target and root Service where `which`
   * says so (a root Service Vireo created loses Vireo's other labels too: it stays, as the user's).
   */
  async unclaim(s: WorkloadSnapshot, which: { target: boolean; root: boolean }): Promise<void> {
    const { names } = s;
    if (which.target && s.target && claimantOf(s.target) === names.rollout)
      await this.#patch(deploymentPath(names.namespace, names.target), s.target, {
        metadata: { labels: { [LABELS.rollout]: null } },
      });
    const root = s.rootService;
    if (which.root && root && claimantOf(root) === names.rollout) {
      const created = root.metadata.labels?.[LABELS.managedBy] === MANAGED_BY;
      await this.#patch(servicePath(names.namespace, names.rootService), root, {
        metadata: {
          labels: {
            [LABELS.rollout]: null,
            ...(created ? { [LABELS.managedBy]: null, [LABELS.role]: null } : {}),
          },
        },
      });
    }
  }

  /** Deletes an object with uid and resourceVersion preconditions; already gone is fine. */
  async #delete(path: string, seen: { metadata: ObjectMeta }): Promise<void> {
    try {
      await this.#clients.request({
        method: "DELETE",
        path,
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          preconditions: { uid: seen.metadata.uid, resourceVersion: seen.metadata.resourceVersion },
        },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Hands the workload back without waiting for it to serve (the deletion deadline passed, or a person forced the
   * release): the root Service selects the user's pods if any of the stable template is ready; if none is and the
   * primary's are, it keeps selecting those, and the primary is freed from the Rollout so that garbage collection
   * leaves it serving.
   * @returns what was left undone, for the person reading the Event
   */
  async release(
    s: WorkloadSnapshot,
    root: { selector: Record<string, string> | undefined } | undefined,
  ): Promise<string[]> {
    const { target, primary, names } = s;
    if (!target) return [];
    const serving = observeDeployment(target, undefined);
    const gap = servingGap(target);
    const why = `${gap.what}${gap.blocker ? ` (${gap.blocker})` : ""}`;
    const primaryServes = primary !== undefined && observeDeployment(primary, undefined).readyReplicas > 0;
    if (serving.readyReplicas > 0 || !primary || !primaryServes) {
      await this.#restoreRoot(s, root);
      return serving.rolledOut && serving.readyReplicas > 0
        ? []
        : [`Service ${names.rootService} selects: ${why}`];
    }
    const owners = primary.metadata.ownerReferences ?? [];
    await this.#patch(deploymentPath(names.namespace, names.primary), primary, {
      metadata: { ownerReferences: owners.filter((o) => o.kind !== KIND || o.apiVersion !== API_VERSION) },
    });
    return [
      `${why}, so Service ${names.rootService} keeps selecting the pods of Deployment ${names.primary}, left ` +
        `running without an owner: once ${names.target} serves, point the Service back at its pods and delete ` +
        `${names.primary}`,
    ];
  }

  #get<T>(path: string): Promise<T | undefined> {
    return getOrUndefined<T>(this.#clients, path);
  }

  /** Creates an object; true when it was created, false when it already existed. */
  async #create(collection: string, body: unknown): Promise<boolean> {
    try {
      await this.#clients.request({ method: "POST", path: collection, body });
      return true;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return false;
    }
  }

  /**
   * Merge-patches an object, fenced on the resourceVersion of the copy the decision was made from: if anyone
   * changed it since (a person, a GitOps sync, another controller instance), the API server answers 409 and the
   * reconciler decides again from the fresh object instead of overwriting a change it never saw.
   */
  /** A merge patch fenced on the resourceVersion the caller saw; resolves to the object as written. */
  async #patch(
    path: string,
    seen: { metadata: { resourceVersion?: string } },
    body: object,
  ): Promise<unknown> {
    const rv = seen.metadata.resourceVersion;
    const fenced = rv
      ? { ...body, metadata: { ...(body as { metadata?: object }).metadata, resourceVersion: rv } }
      : body;
    return this.#clients.request({ method: "PATCH", path, body: fenced, contentType: PATCH_TYPES.merge });
  }
}
