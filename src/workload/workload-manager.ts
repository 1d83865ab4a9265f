// Reads and writes the Deployments and Services of a Rollout: create primary, scale canary, promote, restore.
import { GITOPS_ANNOTATIONS } from "../api/constants.ts";
import { type OwnerRef, PATCH_TYPES } from "../api/object-meta.ts";
import type { RolloutSpec } from "../api/rollout-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../kube/errors.ts";
import {
  observeAutoscalers,
  ownsAutoscaler,
  primaryAutoscaler,
  renderPrimaryAutoscaler,
  userAutoscaler,
} from "./autoscaler.ts";
import { ORIGINAL_SELECTOR_ANNOTATION, REVISION_ANNOTATION, type WorkloadNames } from "./names.ts";
import type { Deployment, HorizontalPodAutoscaler, Service } from "./objects.ts";
import {
  observeDeployment,
  primarySelector,
  primaryTemplate,
  renderBackendService,
  renderPrimary,
  renderRootService,
} from "./render.ts";
import { canonicalJson, templateRevision } from "./revision.ts";

/** Where objects are read from: the controller's informer caches (controller/manager.ts). */
export interface ObjectReader {
  deployment(namespace: string, name: string): Promise<Deployment | undefined>;
  service(namespace: string, name: string): Promise<Service | undefined>;
  /** Every HorizontalPodAutoscaler of the namespace (the user's is found by its scale target). */
  autoscalers(namespace: string): Promise<HorizontalPodAutoscaler[]>;
}

/** Everything the reconciler read about a Rollout's workloads in one go. */
export interface WorkloadSnapshot {
  names: WorkloadNames;
  target: Deployment | undefined;
  primary: Deployment | undefined;
  rootService: Service | undefined;
  primaryService: Service | undefined;
  canaryService: Service | undefined;
  /** The user's HPA of the target, and Vireo's of the primary (absent from snapshots that did not read HPAs). */
  userAutoscaler?: HorizontalPodAutoscaler | undefined;
  primaryAutoscaler?: HorizontalPodAutoscaler | undefined;
}

const sameJson = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
const deploymentPath = (ns: string, name?: string) =>
  `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/deployments${name ? `/${encodeURIComponent(name)}` : ""}`;
const autoscalerPath = (ns: string, name?: string) =>
  `/apis/autoscaling/v2/namespaces/${encodeURIComponent(ns)}/horizontalpodautoscalers${name ? `/${encodeURIComponent(name)}` : ""}`;
