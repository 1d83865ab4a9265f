// Applies YAML manifests and CRDs to a cluster with server-side apply, and waits for CRDs to be Established.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { ResourceResolver, serverSideApply } from "./kube-request.ts";
import { waitFor } from "./wait.ts";

/** Field manager for everything the e2e harness applies, so its ownership is visible in managedFields. */
export const FIELD_MANAGER = "vireo-e2e";

/** Parses every non-empty YAML document in `path` into Kubernetes objects. */
export function readManifests(path: string): KubernetesObject[] {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  const objects: KubernetesObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const obj = doc.toJS() as KubernetesObject | null;
    if (obj && typeof obj === "object" && obj.kind) objects.push(obj);
  }
  return objects;
}

/** `*.yaml`/`*.yml` files directly in `dir`, sorted; empty when the dir does not exist. */
export function yamlFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/**
 * Server-side applies objects in order (force: the harness owns these fields), sending them byte-for-byte as
 * parsed (see kube-request.ts for why not KubernetesObjectApi). Idempotent, so re-running a start against an
 * existing cluster (VIREO_KUBECONFIG) just converges.
 */
export async function applyObjects(kc: KubeConfig, objects: KubernetesObject[]): Promise<KubernetesObject[]> {
  const resolver = new ResourceResolver(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of objects) {
    try {
      applied.push(await serverSideApply(kc, resolver, obj, FIELD_MANAGER));
    } catch (err) {
      throw new Error(`applying ${obj.kind} ${obj.metadata?.name}: ${describeApiError(err)}`);
    }
  }
  return applied;
}

/** Applies every manifest in a file. */
export async function applyFile(kc: KubeConfig, path: string): Promise<KubernetesObject[]> {
  return applyObjects(kc, readManifests(path));
}

/**
 * Installs every CustomResourceDefinition found in `dir/*.yaml` and waits until all are Established (their
 * REST endpoints served). Returns the CRD names. Non-CRD documents in the files are ignored.
 */
export async function installCrds(kc: KubeConfig, dir: string, timeoutMs = 30_000): Promise<string[]> {
  const crds = yamlFilesIn(dir)
    .flatMap(readManifests)
    .filter((o) => o.kind === "CustomResourceDefinition");
  return installCrdObjects(kc, crds, timeoutMs);
}

/** Installs the given CustomResourceDefinitions and waits until all are Established. Returns their names. */
export async function installCrdObjects(
  kc: KubeConfig,
  crds: KubernetesObject[],
  timeoutMs = 30_000,
): Promise<string[]> {
  // CRDs are independent of each other: apply them concurrently (serially this was ~1 s of start-up).
  const resolver = new ResourceResolver(kc);
  await Promise.all(
    crds.map((crd) =>
      serverSideApply(kc, resolver, crd, FIELD_MANAGER).catch((err: unknown) => {
        throw new Error(`applying CRD ${crd.metadata?.name}: ${describeApiError(err)}`);
      }),
    ),
  );
  const names = crds.map((c) => c.metadata!.name!);
  await waitForCrdsEstablished(kc, names, timeoutMs);
  return names;
}

/** Waits until every named CRD has condition Established=True. */
export async function waitForCrdsEstablished(
  kc: KubeConfig,
  names: string[],
  timeoutMs: number,
): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const pending = new Set(names);
  await waitFor(
    async () => {
      for (const name of [...pending]) {
        const crd = await api.readCustomResourceDefinition({ name });
        const established = crd.status?.conditions?.some(
          (c) => c.type === "Established" && c.status === "True",
        );
        if (established) pending.delete(name);
      }
      return pending.size === 0;
    },
    { what: `CRDs Established (${[...pending].join(", ")})`, timeoutMs, intervalMs: 100 },
  );
}

/** Best-effort readable message from a client-node ApiException (which carries the Status body). */
export function describeApiError(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  let body = e.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // keep the raw string
    }
  }
  const msg = (body as { message?: string } | undefined)?.message;
  return e.code ? `HTTP ${e.code}: ${msg ?? e.message}` : (e.message ?? String(err));
}
