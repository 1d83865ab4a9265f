// The controller's view of AnalysisTemplates and ClusterAnalysisTemplates: informers whose caches answer the
// template lookups of reconciles, and whose events wake the Rollouts that name a template that changed.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { TemplateLookup } from "../analysis/templates/resolve.ts";
import { GROUP, TEMPLATE_PLURALS, type TemplateKind, VERSION } from "../api/constants.ts";
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

/**
 * Template caches. They do not hold up the controller's start (a cluster without the template CRDs still runs every
 * Rollout that names none); a Rollout that names a template before they have listed gets a retried reconcile
 * error, never a "not found" that would route its traffic.
 */
export class TemplateStore {
  readonly #namespaced: TemplateInformer[];
  readonly #cluster: TemplateInformer;

  constructor(o: TemplateStoreOptions) {
    const common = {
      clients: o.clients,
      logger: o.logger,
      ...(o.resyncPeriodMs !== undefined ? { resyncPeriodMs: o.resyncPeriodMs } : {}),
    };
    const resource = (kind: TemplateKind) => ({
      group: GROUP,
      version: VERSION,
      plural: TEMPLATE_PLURALS[kind],
    });
    const scopes = o.namespaces.length > 0 ? [...o.namespaces] : [undefined];
    this.#namespaced = scopes.map(
      (namespace) =>
        new Informer({
          ...common,
          ...(namespace ? { namespace } : {}),
          resource: resource("AnalysisTemplate"),
        }),
    );
    this.#cluster = new Informer({ ...common, resource: resource("ClusterAnalysisTemplate") });
    const watch = (inf: TemplateInformer, kind: TemplateKind) => {
      const wake = (t: KubernetesObject) => {
        for (const r of o.rollouts())
          if (names(r, kind, t.metadata?.namespace, t.metadata?.name ?? ""))
            o.enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
      };
      inf.onAdd(wake);
      inf.onUpdate((old, t) => {
        if (JSON.stringify(old.spec) !== JSON.stringify(t.spec)) wake(t);
      });
      inf.onDelete(wake);
    };
    for (const inf of this.#namespaced) watch(inf, "AnalysisTemplate");
    watch(this.#cluster, "ClusterAnalysisTemplate");
  }

  /** Starts the informers; they list and watch in the background. */
  start(): void {
    for (const inf of this.#all()) inf.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all().map((inf) => inf.stop()));
  }

  /**
   * The {@link TemplateLookup} reconciles use. A namespace outside the watched ones reads as no template.
   * @throws TemplatesNotReadyError while the informer for `kind` has not listed (the CRD missing, RBAC, start-up).
   */
  readonly lookup: TemplateLookup = (kind, namespace, name) => {
    const informers = kind === "ClusterAnalysisTemplate" ? [this.#cluster] : this.#namespaced;
    for (const inf of informers) {
      if (!inf.hasSynced()) {
        throw new TemplatesNotReadyError(
          `${kind}s are not listed yet: is the CRD ${TEMPLATE_PLURALS[kind]}.${GROUP} installed and readable by the controller?`,
        );
      }
      const found = inf.get(namespace ?? "", name);
      if (found) return found;
    }
    return undefined;
  };

  #all(): TemplateInformer[] {
    return [...this.#namespaced, this.#cluster];
  }
}

/** Whether `r`'s analysis names the template `kind` `namespace/name` (cluster templates have no namespace). */
function names(r: Rollout, kind: TemplateKind, namespace: string | undefined, name: string): boolean {
  const refs = (r.spec as { analysis?: { templates?: { kind?: string; name?: string }[] } } | undefined)
    ?.analysis?.templates;
  return (refs ?? []).some(
    (t) =>
      t.name === name &&
      (t.kind ?? "AnalysisTemplate") === kind &&
      (kind === "ClusterAnalysisTemplate" || r.metadata.namespace === namespace),
  );
}