const servicePath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/services${name ? `/${encodeURIComponent(name)}` : ""}`;

/** Carries out the workload intentions of the engine. Every method is idempotent. */
export class WorkloadManager {
  readonly #clients: KubeClients;
  readonly #reader: ObjectReader;

  constructor(clients: KubeClients, reader: ObjectReader) {
    this.#clients = clients;
    this.#reader = reader;
  }

  /** Reads the target, primary and the three Services. */
  async snapshot(names: WorkloadNames): Promise<WorkloadSnapshot> {
    const ns = names.namespace;
    const [target, primary, rootService, primaryService, canaryService, hpas] = await Promise.all([
      this.#reader.deployment(ns, names.target),
      this.#reader.deployment(ns, names.primary),
      this.#reader.service(ns, names.rootService),
      this.#reader.service(ns, names.primaryService),
      this.#reader.service(ns, names.canaryService),
      this.#reader.autoscalers(ns),
    ]);
    return {
      names,
      target,
      primary,
      rootService,
      primaryService,
      canaryService,
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
    try {
      await this.#clients.request({
        method: "DELETE",
        path: autoscalerPath(s.names.namespace, s.names.primary),
        body: {
          apiVersion: "v1",
          kind: "DeleteOptions",
          preconditions: { uid: have.metadata.uid, resourceVersion: have.metadata.resourceVersion },
        },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** The engine's view of target (canary) and primary. */
  static observe(s: WorkloadSnapshot) {
    return {
      canary: observeDeployment(s.target, s.target ? templateRevision(s.target.spec.template) : undefined),
      primary: observeDeployment(s.primary, s.primary?.metadata.annotations?.[REVISION_ANNOTATION]),
    };
  }

  /** True when the backend Services exist as rendered (selectors and ports) and the root selects primary pods. */
  static servicesReady(s: WorkloadSnapshot, spec: RolloutSpec, owner: OwnerRef): boolean {
    if (!s.target || !s.primaryService || !s.canaryService || !s.rootService) return false;
    const want = (role: "primary" | "canary") =>
      renderBackendService(role, s.target!, s.names, spec, owner, s.rootService).spec;
    return (
      sameJson(s.primaryService.spec.selector, want("primary").selector) &&
      sameJson(s.canaryService.spec.selector, want("canary").selector) &&
      sameJson(s.primaryService.spec.ports, want("primary").ports) &&
      sameJson(s.canaryService.spec.ports, want("canary").ports) &&
      sameJson(s.rootService.spec.selector, primarySelector(s.target))
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
          spec: { selector: wanted.spec.selector, ports: wanted.spec.ports },
        });
        done.push(`restored the selector and ports of Service ${wanted.metadata.name}`);
      }
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
    if (primaryReady && !sameJson(s.rootService.spec.selector, selector)) {
      const original =
        s.rootService.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION] ??
        JSON.stringify(s.rootService.spec.selector ?? {});
      // A merge patch cannot remove keys by omission: null out the old selector keys the primary's lacks.
      const patchSelector: Record<string, string | null> = { ...selector };
      for (const key of Object.keys(s.rootService.spec.selector ?? {}))
        if (!(key in selector)) patchSelector[key] = null;
      await this.#patch(servicePath(names.namespace, names.rootService), s.rootService, {
        metadata: { annotations: { [ORIGINAL_SELECTOR_ANNOTATION]: original } },
        spec: { selector: patchSelector },
      });
      done.push(`pointed Service ${names.rootService} at the primary's pods`);
    }
    return done;
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
    if ((s.target.spec.replicas ?? 1) === replicas) return undefined;
    const path = deploymentPath(s.names.namespace, s.names.target);
    const written = (await this.#patch(path, s.target, { spec: { replicas } })) as Deployment | undefined;
    return written?.metadata?.generation;
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
   * One step of handing the workload back to the user when the Rollout is deleted: the user's Deployment gets the
   * stable template and replicas back, and the root Service its old selector only once those pods are ready.
   * @returns true when done; false when waiting for pods (call again later).
   */
  async restore(s: WorkloadSnapshot): Promise<boolean> {
    const { target, primary, names } = s;
    if (!target) return true;
    if (primary) {
      const stable = primary.metadata.annotations?.[REVISION_ANNOTATION];
      const replicas = Math.max(primary.spec.replicas ?? 1, 1);
      if (stable && templateRevision(target.spec.template) !== stable) {
        // The target holds a revision that never became stable: give it the stable template back.
        const template = structuredClone(primary.spec.template);
        template.metadata = { ...template.metadata, labels: { ...target.spec.template.metadata?.labels } };
        if (templateRevision(template) === stable) {
          await this.#patch(deploymentPath(names.namespace, names.target), target, {
            spec: { template, replicas },
          });
          return false;
        }
      }
      if ((target.spec.replicas ?? 1) < replicas) {
        await this.#patch(deploymentPath(names.namespace, names.target), target, { spec: { replicas } });
        return false;
      }
    }
    if (!observeDeployment(target, undefined).rolledOut || (target.status?.readyReplicas ?? 0) === 0)
      return false;
    const root = s.rootService;
    const original = root?.metadata.annotations?.[ORIGINAL_SELECTOR_ANNOTATION];
    const userSelector = original
      ? (JSON.parse(original) as Record<string, string>)
      : target.spec.selector.matchLabels;
    if (root && !sameJson(root.spec.selector, userSelector)) {
      const patchSelector: Record<string, string | null> = { ...userSelector };
      for (const key of Object.keys(root.spec.selector ?? {}))
        if (!(key in (userSelector ?? {}))) patchSelector[key] = null;
      await this.#patch(servicePath(names.namespace, names.rootService), root, {
        metadata: { annotations: { [ORIGINAL_SELECTOR_ANNOTATION]: null } },
        spec: { selector: patchSelector },
      });
    }
    return true;
  }

  async #get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.#clients.request<T>({ path });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
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
