// The controller's view of AnalysisTemplates and ClusterAnalysisTemplates (Vireo's, and Argo Rollouts' where a
// Rollout names one): informers whose caches answer the template lookups of reconciles, and whose events wake the
// Rollouts that name a template that changed.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { TemplateLookup } from "../analysis/templates/resolve.ts";
import {
  ARGO_GROUP,
  ARGO_VERSION,
  GROUP,
  TEMPLATE_PLURALS,
  type TemplateGroup,
  type TemplateKind,
  VERSION,
} from "../api/constants.ts";
import type { Rollout } from "../api/rollout-schema.ts";
import type { AnalysisTemplateObject } from "../api/template-schema.ts";
import type { KubeClients } from "../kube/clients.ts";
import { Informer } from "../kube/informer.ts";
import type { KubeLogger } from "../kube/logger-port.ts";

/** What a {@link TemplateStore} needs. */
export interface TemplateStoreOptions {
  clients: KubeClients;
  /** Namespaces watched for AnalysisTemplates (the controller's --namespace); empty means all. */
  namespaces: readonly string[];
  logger: KubeLogger;
  resyncPeriodMs?: number;
  /** The Rollouts to wake when a template changes (the manager's cache). */
  rollouts: () => readonly Rollout[];
  /** Queues a Rollout key (`namespace/name`) for a reconcile. */
  enqueue: (key: string) => void;
}

/** Raised by a lookup before the template caches have listed once: the reconcile is retried, nothing decided. */
export class TemplatesNotReadyError extends Error {
  override name = "TemplatesNotReadyError";
}

type TemplateInformer = Informer<AnalysisTemplateObject & KubernetesObject>;

/** The informers of one API group's two template kinds. */
interface GroupInformers {
  namespaced: TemplateInformer[];
  cluster: TemplateInformer;
  started: boolean;
}

/**
 * Template caches. They do not hold up the controller's start (a cluster without the template CRDs still runs every
 * Rollout that names none); a Rollout that names a template before they have listed gets a retried reconcile
 * error, never a "not found" that would route its traffic. Argo's are started by the first lookup that needs them,
 * so a cluster without Argo Rollouts never lists a resource it does not serve.
 */
export class TemplateStore {
  readonly #groups: Record<TemplateGroup, GroupInformers>;
  #stopped = false;

  constructor(o: TemplateStoreOptions) {
    const common = {
      clients: o.clients,
      logger: o.logger,
      ...(o.resyncPeriodMs !== undefined ? { resyncPeriodMs: o.resyncPeriodMs } : {}),
    };
    const scopes = o.namespaces.length > 0 ? [...o.namespaces] : [undefined];
    const watch = (inf: TemplateInformer, group: TemplateGroup, kind: TemplateKind) => {
      const wake = (t: KubernetesObject) => {
        for (const r of o.rollouts())
          if (names(r, group, kind, t.metadata?.namespace, t.metadata?.name ?? ""))
            o.enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
      };
      inf.onAdd(wake);
      inf.onUpdate((old, t) => {
        if (JSON.stringify(old.spec) !== JSON.stringify(t.spec)) wake(t);
      });
      inf.onDelete(wake);
      return inf;
    };
    const informers = (group: TemplateGroup, version: string): GroupInformers => {
      const resource = (kind: TemplateKind) => ({ group, version, plural: TEMPLATE_PLURALS[kind] });
      return {
        namespaced: scopes.map((namespace) =>
          watch(
            new Informer({
              ...common,
              ...(namespace ? { namespace } : {}),
              resource: resource("AnalysisTemplate"),
            }),
            group,
            "AnalysisTemplate",
          ),
        ),
        cluster: watch(
          new Informer({ ...common, resource: resource("ClusterAnalysisTemplate") }),
          group,
          "ClusterAnalysisTemplate",
        ),
        started: false,
      };
    };
    this.#groups = { [GROUP]: informers(GROUP, VERSION), [ARGO_GROUP]: informers(ARGO_GROUP, ARGO_VERSION) };
  }

  /** Starts Vireo's template informers; they list and watch in the background. */
  start(): void {
    this.#start(this.#groups[GROUP]);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(
      Object.values(this.#groups).flatMap((g) => [...g.namespaced, g.cluster].map((inf) => inf.stop())),
    );
  }

  /**
   * The {@link TemplateLookup} reconciles use. A namespace outside the watched ones reads as no template.
   * @throws TemplatesNotReadyError while the informer for `kind` has not listed (the CRD missing, RBAC, start-up).
   */
  readonly lookup: TemplateLookup = (kind, namespace, name, group) => {
    const g = this.#groups[group];
    this.#start(g);
    const informers = kind === "ClusterAnalysisTemplate" ? [g.cluster] : g.namespaced;
    for (const inf of informers) {
      if (!inf.hasSynced()) {
        throw new TemplatesNotReadyError(
          `${group} ${kind}s are not listed yet: is the CRD ${TEMPLATE_PLURALS[kind]}.${group} installed and readable by the controller?`,
        );
      }
      const found = inf.get(namespace ?? "", name);
      if (found) return found;
    }
    return undefined;
  };

  #start(g: GroupInformers): void {
    // A reconcile still finishing after stop() must not start watches nobody stops.
    if (g.started || this.#stopped) return;
    g.started = true;
    for (const inf of [...g.namespaced, g.cluster]) inf.start();
  }
}

/** Whether `r`'s analysis names the template `group` `kind` `namespace/name` (cluster ones have no namespace). */
function names(
  r: Rollout,
  group: TemplateGroup,
  kind: TemplateKind,
  namespace: string | undefined,
  name: string,
): boolean {
  const refs = (
    r.spec as { analysis?: { templates?: { apiGroup?: string; kind?: string; name?: string }[] } } | undefined
  )?.analysis?.templates;
  return (refs ?? []).some(
    (t) =>
      t.name === name &&
      (t.apiGroup ?? GROUP) === group &&
      (t.kind ?? "AnalysisTemplate") === kind &&
      (kind === "ClusterAnalysisTemplate" || r.metadata.namespace === namespace),
  );
}
